"""The ``scenelab`` command line: argument parsing only.

Each sub-command lives in its own module here with a ``register(subparsers)``
function that adds its parser and sets ``func`` to the one library function it
calls. Errors the user can fix are raised as ``ScenelabError`` and printed
without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from scenelab import __version__
from scenelab.errors import ScenelabError, user_message

# One module per sub-command group, in the order `scenelab --help` lists them.
COMMAND_MODULES = [
    "train",
    "models",
    "bench",
    "data",
    "eval",
    "predict",
    "export",
    "compare",
    "study",
    "saliency",
    "attack",
    "reproduce",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scenelab",
        description="Train, compare and probe convolutional networks for scene classification.",
    )
    parser.add_argument("--version", action="version", version=f"scenelab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"scenelab.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ScenelabError as error:
        print(f"scenelab: error: {user_message(error)}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # a full disk, a missing permission: the machine, not a bug
        print(f"scenelab: error: {user_message(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("scenelab: interrupted", file=sys.stderr)
        return 130
