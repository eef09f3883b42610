"""The training configs that ship inside the package (`src/scenelab/configs/*.yaml`, also
reachable as `configs/` in a checkout): listed and printed by `scenelab config`, so that
an installed wheel gives them too (`scenelab config show simplenet > simplenet.yaml`)."""

from __future__ import annotations

import argparse
from importlib import resources

from scenelab.errors import ScenelabError

SUFFIX = ".yaml"


def _folder() -> resources.abc.Traversable:
    return resources.files("scenelab") / "configs"


def config_names() -> list[str]:
    """The shipped configs by name (the file name without `.yaml`), sorted."""
    names = (item.name for item in _folder().iterdir() if item.name.endswith(SUFFIX))
    return sorted(name.removesuffix(SUFFIX) for name in names)


def config_text(name: str) -> str:
    """The YAML of the shipped config `name` (`simplenet` or `simplenet.yaml`)."""
    name = name.removesuffix(SUFFIX)
    if name not in config_names():
        raise ScenelabError(
            f"config {name!r}: no such shipped config; expected one of {', '.join(config_names())}"
        )
    return (_folder() / f"{name}{SUFFIX}").read_text(encoding="utf-8")


def list_command(args: argparse.Namespace) -> int:
    """``scenelab config list``: one name a line."""
    print("\n".join(config_names()))
    return 0


def show_command(args: argparse.Namespace) -> int:
    """``scenelab config show NAME``: the YAML, as the file has it."""
    print(config_text(args.name), end="")
    return 0
