"""The typed options of a command, and the command line they stand for.

Each command that a library function runs (eval, attack, saliency, bench conv, compare,
predict, study conv) takes a frozen dataclass whose field names are the flags' argparse
names. `command_argv` gives back the `scenelab` words that parse to the same options: the
positional fields, the fields marked ``always``, and every other field whose value is not
its default, in the order of the fields. `from_arguments` is the way back from argparse.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

Options = TypeVar("Options")


class Command(Protocol):
    """Options of a command: they give back its command line."""

    def to_argv(self) -> list[str]: ...


def option(
    default: Any = None,
    *,
    positional: bool = False,
    always: bool = False,
    text: Callable[[Any], str] = str,
) -> Any:
    """A field of an options class: ``positional`` (no flag), ``always`` on the command
    line even at its default, ``text`` the way its value is written back."""
    metadata = {"positional": positional, "always": always, "text": text}
    return dataclasses.field(default=default, metadata=metadata)


def command_argv(words: Sequence[str], options: Any) -> list[str]:
    """``words`` (the sub-command, e.g. ``["eval"]``) followed by the options' flags."""
    argv = list(words)
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        text = field.metadata.get("text", str)
        if field.metadata.get("positional"):
            argv += [text(item) for item in value] if isinstance(value, tuple) else [text(value)]
            continue
        if value == field.default and not field.metadata.get("always"):
            continue
        flag = f"--{field.name.replace('_', '-')}"
        if value is True:
            argv.append(flag)
        elif isinstance(value, tuple) and text is str:
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, text(value)]
    return argv


def from_arguments(cls: type[Options], args: argparse.Namespace) -> Options:
    """The options argparse parsed (lists become tuples: the options are frozen)."""
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(cls)}
    return cls(**{key: tuple(v) if isinstance(v, list) else v for key, v in values.items()})


def pixel_text(value: float) -> str:
    """An epsilon as `scenelab.epsilon.parse_epsilon` reads it back exactly: ``6/255``
    where that is the value, else the float's shortest exact form."""
    levels = round(value * 255)
    return f"{levels}/255" if levels / 255 == value else repr(value)


def pixels_text(values: tuple[float, ...]) -> str:
    """Comma-separated epsilons (``--sweep``)."""
    return ",".join(map(pixel_text, values))
