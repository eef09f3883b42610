"""One training step, one pass of evaluation, and the sums an epoch keeps on the device.

Images come from the loader as uint8 and become [0, 1] floats on the device; the model's
own Normalize layer does the rest (docs/design.md). Nothing here reads a tensor back to
the host: losses, counts and gradient norms stay where they were computed.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
import torch.nn.functional as F
from torch import nn

from scenelab.topk import correct_top_k
from scenelab.train.distributed import World, gradient_sync, sum_across

TOP_K = (1, 5)


def to_model_input(
    images: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
) -> torch.Tensor:
    """uint8 (B, 3, H, W) from the loader -> [0, 1] ``dtype`` on ``device``. The loader of
    a channels_last run delivers that layout already; otherwise it changes here, while the
    pixels are still bytes (a quarter of the copy)."""
    images = images.to(device, non_blocking=True)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images.to(dtype).div_(255)


def train_step(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    autocast: Callable[[], AbstractContextManager],
    make_inputs: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    grad_clip: float | None = None,
    *,
    index: int = 0,
    group_size: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One batch of an optimizer step on [0, 1] float images: the ``index``-th of the
    ``group_size`` batches whose gradients are summed into one step (--accum-steps; one by
    default). Returns the (detached) loss of this batch, its logits and, after the group's
    last batch (the one that steps), the total gradient L2 norm (else None, and None with
    fp16 loss scaling, whose scaler skips non-finite steps).

    Each batch's loss is divided by ``group_size``, so that the step follows the mean loss
    of the group's samples, as one batch ``group_size`` times larger would. Under DDP the
    gradients are all-reduced once per group, on its last batch.

    ``make_inputs(images, labels)``, if given, replaces the batch first (adversarial
    training: it makes the examples in eval mode; the forward below runs in train mode).
    Gradients whose total L2 norm exceeds ``grad_clip`` are scaled down to it. The norm is
    not read here: the caller's `scenelab.train.guard.StepGuard` checks it later.
    """
    if make_inputs is not None:
        with autocast():
            images = make_inputs(images, labels)
    steps = index == group_size - 1
    if index == 0:
        optimizer.zero_grad(set_to_none=True)
    with gradient_sync(model, steps):  # DDP decides in forward whether backward all-reduces
        with autocast():
            logits = model(images)
            loss = loss_fn(logits, labels)
        scaler.scale(loss / group_size if group_size > 1 else loss).backward()
    if not steps:
        return loss.detach(), logits.detach(), None
    scaler.unscale_(optimizer)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    grads = [p.grad for p in parameters if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads)
    if grad_clip is not None:
        torch.nn.utils.clip_grads_with_norm_(parameters, grad_clip, norm)
    scaler.step(optimizer)
    scaler.update()
    return loss.detach(), logits.detach(), None if scaler.is_enabled() else norm.detach()


class Totals:
    """Sums over the samples seen so far in an epoch: the sample count on the host, the
    loss sum (float64) and top-1/top-5 counts on the device until `read`."""

    def __init__(
        self,
        device: torch.device,
        samples: int = 0,
        loss_sum: float = 0.0,
        correct1: int = 0,
        correct5: int = 0,
    ) -> None:
        self.samples = samples
        self.loss_sum = torch.tensor(loss_sum, dtype=torch.float64, device=device)
        self.correct = torch.tensor([correct1, correct5], dtype=torch.int64, device=device)

    def add(self, mean_loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        self.samples += len(labels)
        self.loss_sum += mean_loss.double() * len(labels)
        self.correct += correct_top_k(logits, labels, TOP_K)

    def read(self) -> dict[str, float | int]:
        """The sums as numbers (one read from the device, none for an epoch not yet
        started), the checkpoint's "epoch_totals"."""
        if self.samples == 0:
            return {"samples": 0, "loss_sum": 0.0, "correct1": 0, "correct5": 0}
        loss_sum, correct1, correct5 = torch.cat([self.loss_sum.view(1), self.correct]).tolist()
        return {
            "samples": self.samples,
            "loss_sum": loss_sum,
            "correct1": round(correct1),
            "correct5": round(correct5),
        }

    def metrics(self, prefix: str, world: World, device: torch.device) -> dict[str, float]:
        """Loss and top-1/top-5 percentages over every process's samples."""
        local = self.read()
        samples, loss_sum, correct1, correct5 = sum_across(world, list(local.values()), device)
        count = max(round(samples), 1)
        return {
            f"{prefix}_loss": loss_sum / count,
            f"{prefix}_top1": 100.0 * round(correct1) / count,
            f"{prefix}_top5": 100.0 * round(correct5) / count,
        }


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    channels_last: bool = False,
) -> Totals:
    """Cross-entropy (without label smoothing) and top-1/top-5 counts over ``loader``, in
    the run's dtype without autocast, as `scenelab eval` computes them (float32 by default),
    so that metrics.csv and eval.json agree whatever --amp trained with."""
    was_training = model.training
    model.eval()
    totals = Totals(device)
    for images, labels in loader:
        labels = labels.to(device, non_blocking=True)
        logits = model(to_model_input(images, device, dtype, channels_last))
        totals.add(F.cross_entropy(logits.float(), labels), logits, labels)
    model.train(was_training)
    return totals
