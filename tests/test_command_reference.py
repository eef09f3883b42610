"""docs/commands/ is the --help of every command, word for word."""

from __future__ import annotations

from scenelab.cli.reference import DOCS, pages


def test_every_command_page_equals_its_help():
    expected = pages()
    assert {path.name for path in DOCS.glob("*.md")} == set(expected), (
        "docs/commands/ lists other commands than the parser: run python -m scenelab.cli.reference"
    )
    for name, text in expected.items():
        assert (DOCS / name).read_text() == text, (
            f"docs/commands/{name} is out of date: run python -m scenelab.cli.reference"
        )


def test_pages_cover_nested_commands():
    assert {"bench-conv.md", "data-download.md", "study-conv.md", "train.md"} <= set(pages())
