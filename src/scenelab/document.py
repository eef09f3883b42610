"""A report as a list of blocks, written as Markdown or as one self-contained HTML page
(figures embedded as base64 PNG), so that the two always say the same thing.

Headings, paragraphs and captions are a small Markdown subset: `code`, **bold**, backslash
escapes and the references `&lt;` `&gt;` `&amp;` `&#N;`; user text goes into them through
`safetext.markdown` or `safetext.markdown_code`. Table cells and code blocks are plain
text, escaped here for each output (`safetext.markdown`, `safetext.html`), so that names in
a table can never become markup.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from scenelab import safetext


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
    """Plain-text cells."""

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
    """Plain text, shown as written in a code block."""

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
            parts.append(markdown_table(block.header, block.rows))
        elif isinstance(block, Figure):
            link = urllib.parse.quote(Path(os.path.relpath(block.path, folder)).as_posix())
            parts.append(f"![{block.caption}]({link})")
        else:
            parts.append(f"{(fence := _fence(block.text))}\n{block.text}\n{fence}")
    return "\n\n".join(parts) + "\n"


def markdown_table(
    header: list[str],
    rows: Iterable[list[str]],
    escape: Callable[[str], str] = safetext.markdown,
) -> str:
    """A Markdown table of plain-text cells, readable as plain text too. Every cell goes
    through ``escape``: `safetext.markdown` for a file, `safetext.terminal` for a terminal."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(escape(cell) for cell in cells) + " |"

    rule = "|" + "---|" * len(header)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def pct(value: float | None, unit: str = "") -> str:
    """A percentage to two decimals ('n/a' for a missing or NaN one), then ``unit``."""
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f}{unit}"


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``, which cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #1b1b1b; }
h1 { border-bottom: 2px solid #ccc; padding-bottom: .3rem; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }
th { background: #f2f2f2; }
td.number { text-align: right; }
code { background: #f4f4f4; padding: 0 .2rem; border-radius: 3px; font-size: .9em; }
pre { background: #f4f4f4; padding: .7rem; white-space: pre-wrap; font-size: .85rem; }
.figures { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
figure { margin: 1rem 0; }
img { width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9rem; }
"""


_ONE_NUMBER = r"[-+]?(\d[\d,.]*(e[-+]?\d+)?|n/a|-)(%| s| min|x)?"
NUMBER = re.compile(rf"{_ONE_NUMBER}(, {_ONE_NUMBER})*")  # one, or a list: "1, 3"


def _html_cell(text: str) -> str:
    """A table cell; numbers (and 'n/a', '-') right-aligned, text left-aligned."""
    number = ' class="number"' if NUMBER.fullmatch(text) else ""
    return f"<td{number}>{safetext.html(text)}</td>"


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
            header = "".join(f"<th>{safetext.html(cell)}</th>" for cell in block.header)
            rows = "".join(
                "<tr>" + "".join(_html_cell(cell) for cell in row) + "</tr>" for row in block.rows
            )
            body.append(f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Figure):
            body.append(_figure_html(block))
        else:
            body.append(f"<pre><code>{safetext.html(block.text)}</code></pre>")
    if figures:
        body.append(f'<div class="figures">{"".join(figures)}</div>')
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{safetext.html(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _figure_html(figure: Figure) -> str:
    data = base64.b64encode(figure.path.read_bytes()).decode("ascii")
    alt = safetext.html(_plain(figure.caption))
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
        f"<figcaption>{_inline(figure.caption)}</figcaption></figure>"
    )


# The Markdown subset of headings, paragraphs and captions, read left to right.
_INLINE = re.compile(
    r"\\(?P<escaped>[!-/:-@\[-`{-~])"
    r"|(?P<reference>&(?:lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});)"
    r"|(?P<fence>`+)(?P<code>.+?)(?<!`)(?P=fence)(?!`)"
    r"|\*\*(?P<bold>.+?)\*\*"
)


def _inline(text: str) -> str:
    """The subset as HTML; every other character is text (`safetext.html`)."""
    parts, end = [], 0
    for match in _INLINE.finditer(text):
        parts.append(safetext.html(text[end : match.start()]))
        end = match.end()
        if match["escaped"] is not None:
            parts.append(safetext.html(match["escaped"]))
        elif match["reference"] is not None:  # the same reference means the same in HTML
            parts.append(match["reference"])
        elif match["code"] is not None:
            parts.append(f"<code>{safetext.html(_code_content(match['code']))}</code>")
        else:
            parts.append(f"<strong>{_inline(match['bold'])}</strong>")
    return "".join(parts) + safetext.html(text[end:])


def _plain(text: str) -> str:
    """The subset as plain text (for an image's alt text)."""
    return html.unescape(re.sub(r"<[^>]*>", "", _inline(text)))


def _code_content(code: str) -> str:
    """CommonMark: one space is stripped from each end when both ends have one."""
    if len(code) > 2 and code.startswith(" ") and code.endswith(" ") and code.strip():
        return code[1:-1]
    return code
