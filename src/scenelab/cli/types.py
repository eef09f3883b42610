"""argparse types for every numeric and path flag of every sub-command.

A bad value is refused by argparse itself (``scenelab CMD: error: argument --FLAG: must be
..., got ...``, exit 2) before any work starts. The ranges of run settings come from
scenelab.config.SETTING_BOUNDS, the table that also checks YAML and stored configs. Each
type carries what it accepts as attributes (``bounds``, ``kind``) so that the CLI fuzz test
can draw values around them.
"""

from __future__ import annotations

import argparse
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import torch

from scenelab.config import COUNT, NON_NEGATIVE, SETTING_BOUNDS, Bounds
from scenelab.epsilon import parse_epsilon
from scenelab.errors import ScenelabError

_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: int() also reads "١" and "1_0"


def whole_number(bounds: Bounds) -> Callable[[str], int]:
    """A type: a whole number written in ASCII digits, within ``bounds``."""

    def parse(text: str) -> int:
        value = None
        if _WHOLE_NUMBER.fullmatch(text.strip()):
            try:
                value = int(text)
            except ValueError:  # more digits than Python converts
                value = None
        if value is None or not bounds.contains(value):
            raise argparse.ArgumentTypeError(f"must be {bounds.describe()}, got {text!r}")
        return value

    return _described(parse, "int", bounds)


def number(bounds: Bounds) -> Callable[[str], float]:
    """A type: a finite decimal number (ASCII) within ``bounds``; nan, inf and 1e400
    (which float() reads as inf) are refused."""

    def parse(text: str) -> float:
        try:
            value = float(text) if text.isascii() and "_" not in text else None
        except ValueError:
            value = None
        if value is None or not bounds.contains(value):
            raise argparse.ArgumentTypeError(f"must be {bounds.describe()}, got {text!r}")
        return value

    return _described(parse, "float", bounds)


def setting(key: str) -> Callable[[str], Any]:
    """The type of the flag for run setting ``key``: its range from SETTING_BOUNDS."""
    bounds = SETTING_BOUNDS[key]
    return whole_number(bounds) if bounds.integer else number(bounds)


def pixels(name: str = "epsilon") -> Callable[[str], float]:
    """A type: a number or a fraction like 6/255 in [0, 1] (attacks.epsilon)."""

    def parse(text: str) -> float:
        try:
            return parse_epsilon(text, name)
        except ScenelabError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return _described(parse, "pixels", Bounds(0, 1))


def pixel_list(text: str) -> list[float]:
    """A type: comma-separated epsilons such as ``0,1/255,2/255``, each in [0, 1]."""
    parse = pixels()
    values = [parse(part) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated epsilons, got {text!r}")
    return values


def path(text: str) -> str:
    """A type: a file or folder name; empty is refused (it would mean the current folder,
    or silently the default)."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"must not contain a NUL byte, got {text!r}")
    return text


URL_SCHEMES = ("http", "https", "file")


def url(text: str) -> str:
    """A type: an http://, https:// or file:// address with a host or a path."""
    try:
        parts = urllib.parse.urlsplit(text)
        good = parts.scheme in URL_SCHEMES and bool(parts.netloc or parts.path)
        good = good and (parts.scheme == "file" or bool(parts.hostname))
    except ValueError:  # "http://[": an unclosed IPv6 address
        good = False
    if not good:
        raise argparse.ArgumentTypeError(
            f"must be a URL (http://HOST/..., https://HOST/... or file:///PATH), got {text!r}"
        )
    return text


def device(auto: bool = True) -> Callable[[str], str]:
    """A type: ``auto`` (when the command takes it), ``cpu``, ``cuda`` or ``cuda:N``, as
    written; whether CUDA is there is checked when the command picks it."""
    names = "auto, cpu, cuda or cuda:N" if auto else "cpu, cuda or cuda:N"

    def parse(text: str) -> str:
        if auto and text == "auto":
            return text
        try:
            kind = torch.device(text).type if text.isascii() else None
        except RuntimeError:
            kind = None
        if kind not in ("cpu", "cuda"):
            raise argparse.ArgumentTypeError(f"must be {names}, got {text!r}")
        return text

    return _described(parse, "device", Bounds())


def _described(parse: Callable[[str], Any], kind: str, bounds: Bounds) -> Callable[[str], Any]:
    parse.kind, parse.bounds = kind, bounds  # type: ignore[attr-defined]
    return parse


_described(pixel_list, "pixel_list", Bounds(0, 1))
_described(path, "path", Bounds())
_described(url, "url", Bounds())
count = whole_number(COUNT)  # images, steps, repeats, k: one or more
class_index = whole_number(Bounds(0, integer=True))
non_negative = number(NON_NEGATIVE)
