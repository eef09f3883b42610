"""The first layer of every scenelab model: pixels in [0, 1] -> normalised input."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

# ImageNet statistics: what torchvision's pretrained weights expect, and close to
# MiniPlaces' own (`scenelab data stats` prints a dataset's).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Normalize(nn.Module):
    """(x - mean) / std per channel, so that callers only ever see [0, 1] pixels.

    Attacks, saliency and epsilons therefore live in pixel units. The statistics
    are buffers: they travel with the state dict and the device.
    """

    def __init__(
        self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        mean = ", ".join(f"{v:.3f}" for v in self.mean.flatten().tolist())
        std = ", ".join(f"{v:.3f}" for v in self.std.flatten().tolist())
        return f"mean=({mean}), std=({std})"
