"""Weights read from a file: why torch.load refused them, and how a state dict misfits a model.

Kept apart from checkpoints so that the model builders (``--pretrained``) and the
checkpoint loader, which builds models, both use it without importing each other.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from scenelab.errors import ScenelabError


def describe_load_error(error: Exception) -> str:
    """torch.load's long error in one line; a refused pickle says what it asked for."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    wanted = next((line for line in lines if "GLOBAL" in line), None)
    if wanted is not None:
        return (
            "refused: it holds pickled objects, not just tensors and plain data, and "
            f"loading it could run code ({wanted.rstrip('.')}). scenelab loads checkpoints "
            "with weights_only=True and never runs code from them"
        )
    detail = next((line for line in lines if "Unsupported" in line), lines[0] if lines else "")
    return f"not a readable checkpoint (corrupt, truncated or another format): {detail}".split(
        ". "
    )[0]


NAMED_KEYS = 8  # how many keys of each kind a mismatch names


def describe_state_mismatch(expected: dict[str, torch.Tensor], given: dict[str, Any]) -> str:
    """What keeps the state dict ``given`` from fitting a model whose own is ``expected``,
    on one line (keys missing, keys extra, shapes that differ; a few of each); "" if it fits."""
    missing = sorted(expected.keys() - given.keys())
    unexpected = sorted(given.keys() - expected.keys())
    wrong_shape = sorted(
        f"{key}: file {_shape(given[key])}, model {tuple(expected[key].shape)}"
        for key in expected.keys() & given.keys()
        if _shape(given[key]) != tuple(expected[key].shape)
    )
    parts = []
    for title, keys in (
        ("missing from the file", missing),
        ("not in the model", unexpected),
        ("shape differs", wrong_shape),
    ):
        if keys:
            more = f", ... and {len(keys) - NAMED_KEYS} more" if len(keys) > NAMED_KEYS else ""
            parts.append(f"{len(keys)} {title}: {', '.join(keys[:NAMED_KEYS])}{more}")
    return "; ".join(parts)


def _shape(value: Any) -> tuple[int, ...] | str:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


def load_weights(model: nn.Module, weights: dict[str, Any], source: str) -> None:
    """``model.load_state_dict(weights)``, or a ScenelabError saying, after ``source``,
    which keys and shapes do not fit."""
    mismatch = describe_state_mismatch(model.state_dict(), weights)
    if mismatch:
        raise ScenelabError(f"{source}: {mismatch}")
    model.load_state_dict(weights)
