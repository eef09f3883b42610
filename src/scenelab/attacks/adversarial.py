"""Adversarial training: the per-batch adversary, robust validation, and a guard against
catastrophic overfitting.

- ``--adv pgd``: Madry et al. 2017 train on L-infinity PGD examples made on the fly for
  every batch (the study used 5 steps), from a uniform random start, step 2.5 eps / steps.
- ``--adv fgsm-rs``: Wong, Rice and Kolter 2020, "Fast is better than free": one FGSM step
  of 1.25 eps from a uniform random start in the eps-ball, then projection.

The examples are made with the model in eval mode (`scenelab.attacks.pgd_images` does that
and restores it); the training forward then runs in train mode on them.

Every epoch the engine also measures robust accuracy: 10-step untargeted PGD at the
training epsilon on a fixed held-out set (the first ``ROBUST_VAL_IMAGES`` val images, same
random starts every epoch). FGSM training can fail suddenly ("catastrophic overfitting",
Wong et al. section 4): within an epoch, PGD accuracy falls to ~0 while clean accuracy
keeps rising. `collapse_reason` detects it from the metrics rows so that the engine can
stop; with ``--adv``, best.pt is the epoch with the highest robust accuracy (Rice, Wong and
Kolter 2020, "Overfitting in adversarially robust deep learning": stop early on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from scenelab.attacks.pgd import pgd_images
from scenelab.attacks.robust import robust_accuracy

if TYPE_CHECKING:
    from scenelab.config import RunConfig

ROBUST_VAL_IMAGES = 512  # ~11 forward+backward passes each: a quarter of miniplaces20's val
ROBUST_VAL_STEPS = 10
# Catastrophic overfitting: robust top-1 below half its best so far and at least 5 points
# under it (512 images give a standard error of ~2 points), or, in single-step training,
# ~0 while clean top-1 is at least 3x chance. A multi-step PGD model whose untargeted
# robust top-1 is still ~0 has not collapsed: it has not become robust to that check yet
# (digits at 36/255, PGD least-likely: 0.0%, 4.4%, 0.8% while clean rose to 55%).
COLLAPSE_FRACTION = 0.5
COLLAPSE_MIN_DROP = 5.0  # percentage points
NEAR_ZERO_TOP1 = 1.0  # percent
CLEAN_OK_OVER_CHANCE = 3.0


@dataclass(frozen=True)
class Adversary:
    """Makes the adversarial version of a training batch (pixels in, pixels out)."""

    epsilon: float
    step_size: float
    steps: int
    random_start: bool
    target: str

    def __call__(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        return pgd_images(
            model,
            images,
            labels,
            epsilon=self.epsilon,
            step_size=self.step_size,
            steps=self.steps,
            random_start=self.random_start,
            target=self.target,
        )


def build_adversary(config: RunConfig) -> Adversary | None:
    """The adversary of a resolved config, or None for ``--adv none``."""
    if config.adv == "none":
        return None
    return Adversary(
        epsilon=config.adv_epsilon,
        step_size=config.adv_step_size,
        steps=config.adv_steps,
        random_start=config.adv_random_start,
        target=config.adv_target,
    )


class RobustValidation:
    """Clean and PGD top-1/top-5 on a fixed held-out set, measured once per epoch."""

    def __init__(self, dataset: torch.utils.data.Dataset, epsilon: float, seed: int) -> None:
        count = min(ROBUST_VAL_IMAGES, len(dataset))
        samples = [dataset[index] for index in range(count)]
        self.images = torch.stack([image for image, _ in samples])  # uint8, as loaded
        self.labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
        self.epsilon, self.seed = epsilon, seed

    def measure(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """``val_robust_top1`` and ``val_robust_top5`` in percent (10-step untargeted PGD)."""
        generator = torch.Generator(device).manual_seed(self.seed)  # same starts every epoch
        (result,) = robust_accuracy(
            model,
            [(self.images, self.labels)],
            [self.epsilon],
            steps=ROBUST_VAL_STEPS,
            target="untargeted",
            generator=generator,
            device=device,
        )
        return {
            "val_robust_top1": result.adversarial_top1,
            "val_robust_top5": result.adversarial_top5,
        }


def collapse_reason(rows: list[dict[str, Any]], num_classes: int, adv: str) -> str | None:
    """Why the last epoch of ``rows`` (a run trained with ``--adv adv``) shows catastrophic
    overfitting, or None.

    Collapse: robust top-1 below ``COLLAPSE_FRACTION`` of its best over the earlier epochs
    and at least ``COLLAPSE_MIN_DROP`` points under it, or, with single-step ``fgsm-rs``
    (where Wong et al. saw it happen within an epoch), below ``NEAR_ZERO_TOP1`` percent while
    clean top-1 is at least ``CLEAN_OK_OVER_CHANCE`` times chance.
    """
    *earlier, last = rows
    robust, clean = last["val_robust_top1"], last["val_top1"]
    best = max(earlier, key=lambda row: row["val_robust_top1"], default=None)
    if best is not None and robust < min(
        COLLAPSE_FRACTION * best["val_robust_top1"], best["val_robust_top1"] - COLLAPSE_MIN_DROP
    ):
        return (
            f"robust val top-1 fell to {robust:.2f}% from {best['val_robust_top1']:.2f}% "
            f"(epoch {best['epoch']}), below {COLLAPSE_FRACTION:.0%} of its best"
        )
    chance = 100.0 / num_classes
    single_step = adv == "fgsm-rs"
    if single_step and robust < NEAR_ZERO_TOP1 and clean >= CLEAN_OK_OVER_CHANCE * chance:
        return (
            f"robust val top-1 is {robust:.2f}% while clean val top-1 is {clean:.2f}% "
            f"({clean / chance:.1f}x chance)"
        )
    return None
