"""Mixed precision when asked for (``--amp``; the default is off, full precision): bf16
autocast, fp16 with a gradient scaler on CUDA."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

from scenelab.errors import ScenelabError


def autocast_factory(device: torch.device, amp: str) -> Callable[[], AbstractContextManager]:
    """A function returning a fresh autocast context for each forward pass."""
    if amp == "off":
        return contextlib.nullcontext
    if amp == "fp16" and device.type != "cuda":
        raise ScenelabError("--amp fp16 needs a CUDA device; use --amp bf16 or off on the CPU")
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return lambda: torch.autocast(device.type, dtype=dtype)


def grad_scaler(device: torch.device, amp: str) -> torch.amp.GradScaler:
    """Loss scaling for fp16 only (bf16 has float32's range); disabled otherwise."""
    return torch.amp.GradScaler(device.type, enabled=amp == "fp16")
