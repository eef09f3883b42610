"""A report as a list of blocks, written as Markdown or as one self-contained HTML page
(figures embedded as base64 PNG), so that the two always say the same thing."""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    """Text; `backticks` mark code and **stars** bold, in both outputs."""

    text: str


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    """A PNG; in HTML, figures in a row share it two by two unless ``wide``."""

    path: Path
    caption: str
    wide: bool = False


@dataclass
class Code:
    text: str


Block = Heading | Paragraph | Table | Figure | Code


def to_markdown(blocks: list[Block], folder: Path) -> str:
    """Markdown for a file in ``folder``; figures are linked relative to it."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            lines = [
                _markdown_row(block.header),
                "|" + "|".join(" --- " for _ in block.header) + "|",
            ]
            lines += [_markdown_row(row) for row in block.rows]
            parts.append("\n".join(lines))
        elif isinstance(block, Figure):
            parts.append(
                f"![{block.caption}]({Path(os.path.relpath(block.path, folder)).as_posix()})"
            )
        else:
            parts.append(f"```\n{block.text}\n```")
    return "\n\n".join(parts) + "\n"


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #1b1b1b; }
h1 { border-bottom: 2px solid #ccc; padding-bottom: .3rem; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
code { background: #f4f4f4; padding: 0 .2rem; border-radius: 3px; font-size: .9em; }
pre { background: #f4f4f4; padding: .7rem; white-space: pre-wrap; font-size: .85rem; }
.figures { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
figure { margin: 1rem 0; }
img { width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9rem; }
"""


def to_html(blocks: list[Block], title: str) -> str:
    """One HTML page with everything inside it: styles and figures."""
    body = []
    figures: list[str] = []  # narrow figures waiting to share a row
    for block in blocks:
        if isinstance(block, Figure) and not block.wide:
            figures.append(_figure_html(block))
            continue
        if figures:
            body.append(f'<div class="figures">{"".join(figures)}</div>')
            figures = []
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Table):
            header = "".join(f"<th>{_inline(cell)}</th>" for cell in block.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row) + "</tr>"
                for row in block.rows
            )
            body.append(f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Figure):
            body.append(_figure_html(block))
        else:
            body.append(f"<pre><code>{html.escape(block.text)}</code></pre>")
    if figures:
        body.append(f'<div class="figures">{"".join(figures)}</div>')
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _figure_html(figure: Figure) -> str:
    data = base64.b64encode(figure.path.read_bytes()).decode("ascii")
    alt = html.escape(figure.caption)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
        f"<figcaption>{_inline(figure.caption)}</figcaption></figure>"
    )


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
