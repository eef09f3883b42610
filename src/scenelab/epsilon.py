"""Epsilons in pixel units, written as numbers or fractions of 255 levels ("6/255")."""

from __future__ import annotations

import math
from fractions import Fraction

from scenelab.errors import ScenelabError


def parse_epsilon(text: str | float, name: str = "epsilon") -> float:
    """``"6/255"``, ``"0.0235"`` or a float -> a float in [0, 1], or a ScenelabError.

    ``name`` is what the error message calls the value (a step size, say).
    """
    if isinstance(text, str):
        try:
            if not text.isascii():  # Fraction reads any Unicode digit
                raise ValueError(text)
            fraction = Fraction(text.strip())
        except (ValueError, ZeroDivisionError):
            raise ScenelabError(
                f"{name} {text!r} is not a number or a fraction like 6/255"
            ) from None
        try:
            value = float(fraction)
        except OverflowError:  # 1e400: beyond any float, so out of range
            value = math.inf if fraction > 0 else -math.inf
    else:
        value = float(text)
    check_epsilon(value, name)
    return value


def parse_epsilons(text: str) -> list[float]:
    """A comma-separated list such as ``"0,1/255,2/255,4/255"``, each checked as an epsilon."""
    return [parse_epsilon(part) for part in text.split(",") if part.strip()]


def check_epsilon(epsilon: float, name: str = "epsilon") -> None:
    """Raise ScenelabError unless ``epsilon`` is in [0, 1] (pixels are [0, 1] floats)."""
    if not 0.0 <= epsilon <= 1.0:
        raise ScenelabError(
            f"{name} must be in [0, 1] (pixel units; 6/255 is six grey levels), got {epsilon:g}"
        )


def in_levels(epsilon: float) -> str:
    """0.0235... -> ``"6/255"``: how epsilons are shown in tables and on plot axes."""
    return f"{epsilon * 255:.3g}/255"
