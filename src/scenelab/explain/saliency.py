"""Saliency maps: which input pixels move a class score.

- ``gradient``: Simonyan, Vedaldi and Zisserman 2014, "Deep Inside Convolutional
  Networks": |d S_c / d x|, the largest over the colour channels.
- ``smoothgrad``: Smilkov, Thorat, Kim, Viegas and Wattenberg 2017: the mean of |d S_c / d x|
  over ``samples`` copies of x + N(0, sigma^2), sigma = ``noise`` x (max x - min x) per
  image (they recommend 10-20 % of the input range and about 50 samples); then the
  channel maximum.
- ``integrated_gradients``: Sundararajan, Taly and Yan 2017, "Axiomatic Attribution for Deep
  Networks": (x - x') * integral_0^1 dS_c/dx(x' + a (x - x')) da, by Gauss-Legendre quadrature
  with ``steps`` nodes (Captum's default rule); the completeness gap
  sum(attribution) - (S_c(x) - S_c(x')) measures the quadrature error.

S_c is the logit of class c (``score="logit"``, Simonyan's choice) or the cross-entropy loss
of class c (``score="loss"``, the study's variant); c is the predicted class unless a
target is given. The model runs in eval mode with frozen parameters and is restored
afterwards (`scenelab.attacks.guard`); gradients are taken with respect to the inputs
only; at most ``batch_size`` inputs (noisy copies and path points included) go through
the model at once, so memory does not grow with ``samples`` or ``steps``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scenelab.attacks.guard import check_pixel_model, check_pixels, frozen_eval
from scenelab.errors import ScenelabError
from scenelab.progress import progress

Score = Literal["logit", "loss"]
TargetSpec = int | torch.Tensor | None

BATCH_SIZE = 64
SMOOTHGRAD_NOISE = 0.15
SMOOTHGRAD_SAMPLES = 50
INTEGRATED_GRADIENTS_STEPS = 50


def saliency(
    model: nn.Module,
    images: torch.Tensor,
    target: TargetSpec = None,
    method: str = "gradient",
    **options: Any,
) -> torch.Tensor:
    """(N, 1, H, W) saliency maps of [0, 1] ``images``: |attribution|, max over channels.

    ``method`` is ``"gradient"``, ``"smoothgrad"`` or ``"integrated_gradients"``;
    ``options`` are the keyword arguments of the function of that name in this module
    (``score``, ``batch_size``, ``allow_unnormalized``; ``noise``, ``samples`` and
    ``generator`` for SmoothGrad; ``baseline`` and ``steps`` for Integrated Gradients,
    whose completeness gap `integrated_gradients` returns as well).
    """
    if method not in METHODS:
        raise ScenelabError(f"unknown saliency method {method!r}; choose from {sorted(METHODS)}")
    function = METHODS[method]
    allowed = list(inspect.signature(function).parameters)[3:]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ScenelabError(
            f"saliency method {method!r} takes no option {', '.join(unknown)}; "
            f"it takes {', '.join(allowed)}"
        )
    attributions = function(model, images, target, **options)
    if method == "integrated_gradients":
        attributions = attributions[0]
    return channel_max_abs(attributions)


def channel_max_abs(attributions: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 1, H, W): the largest |value| over the channels (Simonyan et al.)."""
    return attributions.abs().amax(dim=1, keepdim=True)


def gradient(
    model: nn.Module,
    images: torch.Tensor,
    target: TargetSpec = None,
    score: Score = "logit",
    batch_size: int = BATCH_SIZE,
    allow_unnormalized: bool = False,
) -> torch.Tensor:
    """d S_c / d x, shape (N, C, H, W)."""
    with _probing(model, images, allow_unnormalized, batch_size):
        targets = _resolve_targets(model, images, target, batch_size)
        return _input_gradients(model, images, targets, score, batch_size)


def smoothgrad(
    model: nn.Module,
    images: torch.Tensor,
    target: TargetSpec = None,
    score: Score = "logit",
    noise: float = SMOOTHGRAD_NOISE,
    samples: int = SMOOTHGRAD_SAMPLES,
    generator: torch.Generator | None = None,
    batch_size: int = BATCH_SIZE,
    allow_unnormalized: bool = False,
) -> torch.Tensor:
    """Mean of |d S_c / d x| over noisy copies, shape (N, C, H, W).

    Noise is drawn with ``generator`` as ``randn((n * samples, C, H, W))``, the copies of
    one image consecutive, in chunks of ``batch_size // samples`` images (the layout of
    Captum's NoiseTunnel when one chunk holds the whole batch).
    """
    if not 0 <= noise < math.inf or samples < 1:  # `not` also refuses NaN
        raise ScenelabError(f"SmoothGrad needs noise >= 0 and samples >= 1, got {noise}, {samples}")
    with _probing(model, images, allow_unnormalized, batch_size):
        targets = _resolve_targets(model, images, target, batch_size)
        sigma = noise * (images.amax(dim=(1, 2, 3)) - images.amin(dim=(1, 2, 3)))
        result = torch.empty_like(images)
        chunk = max(1, batch_size // samples)
        for start in progress(range(0, len(images), chunk), "SmoothGrad", unit="chunk"):
            part = slice(start, start + chunk)
            copies = images[part].repeat_interleave(samples, dim=0)
            draws = torch.randn(
                copies.shape, generator=generator, device=copies.device, dtype=copies.dtype
            )
            noisy = copies + draws * sigma[part].repeat_interleave(samples).view(-1, 1, 1, 1)
            grads = _input_gradients(
                model, noisy, targets[part].repeat_interleave(samples), score, batch_size
            )
            result[part] = grads.abs().view(-1, samples, *images.shape[1:]).mean(dim=1)
        return result


def integrated_gradients(
    model: nn.Module,
    images: torch.Tensor,
    target: TargetSpec = None,
    score: Score = "logit",
    baseline: float | torch.Tensor = 0.0,
    steps: int = INTEGRATED_GRADIENTS_STEPS,
    batch_size: int = BATCH_SIZE,
    allow_unnormalized: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attributions (N, C, H, W) and the completeness gap (N,) from ``baseline`` (black)."""
    if steps < 1:
        raise ScenelabError(f"Integrated Gradients needs steps >= 1, got {steps}")
    with _probing(model, images, allow_unnormalized, batch_size):
        targets = _resolve_targets(model, images, target, batch_size)
        baselines = torch.as_tensor(baseline, dtype=images.dtype, device=images.device)
        baselines = baselines.expand_as(images)
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        alphas = torch.tensor(0.5 * (1 + nodes), dtype=images.dtype, device=images.device)
        weights = torch.tensor(0.5 * weights, dtype=images.dtype, device=images.device)
        path_integral = torch.zeros_like(images)
        chunk = max(1, batch_size // steps)
        chunks = range(0, len(images), chunk)
        for start in progress(chunks, "Integrated Gradients", unit="chunk"):
            part = slice(start, start + chunk)
            origin, difference = baselines[part], images[part] - baselines[part]
            points = origin[None] + alphas.view(-1, 1, 1, 1, 1) * difference[None]
            grads = _input_gradients(
                model, points.flatten(0, 1), targets[part].repeat(steps), score, batch_size
            )
            grads = grads.view(steps, -1, *images.shape[1:])
            path_integral[part] = (weights.view(-1, 1, 1, 1, 1) * grads).sum(dim=0)
        attributions = path_integral * (images - baselines)
        with torch.no_grad():
            rise = _scores(model, images, targets, score, batch_size) - _scores(
                model, baselines, targets, score, batch_size
            )
        return attributions, attributions.flatten(1).sum(dim=1) - rise


METHODS: dict[str, Callable[..., Any]] = {
    "gradient": gradient,
    "smoothgrad": smoothgrad,
    "integrated_gradients": integrated_gradients,
}


def predicted_classes(
    model: nn.Module, images: torch.Tensor, batch_size: int = BATCH_SIZE
) -> torch.Tensor:
    """Top-1 classes of [0, 1] ``images`` in eval mode, ``batch_size`` at a time."""
    with torch.no_grad(), frozen_eval(model):
        return torch.cat([model(part).argmax(dim=1) for part in images.split(batch_size)])


@contextmanager
def _probing(
    model: nn.Module, images: torch.Tensor, allow_unnormalized: bool, batch_size: int
) -> Iterator[None]:
    """Check the arguments, then run the block in eval mode with frozen parameters."""
    check_pixel_model(model, allow_unnormalized)
    check_pixels(images)
    if batch_size < 1:
        raise ScenelabError(f"batch size must be at least 1, got {batch_size}")
    with frozen_eval(model):
        yield


def _resolve_targets(
    model: nn.Module, images: torch.Tensor, target: TargetSpec, batch_size: int
) -> torch.Tensor:
    if target is None:
        return predicted_classes(model, images, batch_size)
    targets = torch.as_tensor(target, device=images.device).to(torch.int64)
    if targets.dim() == 0:
        targets = targets.expand(len(images))
    if targets.shape != images.shape[:1]:
        raise ScenelabError(f"{targets.numel()} targets for {len(images)} images")
    with torch.no_grad():
        num_classes = model(images[:1]).shape[1]
    if targets.numel() and not 0 <= int(targets.min()) <= int(targets.max()) < num_classes:
        raise ScenelabError(f"target classes must lie in [0, {num_classes}), got {target}")
    return targets


def _class_scores(logits: torch.Tensor, targets: torch.Tensor, score: Score) -> torch.Tensor:
    if score == "logit":
        return logits.gather(1, targets[:, None]).squeeze(1)
    if score == "loss":
        return F.cross_entropy(logits, targets, reduction="none")
    raise ScenelabError(f"score must be 'logit' or 'loss', got {score!r}")


def _scores(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, score: Score, batch_size: int
) -> torch.Tensor:
    return torch.cat(
        [
            _class_scores(model(part), part_targets, score)
            for part, part_targets in zip(
                inputs.split(batch_size), targets.split(batch_size), strict=True
            )
        ]
    )


def _input_gradients(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, score: Score, batch_size: int
) -> torch.Tensor:
    """d score / d input for each input, ``batch_size`` inputs per forward/backward pass."""
    gradients = torch.empty_like(inputs)
    for start in range(0, len(inputs), batch_size):
        part = inputs[start : start + batch_size].detach().requires_grad_(True)
        scores = _class_scores(model(part), targets[start : start + batch_size], score)
        (gradients[start : start + batch_size],) = torch.autograd.grad(scores.sum(), part)
    return gradients
