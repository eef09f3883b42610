"""The values a numeric setting may take, and how a message says so (no torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Bounds:
    """The values a numeric setting may take: finite, above ``low`` (or at it unless
    ``low_open``), below ``high`` (or at it unless ``high_open``); ``None``: no limit.

    One table of these (SETTING_BOUNDS) checks a setting given as a flag
    (scenelab.cli.types), in a YAML config or in the config a checkpoint stores.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def contains(self, value: float) -> bool:
        if not self.integer and not math.isfinite(value):
            return False
        if self.low is not None and not (value > self.low if self.low_open else value >= self.low):
            return False
        high = self.high
        return high is None or (value < high if self.high_open else value <= high)

    def describe(self) -> str:
        """``a whole number >= 1``, ``a finite number in [0, 1)``..."""
        kind = "a whole number" if self.integer else "a finite number"
        low, high = _shown(self.low), _shown(self.high)
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{kind} in {left}{low}, {high}{right}"
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {low}"
        if self.high is not None:
            return f"{kind} {'<' if self.high_open else '<='} {high}"
        return kind


def _shown(limit: float | None) -> str:
    return f"{limit:g}" if isinstance(limit, float) else str(limit)


COUNT = Bounds(1, integer=True)  # sizes, steps, repeats: one or more
POSITIVE = Bounds(0, low_open=True)
NON_NEGATIVE = Bounds(0)
FRACTION = Bounds(0, 1, high_open=True)  # [0, 1)
