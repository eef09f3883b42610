"""Mixed precision: bf16 autocast where the hardware runs it natively, fp16 with a
gradient scaler on CUDA, or plain float32."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager

import torch

from scenelab.errors import ScenelabError


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and torch.cpu._is_avx512_bf16_supported()
    return False


def default_amp(device: torch.device) -> str:
    """bf16 where supported (AVX512-BF16/AMX CPUs, Ampere+ GPUs), else off."""
    return "bf16" if bf16_supported(device) else "off"


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
