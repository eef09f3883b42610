"""Accuracy under attack: clean and adversarial top-1/top-k at one or more epsilons.

One pass over the data; every batch is attacked at every epsilon of the sweep, so the
images are decoded once. Epsilon 0 is the clean model (no attack is run for it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from scenelab.attack_settings import DEFAULT_STEPS, default_step_size
from scenelab.attacks.guard import check_pixel_model, frozen_eval
from scenelab.attacks.pgd import Target, pgd
from scenelab.errors import ScenelabError
from scenelab.topk import correct_top_k

TOP_K = 5


@dataclass
class RobustAccuracy:
    """Accuracies in percent over ``num_samples`` images at one epsilon.

    ``success_rate`` (percent): for a targeted attack, the share of images (whose label is
    not the target) classified as the target; untargeted, the share of the images the
    model got right that the attack made it get wrong.
    """

    epsilon: float
    step_size: float
    num_samples: int
    clean_top1: float
    clean_top5: float
    adversarial_top1: float
    adversarial_top5: float
    success_rate: float
    mean_linf: float
    mean_l2: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


class _Tally:
    def __init__(self) -> None:
        self.samples = self.top1 = self.top5 = 0
        self.successes = self.attempts = 0
        self.linf = self.l2 = 0.0


def robust_accuracy(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    epsilons: Sequence[float],
    steps: int = DEFAULT_STEPS,
    step_sizes: Sequence[float] | None = None,
    random_start: bool = True,
    restarts: int = 1,
    target: Target = "untargeted",
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
    allow_unnormalized: bool = False,
) -> list[RobustAccuracy]:
    """Clean and PGD accuracy at each epsilon, over ``(images, labels)`` batches.

    Images may be uint8 (converted to [0, 1] on ``device``, in the dtype of the model's
    parameters) or float pixels. ``step_sizes`` gives one step size per epsilon; None
    applies Madry et al.'s 2.5 epsilon / steps at each. Other arguments as for
    `scenelab.attacks.pgd`.
    """
    check_pixel_model(model, allow_unnormalized)
    if step_sizes is None:
        step_sizes = [default_step_size(epsilon, steps, random_start) for epsilon in epsilons]
    if len(step_sizes) != len(epsilons):
        raise ScenelabError(f"{len(step_sizes)} step sizes for {len(epsilons)} epsilons")
    dtype = next(model.parameters()).dtype
    clean = _Tally()
    tallies = [_Tally() for _ in epsilons]
    for images, labels in batches:
        images, labels = _to_pixels(images, device, dtype), labels.to(device)
        with torch.no_grad(), frozen_eval(model):
            clean_logits = model(images)
        clean_correct = _count_correct(clean_logits, labels, clean)
        for epsilon, step, tally in zip(epsilons, step_sizes, tallies, strict=True):
            if epsilon == 0:
                _count_correct(clean_logits, labels, tally)
                continue
            result = pgd(
                model,
                images,
                labels,
                epsilon=epsilon,
                step_size=step,
                steps=steps,
                random_start=random_start,
                restarts=restarts,
                target=target,
                generator=generator,
                allow_unnormalized=allow_unnormalized,
            )
            _count_correct(result.logits, labels, tally)
            counted = result.targets != labels if result.targeted else clean_correct
            tally.successes += int(result.success[counted].sum())
            tally.attempts += int(counted.sum())
            tally.linf += float(result.linf.sum())
            tally.l2 += float(result.l2.sum())
    return [
        RobustAccuracy(
            epsilon=epsilon,
            step_size=step,
            num_samples=clean.samples,
            clean_top1=_percent(clean.top1, clean.samples),
            clean_top5=_percent(clean.top5, clean.samples),
            adversarial_top1=_percent(tally.top1, tally.samples),
            adversarial_top5=_percent(tally.top5, tally.samples),
            success_rate=_percent(tally.successes, tally.attempts),
            mean_linf=tally.linf / max(tally.samples, 1),
            mean_l2=tally.l2 / max(tally.samples, 1),
        )
        for epsilon, step, tally in zip(epsilons, step_sizes, tallies, strict=True)
    ]


def _to_pixels(
    images: torch.Tensor, device: str | torch.device, dtype: torch.dtype
) -> torch.Tensor:
    images = images.to(device, non_blocking=True)
    return images.to(dtype).div_(255) if images.dtype == torch.uint8 else images


def _count_correct(logits: torch.Tensor, labels: torch.Tensor, tally: _Tally) -> torch.Tensor:
    """Add top-1/top-k hits to ``tally``; return the per-sample top-1 hits."""
    top1 = logits.argmax(dim=1) == labels
    tally.samples += labels.numel()
    tally.top1 += int(top1.sum())
    tally.top5 += int(correct_top_k(logits, labels, (TOP_K,))[0])
    return top1


def _percent(count: int, total: int) -> float:
    return 100.0 * count / total if total else float("nan")
