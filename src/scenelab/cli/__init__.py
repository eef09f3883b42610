"""The ``scenelab`` command line: argument parsing only.

Each sub-command lives in its own module here with a ``register(subparsers)``
function that adds its parser and sets ``func`` to the one library function it
calls. Errors the user can fix are raised as ``ScenelabError`` and printed
without a traceback. Messages go through `logging` (scenelab.log): ``-q/--quiet`` and
``-v/--verbose``, given before or after the sub-command, set what the console shows.
Anything else that escapes a command is a bug: the error boundary
in ``main`` prints it as one line and exits 1, unless ``--debug`` (or SCENELAB_DEBUG=1)
asks for the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from scenelab import __version__
from scenelab.errors import ScenelabError, user_message
from scenelab.log import NORMAL, QUIET, VERBOSE, log_to_console
from scenelab.safetext import terminal, terminal_lines

# One module per sub-command group, in the order `scenelab --help` lists them.
COMMAND_MODULES = [
    "train",
    "config",
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
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the Python traceback of an unexpected error (also: SCENELAB_DEBUG=1)",
    )
    add_verbosity(parser, default=NORMAL)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"scenelab.cli.{name}").register(subparsers)
    for command in subparsers.choices.values():
        add_verbosity_below(command)
    return parser


def add_verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    """-q/--quiet and -v/--verbose; ``default`` SUPPRESS on sub-commands, so that a flag
    given before the sub-command is not reset by it."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-q",
        "--quiet",
        dest="verbosity",
        action="store_const",
        const=QUIET,
        default=default,
        help="show only warnings and errors (no progress)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        dest="verbosity",
        action="store_const",
        const=VERBOSE,
        default=default,
        help="also show debugging messages",
    )


def add_verbosity_below(parser: argparse.ArgumentParser) -> None:
    """The verbosity flags on ``parser`` and on every sub-command under it."""
    add_verbosity(parser, default=argparse.SUPPRESS)
    for action in parser._actions:  # argparse keeps sub-commands in a private action type
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                add_verbosity_below(command)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    log_to_console(args.verbosity)
    try:
        return int(args.func(args) or 0)
    except ScenelabError as error:  # messages name the user's paths: control characters escaped
        print(f"scenelab: error: {terminal_lines(user_message(error))}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # a full disk, a missing permission: the machine, not a bug
        print(f"scenelab: error: {terminal_lines(user_message(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("scenelab: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the backstop: a bug, told in one line
        if args.debug or os.environ.get("SCENELAB_DEBUG", "") not in ("", "0"):
            raise
        print(
            f"scenelab: error: {unexpected_error_line(command_name(args), error)}", file=sys.stderr
        )
        return 1


def command_name(args: argparse.Namespace) -> str:
    """``train``, ``data verify``, ``study conv``...: the sub-command that ran."""
    words = [args.command]
    words += [getattr(args, key) for key in ("data_command", "benchmark", "study") if key in args]
    return " ".join(str(word) for word in words if word)


def unexpected_error_line(command: str, error: BaseException) -> str:
    """The one line an unexpected exception is shown as: the command, the exception's type
    and message (control characters escaped, one line) and how to see the traceback."""
    message = terminal(user_message(error))
    return (
        f"{command} failed: {type(error).__name__}: {message} "
        "(run again with --debug or SCENELAB_DEBUG=1 for the traceback)"
    )
