"""``scenelab compare``: flags into `CompareOptions`; the work is scenelab.compare.compare."""

from __future__ import annotations

import argparse

from scenelab.cli.types import path
from scenelab.compare import CompareOptions, compare
from scenelab.options import from_arguments


def options(args: argparse.Namespace) -> CompareOptions:
    return from_arguments(CompareOptions, args)


def _run(args: argparse.Namespace) -> int:
    compare(options(args))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="overlay the curves of several runs and tabulate time, memory and accuracy",
        description=(
            "Compare run folders: one figure each for top-1, top-5 and loss with every run's "
            "train (dashed) and val (solid) curve, and a table of wall time, training images/s "
            "(median over epochs), peak memory, best and final val top-1/top-5 and parameter "
            "count. Prints the table and writes compare.md, compare.csv and the figures."
        ),
    )
    parser.set_defaults(func=_run)
    parser.add_argument(
        "runs", type=path, nargs="+", metavar="RUN", help="run folders (two or more)"
    )
    parser.add_argument(
        "--out",
        type=path,
        metavar="DIR",
        help="output folder (default: 'compare' beside the first run)",
    )
