"""``scenelab config list|show NAME``: flags only; the work is scenelab.shipped_configs."""

from __future__ import annotations

import argparse

from scenelab.shipped_configs import list_command, show_command


def register(subparsers: argparse._SubParsersAction) -> None:
    config = subparsers.add_parser(
        "config",
        help="the training configs shipped with scenelab: list them, print one",
        description="The study's training configs, shipped inside the package (configs/ in a "
        "checkout). Save one to edit it: scenelab config show simplenet > simplenet.yaml, "
        "then scenelab train --config simplenet.yaml.",
    )
    commands = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    listing = commands.add_parser(
        "list", help="the shipped configs by name", description="The shipped configs by name."
    )
    listing.set_defaults(func=list_command)
    show = commands.add_parser(
        "show",
        help="print a shipped config's YAML",
        description="Print the YAML of the shipped config NAME, as its file has it.",
    )
    show.add_argument("name", metavar="NAME", help="a name from `scenelab config list`")
    show.set_defaults(func=show_command)
