"""CustomConv2d: nn.Conv2d whose forward runs scenelab's im2col/matmul/col2im convolution."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from scenelab.ops.conv import conv2d


class CustomConv2d(nn.Conv2d):
    """Same constructor, initialisation and state_dict keys as ``nn.Conv2d``.

    Only zero padding is supported (``padding_mode="zeros"``), as in every model
    of the study; other modes raise ``ValueError``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.padding_mode != "zeros":
            raise ValueError(
                f"CustomConv2d supports padding_mode='zeros' only, got {self.padding_mode!r}"
            )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


def _swap(conv: nn.Conv2d, cls: type[nn.Conv2d]) -> nn.Conv2d:
    """A ``cls`` instance that shares ``conv``'s parameters, buffers and hooks."""
    swapped = cls.__new__(cls)
    swapped.__dict__ = conv.__dict__.copy()  # the same parameter and buffer dicts
    return swapped


def convert_convs(model: nn.Module, to: Literal["custom", "native"] = "custom") -> nn.Module:
    """Swap every ``nn.Conv2d`` of ``model`` in place for ``CustomConv2d`` or back.

    The parameters themselves are kept (the same tensors), so an optimizer built
    before the swap keeps working and state dicts stay interchangeable.
    Returns ``model`` for chaining.
    """
    if to not in ("custom", "native"):
        raise ValueError(f"to must be 'custom' or 'native', got {to!r}")
    target = CustomConv2d if to == "custom" else nn.Conv2d
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv2d) and type(child) is not target:
                if to == "custom" and child.padding_mode != "zeros":
                    raise ValueError(
                        f"cannot convert {name}: padding_mode={child.padding_mode!r} (zeros only)"
                    )
                setattr(parent, name, _swap(child, target))
    if isinstance(model, nn.Conv2d) and type(model) is not target:
        raise ValueError("convert_convs swaps the convolutions inside a model; got a bare Conv2d")
    return model
