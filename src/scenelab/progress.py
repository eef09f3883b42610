"""Progress bars of the commands other than training (eval, attack, SmoothGrad and
Integrated Gradients saliency, reproduce): tqdm on standard error when it is a terminal
and the console shows progress (not under --quiet), nothing otherwise, so logs and piped
output stay as they were."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

from scenelab.log import console_shows

Item = TypeVar("Item")


def progress(items: Iterable[Item], label: str, unit: str = "batch") -> Iterator[Item]:
    """``items``, one by one, counted on a bar named ``label`` while a terminal shows it."""
    total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    bar = tqdm(
        items,
        desc=label,
        total=total,
        unit=unit,
        file=sys.stderr,
        leave=False,
        disable=not (sys.stderr.isatty() and console_shows(logging.INFO)),
    )
    yield from bar
