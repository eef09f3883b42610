from __future__ import annotations

import math

import pytest
import torch

from scenelab.train.schedule import WarmupCosineSchedule, warmup_cosine_lr


def test_warmup_is_linear_and_cosine_matches_pytorch():
    base_lr, warmup, total = 0.4, 5, 25
    warmup_lrs = [warmup_cosine_lr(s, base_lr, warmup, total) for s in range(warmup)]
    assert warmup_lrs == pytest.approx([base_lr * k / warmup for k in range(1, warmup + 1)])

    # PyTorch's CosineAnnealingLR (eta_min 0) over the steps after warm-up.
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=base_lr)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total - warmup)
    reference = []
    for _ in range(total - warmup):
        reference.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        cosine.step()
    ours = [warmup_cosine_lr(s, base_lr, warmup, total) for s in range(warmup, total)]
    assert ours == pytest.approx(reference, rel=1e-9, abs=1e-12)
    assert warmup_cosine_lr(total, base_lr, warmup, total) == 0.0


def test_no_warmup_starts_at_base_lr():
    assert warmup_cosine_lr(0, 0.1, 0, 10) == 0.1
    assert warmup_cosine_lr(5, 0.1, 0, 10) == pytest.approx(0.05)


def test_weight_decay_is_off_during_warmup():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0, weight_decay=0.5)
    schedule = WarmupCosineSchedule(base_lr=1.0, weight_decay=1e-4, warmup_steps=3, total_steps=9)
    schedule.apply(optimizer, 2)
    assert optimizer.param_groups[0]["weight_decay"] == 0.0
    assert optimizer.param_groups[0]["lr"] == 1.0
    schedule.apply(optimizer, 3)
    assert optimizer.param_groups[0]["weight_decay"] == 1e-4
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5 * (1 + math.cos(0)))
