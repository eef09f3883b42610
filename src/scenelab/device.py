"""Which device a command runs on, and how much memory it has used there."""

from __future__ import annotations

import torch

from scenelab.errors import ScenelabError
from scenelab.memory import peak_rss_mib


def pick_device(name: str) -> torch.device:
    """``auto`` (CUDA where available, else the CPU) or a device name, checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ScenelabError(
            f"--device {name!r} is not a device (auto, cpu, cuda, cuda:N)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ScenelabError(f"--device {name}: CUDA is not available here")
    return device


def peak_memory_mib(device: torch.device) -> float:
    """Max allocated on CUDA since the last reset; the process's peak RSS on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mib()
