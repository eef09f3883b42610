"""Reading settings from a file: a YAML mapping (refused in one line naming the file and
the line), and a value checked against the type its setting declares (no torch)."""

from __future__ import annotations

import math
import typing
from pathlib import Path
from typing import Any

import yaml

from scenelab.errors import ScenelabError


def read_yaml_mapping(path: str | Path, flag: str = "--config") -> dict[str, Any]:
    """The mapping a YAML file holds (yaml.safe_load: tags such as !!python/object are
    refused), or a ScenelabError naming ``flag``, the file and the line."""
    path = Path(path)
    prefix = f"{flag} " if flag else ""
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise ScenelabError(f"{prefix}{path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ScenelabError(f"{prefix}{path}: not UTF-8 text ({error.reason})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ScenelabError(f"{prefix}{where}: not valid YAML ({problem})") from None
    if not isinstance(values, dict):
        raise ScenelabError(f"{prefix}{path}: expected a mapping of setting: value")
    return values


# Settings that also take a string, parsed later ("6/255").
_ALSO_STRINGS = frozenset({"adv_epsilon", "adv_step_size"})


def typed_value(name: str, value: Any, hint: Any, source: str) -> Any:
    """``value`` if it has the type the field's annotation says, else ScenelabError.

    A float setting also takes an int, and a string that reads as a number (YAML 1.1
    reads ``1e-3`` as a string).
    """
    allowed = set(typing.get_args(hint)) or {hint}
    if value is None and type(None) in allowed:
        return value
    if bool in allowed and isinstance(value, bool):
        return value
    if int in allowed and isinstance(value, int) and not isinstance(value, bool):
        return value
    if float in allowed and isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float: out of every range
            return math.inf if value > 0 else -math.inf
    if float in allowed and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            if name in _ALSO_STRINGS:
                return value
    if str in allowed and isinstance(value, str):
        return value
    kinds = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    expected = " or ".join(kinds[kind] for kind in kinds if kind in allowed)
    if type(None) in allowed:
        expected += " or null"
    raise ScenelabError(
        f"{source}: {name} must be {expected}, got {value!r} ({type(value).__name__})"
    )
