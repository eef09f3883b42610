"""The command reference in docs/commands/: one page per command, made from its --help.

``python -m scenelab.cli.reference`` rewrites the pages; a test checks that they equal
what the parsers print, so the reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

from scenelab.cli import build_parser

WIDTH = "100"  # columns argparse wraps the help to, fixed so the pages do not depend on a terminal
DOCS = Path(__file__).resolve().parents[3] / "docs" / "commands"


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every leaf command under ``parser`` with its words (``("bench", "conv")``)."""
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        yield path, parser
        return
    for name, sub in subcommands[0].choices.items():
        yield from _commands(sub, (*path, name))


def pages() -> dict[str, str]:
    """File name -> Markdown page, for every command."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        rendered = {}
        for words, parser in _commands(build_parser()):
            title = "scenelab " + " ".join(words)
            rendered["-".join(words) + ".md"] = (
                f"# `{title}`\n\nGenerated from `{title} --help` by "
                "`python -m scenelab.cli.reference`; do not edit by hand.\n\n"
                f"```text\n{parser.format_help()}```\n"
            )
        return rendered
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for stale in DOCS.glob("*.md"):
        stale.unlink()
    written = pages()
    for name, text in written.items():
        (DOCS / name).write_text(text)
    print(f"wrote {len(written)} pages to {DOCS}")


if __name__ == "__main__":
    main()
