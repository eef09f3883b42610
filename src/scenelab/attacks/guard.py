"""The state every probe of a model (attack, saliency map) runs in, and its checks.

Three traps of attack and attribution libraries are closed here once, for both
`scenelab.attacks` and `scenelab.explain`:

- normalisation applied twice or never: scenelab models take [0, 1] pixels and start
  with `scenelab.nn.Normalize`, so epsilons and noise levels are in pixel units. A model
  whose first layer is anything else is refused unless the caller says, with
  ``allow_unnormalized=True``, that it really takes [0, 1] pixels some other way;
- BatchNorm statistics updated and dropout active during an attack: the model runs in
  eval mode and every submodule gets back its own previous mode afterwards (a model in
  train mode with a frozen BatchNorm stays exactly that way);
- parameter gradients left behind in ``.grad`` or graphs built for them: parameters stop
  requiring gradients for the duration, and callers take ``torch.autograd.grad`` with
  respect to the inputs only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from scenelab.errors import ScenelabError
from scenelab.nn.normalize import Normalize


def check_pixel_model(model: nn.Module, allow_unnormalized: bool = False) -> None:
    """Raise ScenelabError unless the first layer is `Normalize` (or the caller opts out)."""
    if allow_unnormalized:
        return
    first = next((m for m in model.modules() if not list(m.children())), None)
    if not isinstance(first, Normalize):
        found = type(first).__name__ if first is not None else "nothing"
        raise ScenelabError(
            f"the model's first layer is {found}, not scenelab.nn.Normalize: attacks and "
            "saliency take [0, 1] pixels and need the normalisation inside the model "
            "(wrap it as nn.Sequential(Normalize(mean, std), model)); pass "
            "allow_unnormalized=True only if the model already takes [0, 1] pixels"
        )


def check_pixels(images: torch.Tensor) -> None:
    """Raise ScenelabError unless ``images`` is a float (N, C, H, W) batch inside [0, 1]."""
    if not images.is_floating_point() or images.dim() != 4:
        raise ScenelabError(
            f"expected a float (N, C, H, W) batch of [0, 1] pixels, got {images.dtype} "
            f"of shape {tuple(images.shape)} (uint8 batches: x.float().div(255))"
        )
    if not images.numel():
        return
    low, high = torch.aminmax(images)
    if bool((low < 0) | (high > 1)):  # one device synchronisation
        raise ScenelabError(
            f"pixels must lie in [0, 1], got [{low.item():.3g}, {high.item():.3g}]: "
            "pass pixels, not normalised input"
        )


@contextmanager
def frozen_eval(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no parameter gradients inside the block; each module's state restored after."""
    modes = [(module, module.training) for module in model.modules()]
    grads = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for parameter, _ in grads:
        parameter.requires_grad_(False)
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
        for parameter, requires_grad in grads:
            parameter.requires_grad_(requires_grad)
