"""User text (class names, run names, paths, config values) made safe for the place it is
written to: Markdown, HTML, a CSV cell, the terminal or a matplotlib figure.

Names are kept true everywhere they are data (JSON, YAML, the dataset itself); they are
escaped only by the writer that puts them into one of these outputs, each by one rule here.
"""

from __future__ import annotations

import html as _html
import re

# Markdown: characters that start markup inside a line (escapes, code, emphasis, links)
# become backslash escapes, which CommonMark, GFM and Python-Markdown all read; `<`, `>`,
# `&` (raw HTML, entities), `|` (table cells) and `~` (strikethrough) become character
# references, the form every renderer shows literally (a backslash before them is not
# read by all of them).
_MARKDOWN_BACKSLASHED = "\\`*_[]"
_MARKDOWN_REFERENCES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "|": "&#124;", "~": "&#126;"}
# Line breaks would end a table row or start a new block: each becomes a space.
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
# At the start of a line these would open a heading or a list item ("# ", "- ", "1. ");
# a lone "-" (a table's empty cell) is left as it is.
_MARKDOWN_BLOCK_START = re.compile(r"^(\s*)(#|[-+](?=\s)|\d+(?=[.)](?:\s|$)))")

# CSV: a cell whose first character is one of these is read by a spreadsheet as a
# formula (OWASP "CSV injection"); a leading single quote makes it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Terminal: every character Python calls unprintable is escaped: C0 controls (ESC starts
# ANSI sequences), DEL, C1 controls, the format characters that reorder or hide text (bidi
# overrides and isolates, zero-width), line separators, odd spaces, and the lone surrogates
# of an undecodable file name (which would fail the print itself).
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def markdown(text: str) -> str:
    """``text`` as Markdown that renders literally, also inside a table cell. Line breaks
    become spaces; other control characters are shown as :func:`terminal` shows them, so
    that the file is also safe to print."""
    text = terminal(_LINE_BREAKS.sub(" ", text))
    escaped = "".join(
        "\\" + char if char in _MARKDOWN_BACKSLASHED else _MARKDOWN_REFERENCES.get(char, char)
        for char in text
    )
    return _MARKDOWN_BLOCK_START.sub(_escape_block_start, escaped, count=1)


def markdown_code(text: str) -> str:
    """``text`` as a Markdown code span (shown as written, in a code font): fenced by more
    backticks than any run inside it, so that the text cannot close the span."""
    text = _LINE_BREAKS.sub(" ", text)
    if "`" not in text:
        return f"`{text}`"
    fence = "`" * (max(len(run) for run in re.findall(r"`+", text)) + 1)
    return f"{fence} {text} {fence}"


def _escape_block_start(match: re.Match[str]) -> str:
    spaces, marker = match.group(1), match.group(2)
    if marker.isdigit():  # "1." or "1)" opens an ordered list: escape the punctuation
        return spaces + marker + "\\"
    return spaces + "\\" + marker


def html(text: str) -> str:
    """``text`` as HTML text or attribute value (``&``, ``<``, ``>``, both quotes)."""
    return _html.escape(text, quote=True)


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet evaluates: text starting with ``= + - @``, tab or CR
    gets a leading ``'``. Numbers pass unchanged (they are the program's own, and -0.5
    must stay a number)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def terminal(text: str) -> str:
    """``text`` for one line of the terminal: every control or invisible format character
    shown as an escape (``\\x1b``, ``\\n``, ``\\u202e``), so that names cannot move the
    cursor, recolour, reorder or split what is printed."""
    return "".join(_terminal_char(char) for char in text)


def terminal_lines(text: str) -> str:
    """Like :func:`terminal` for text of several lines: the line ends stay."""
    return "\n".join(terminal(line) for line in text.split("\n"))


def _terminal_char(char: str) -> str:
    if char.isprintable():  # not Cc, Cf, Cs, Co, Cn, Zl, Zp, nor a space other than " "
        return char
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def plot_text(text: str) -> str:
    """``text`` for a matplotlib title, label or legend entry: each ``$`` escaped, so
    mathtext is never parsed from user text (an odd ``$`` or ``$\\frac{a}{$`` would fail
    the whole figure), and control characters shown as :func:`terminal` shows them (a font
    has no glyph for them, and matplotlib's warning would print them raw)."""
    return terminal(text).replace("$", r"\$")
