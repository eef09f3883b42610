"""The study's learning-rate schedule: linear warm-up, then cosine decay to zero,
both stepped per iteration.

Warm-up: Goyal et al., "Accurate, Large Minibatch SGD" (2017), with weight decay
off while it lasts. Cosine: Loshchilov & Hutter, "SGDR" (ICLR 2017), without restarts:
lr(t) = base_lr * (1 + cos(pi * t / T)) / 2 over the T steps after warm-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def warmup_cosine_lr(step: int, base_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Learning rate of optimizer step ``step`` (0-based) of ``total_steps``.

    Warm-up rises linearly to ``base_lr`` at its last step; the cosine part then
    starts at ``base_lr`` and reaches zero after the last step.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = total_steps - warmup_steps
    progress = (step - warmup_steps) / decay_steps if decay_steps else 1.0
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


@dataclass
class WarmupCosineSchedule:
    """Sets the learning rate and weight decay of every parameter group, step by step."""

    base_lr: float
    weight_decay: float
    warmup_steps: int
    total_steps: int

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        lr = warmup_cosine_lr(step, self.base_lr, self.warmup_steps, self.total_steps)
        weight_decay = 0.0 if step < self.warmup_steps else self.weight_decay
        for group in optimizer.param_groups:
            group["lr"] = lr
            group["weight_decay"] = weight_decay
        return lr

    def state_dict(self) -> dict[str, float | int]:
        return {
            "base_lr": self.base_lr,
            "weight_decay": self.weight_decay,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        """Continue the schedule a checkpoint ran (`state_dict`'s values)."""
        self.base_lr = float(state["base_lr"])
        self.weight_decay = float(state["weight_decay"])
        self.warmup_steps = int(state["warmup_steps"])
        self.total_steps = int(state["total_steps"])
