"""Projected gradient descent under an L-infinity budget, in pixel space, and FGSM.

Madry, Makelov, Schmidt, Tsipras and Vladu 2017, "Towards Deep Learning Models Resistant
to Adversarial Attacks": starting from x (or a uniform random point of the ball),

    x <- clip_[0,1]( x0 + clip_[-eps,eps]( x + step * sign(grad_x objective) - x0 ) )

`steps` times. Untargeted attacks ascend the cross-entropy of the true label; targeted
ones descend the cross-entropy of the target class. FGSM (Goodfellow, Shlens and Szegedy
2015) is the one-step case with step = eps; with a random start and step = 1.25 eps it is
Wong, Rice and Kolter 2020's "FGSM-RS" ("Fast is better than free").

Defaults mirror the study: 10 steps; epsilon 6/255, because the study's budget was 0.1 in
normalised units, and one normalised unit is one ImageNet standard deviation (about 0.23
in pixels), so 0.1 x 0.23 x 255 is about 6 grey levels; step size 2.5 eps / steps, the
rule of Madry et al.'s `robustness` library, which lets a walk from any point of the ball
reach its far side (capped at eps without a random start, where a longer step can only
overshoot). The study aimed at the least-likely class (`target="least_likely"`, the
default of `scenelab attack`); the library's default is untargeted, the stronger attack
and the usual measure of robust accuracy.

The model runs in eval mode with frozen parameters (see `scenelab.attacks.guard`); each
step takes the gradient with respect to the images only and keeps no graph, so memory is
that of one forward and backward pass whatever the number of steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from scenelab.attack_settings import (
    DEFAULT_EPSILON,
    DEFAULT_STEPS,
    FGSM_RS_STEP_FACTOR,
    default_step_size,
)
from scenelab.attacks.guard import check_pixel_model, check_pixels, frozen_eval
from scenelab.epsilon import check_epsilon
from scenelab.errors import ScenelabError

Target = Literal["untargeted", "least_likely"] | int


@dataclass
class AttackResult:
    """Adversarial images and what they did, one entry per sample.

    ``targets`` holds the class each sample was pushed towards (targeted) or away from (the
    true label, untargeted). ``success`` is prediction == target (targeted) or prediction
    != label (untargeted). ``logits`` are the model's outputs on ``images`` in eval mode.
    """

    images: torch.Tensor  # (N, C, H, W) in [0, 1]
    logits: torch.Tensor  # (N, classes)
    targets: torch.Tensor  # (N,) int64
    targeted: bool
    success: torch.Tensor  # (N,) bool
    linf: torch.Tensor  # (N,) max |x_adv - x|
    l2: torch.Tensor  # (N,) ||x_adv - x||_2


def pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilon: float = DEFAULT_EPSILON,
    step_size: float | None = None,
    steps: int = DEFAULT_STEPS,
    random_start: bool = True,
    restarts: int = 1,
    target: Target = "untargeted",
    generator: torch.Generator | None = None,
    allow_unnormalized: bool = False,
) -> AttackResult:
    """L-infinity PGD on [0, 1] pixels; returns the adversarial images and per-sample records.

    ``target``: ``"untargeted"`` (raise the true label's loss), ``"least_likely"`` (the
    lowest-scoring class on the clean input other than the true label, fixed for all
    steps: the study's choice) or a class index. ``restarts`` > 1 repeats the attack from
    new random starts and keeps, per sample, a successful run if any, else the one with
    the highest objective. ``generator`` draws the random starts (on the images' device).
    ``allow_unnormalized=True`` accepts a model whose first layer is not
    `scenelab.nn.Normalize`; only for models that take [0, 1] pixels some other way.
    The records cost one forward pass per restart; `pgd_images` skips them.
    """
    step_size, labels = _checked(
        model,
        images,
        labels,
        epsilon,
        step_size,
        steps,
        random_start,
        restarts,
        allow_unnormalized,
    )
    images = images.detach()
    with frozen_eval(model):
        targets, targeted = _choose_targets(model, images, labels, target)
        best_images, best_logits, best_success, best_objective = None, None, None, None
        for _ in range(restarts):
            adversarial = _pgd_walk(
                model, images, targets, targeted, epsilon, step_size, steps, random_start, generator
            )
            with torch.no_grad():
                logits = model(adversarial)
                success = _succeeded(logits, targets, targeted)
                objective = _objective(logits, targets, targeted)
            if best_images is None:
                best_images, best_logits = adversarial, logits
                best_success, best_objective = success, objective
                continue
            better = (success & ~best_success) | (
                (success == best_success) & (objective > best_objective)
            )
            best_images[better] = adversarial[better]
            best_logits[better] = logits[better]
            best_success = best_success | success
            best_objective = torch.where(better, objective, best_objective)
    perturbation = (best_images - images).flatten(1)
    return AttackResult(
        images=best_images,
        logits=best_logits,
        targets=targets,
        targeted=targeted,
        success=best_success,
        linf=perturbation.abs().amax(dim=1),
        l2=perturbation.norm(dim=1),
    )


def pgd_images(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilon: float = DEFAULT_EPSILON,
    step_size: float | None = None,
    steps: int = DEFAULT_STEPS,
    random_start: bool = True,
    target: Target = "untargeted",
    generator: torch.Generator | None = None,
    allow_unnormalized: bool = False,
) -> torch.Tensor:
    """Only the adversarial images of one `pgd` run: what adversarial training needs per batch.

    Same checks, eval mode and arguments as `pgd` (without restarts); no records, so no
    forward pass beyond the ``steps`` gradient passes (and, for ``"least_likely"`` or a
    class index, the clean pass that fixes the target). FGSM-RS (Wong et al. 2020) is
    ``steps=1, step_size=1.25 * epsilon, random_start=True``.
    """
    step_size, labels = _checked(
        model, images, labels, epsilon, step_size, steps, random_start, 1, allow_unnormalized
    )
    images = images.detach()
    with frozen_eval(model):
        targets, targeted = _choose_targets(model, images, labels, target)
        return _pgd_walk(
            model, images, targets, targeted, epsilon, step_size, steps, random_start, generator
        )


def fgsm(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilon: float = DEFAULT_EPSILON,
    step_size: float | None = None,
    random_start: bool = False,
    target: Target = "untargeted",
    generator: torch.Generator | None = None,
    allow_unnormalized: bool = False,
) -> AttackResult:
    """One signed-gradient step: FGSM (step = epsilon) or, with ``random_start``, FGSM-RS.

    The default step is epsilon without a random start (Goodfellow et al.) and 1.25
    epsilon with one (Wong et al. 2020). Arguments otherwise as for `pgd`.
    """
    if step_size is None:
        step_size = FGSM_RS_STEP_FACTOR * epsilon if random_start else epsilon
    return pgd(
        model,
        images,
        labels,
        epsilon=epsilon,
        step_size=step_size,
        steps=1,
        random_start=random_start,
        target=target,
        generator=generator,
        allow_unnormalized=allow_unnormalized,
    )


def least_likely_classes(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per row, the lowest-scoring class other than the row's label."""
    masked = logits.detach().clone()
    masked.scatter_(1, labels[:, None], float("inf"))
    return masked.argmin(dim=1)


def _checked(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilon: float,
    step_size: float | None,
    steps: int,
    random_start: bool,
    restarts: int,
    allow_unnormalized: bool,
) -> tuple[float, torch.Tensor]:
    """Check every argument; return the step size to use and the labels as int64."""
    check_pixel_model(model, allow_unnormalized)
    check_pixels(images)
    step_size = check_settings(epsilon, step_size, steps, random_start, restarts)
    if labels.shape != images.shape[:1]:
        raise ScenelabError(
            f"labels of shape {tuple(labels.shape)} do not match {images.shape[0]} images"
        )
    return step_size, labels.detach().to(images.device, torch.int64)


def check_settings(
    epsilon: float, step_size: float | None, steps: int, random_start: bool, restarts: int = 1
) -> float:
    """Raise ScenelabError for settings that make no attack; return the step size to use."""
    check_epsilon(epsilon)
    if steps < 1:
        raise ScenelabError(f"steps must be at least 1, got {steps}")
    if step_size is None:
        step_size = default_step_size(epsilon, steps, random_start)
    if step_size < 0:
        raise ScenelabError(f"step size must be non-negative, got {step_size:g}")
    if step_size > epsilon and not random_start:
        raise ScenelabError(
            f"step size {step_size:g} is larger than epsilon {epsilon:g} with no random "
            "start: every step would overshoot the epsilon-ball and be clipped back"
        )
    if restarts < 1:
        raise ScenelabError(f"restarts must be at least 1, got {restarts}")
    if restarts > 1 and not random_start:
        raise ScenelabError("restarts > 1 need a random start (otherwise every run is the same)")
    return step_size


def _choose_targets(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, target: Target
) -> tuple[torch.Tensor, bool]:
    if target == "untargeted":
        return labels, False
    if target != "least_likely" and (isinstance(target, bool) or not isinstance(target, int)):
        raise ScenelabError(
            f"target must be 'untargeted', 'least_likely' or a class index, got {target!r}"
        )
    with torch.no_grad():
        logits = model(images)
    num_classes = logits.shape[1]
    if target == "least_likely":
        if num_classes < 2:
            raise ScenelabError("a least-likely target needs a model with at least 2 classes")
        return least_likely_classes(logits, labels), True
    if not 0 <= target < num_classes:
        raise ScenelabError(f"target class {target} is out of range for {num_classes} classes")
    return torch.full_like(labels, target), True


def _pgd_walk(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    targeted: bool,
    epsilon: float,
    step_size: float,
    steps: int,
    random_start: bool,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """The PGD iteration; the model is already in eval mode with frozen parameters."""
    adversarial = images
    if random_start:
        noise = torch.empty_like(images).uniform_(-epsilon, epsilon, generator=generator)
        adversarial = (images + noise).clamp_(0, 1)
    direction = -step_size if targeted else step_size
    for _ in range(steps):
        adversarial = adversarial.detach().requires_grad_(True)
        loss = F.cross_entropy(model(adversarial), targets, reduction="sum")
        (gradient,) = torch.autograd.grad(loss, adversarial)
        with torch.no_grad():  # one new buffer per step; the projection works in place
            adversarial = torch.add(adversarial, gradient.sign_(), alpha=direction)
            adversarial.sub_(images).clamp_(-epsilon, epsilon).add_(images).clamp_(0, 1)
    return adversarial.detach()


def _succeeded(logits: torch.Tensor, targets: torch.Tensor, targeted: bool) -> torch.Tensor:
    predictions = logits.argmax(dim=1)
    return predictions == targets if targeted else predictions != targets


def _objective(logits: torch.Tensor, targets: torch.Tensor, targeted: bool) -> torch.Tensor:
    loss = F.cross_entropy(logits, targets, reduction="none")
    return -loss if targeted else loss
