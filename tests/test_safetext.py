"""scenelab.safetext against independent readers: a real Markdown renderer
(Python-Markdown, with GFM-style tables), the standard library's HTML parser and csv
reader, Unicode's own character categories, and matplotlib's drawing of text with math
parsing switched off."""

from __future__ import annotations

import csv
import io
import unicodedata

import markdown as markdown_renderer
import matplotlib
import pytest
from html_reader import read_page

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from scenelab import safetext

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "a|b | c",
    "*em* **strong** _under_ __score__",
    "`code` ``two``",
    "[link](javascript:alert(1)) ![img](x.png)",
    "&lt; &amp; &#60; &",
    "# heading",
    "- item",
    "+ item",
    "1. first",
    "> quote",
    "~~struck~~",
    "back\\slash\\",
    "line\nbreak\r\nand\rreturn",
    "\x1b[31mred\x1b[0m\u202eover\x00",
    "$\\frac{a}{$",
    "bamboo_forest",
    "-0.5",
    "=1+1",
    "plain name",
]


def shown(text: str) -> str:
    """What Markdown must show for ``text``: its line breaks are spaces, its other control
    characters escapes."""
    text = " ".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    for char, escape in (("\x1b", "\\x1b"), ("\u202e", "\\u202e"), ("\x00", "\\x00")):
        text = text.replace(char, escape)
    return text


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_renders_literally_in_a_paragraph(text):
    page = markdown_renderer.markdown(f"x {safetext.markdown(text)}")
    reader = read_page(page)
    assert reader.tags == ["p"], page
    assert reader.text == f"x {shown(text)}"


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_renders_literally_at_the_start_of_a_line(text):
    page = markdown_renderer.markdown(safetext.markdown(text))
    reader = read_page(page)
    assert reader.tags == ["p"], page
    assert reader.text == shown(text)


def test_markdown_renders_literally_in_table_cells():
    rows = "\n".join(f"| {safetext.markdown(text)} | 1 |" for text in HOSTILE)
    page = markdown_renderer.markdown(
        f"| name | n |\n| --- | --- |\n{rows}\n", extensions=["tables"]
    )
    reader = read_page(page)
    assert set(reader.tags) == {"table", "thead", "tbody", "tr", "th", "td"}, page
    assert reader.cells == ["name", "n", *(cell for text in HOSTILE for cell in (shown(text), "1"))]


@pytest.mark.parametrize("text", ["a`b", "``", "`start", "end`", "<script>alert(1)</script>"])
def test_markdown_code_is_one_code_span_of_the_text(text):
    page = markdown_renderer.markdown(f"x {safetext.markdown_code(text)} y")
    reader = read_page(page)
    assert reader.tags == ["p", "code"], page
    assert reader.text == f"x {text} y"


@pytest.mark.parametrize("text", HOSTILE)
def test_html_is_text_in_an_element_and_in_an_attribute(text):
    value = safetext.html(text)
    reader = read_page(f"<p title=\"{value}\">{value}</p><a title='{value}'>x</a>")
    assert reader.tags == ["p", "a"]
    assert reader.text == f"{text}x"


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("abbey", "abbey"),
        (-0.5, "-0.5"),
        (3, "3"),
    ],
)
def test_csv_cells_read_back_as_text_no_spreadsheet_evaluates(cell, written):
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safetext.csv_cell(cell), "end"])
    read = next(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert read == [written, "end"]
    assert not read[0].startswith(("=", "+", "@", "\t", "\r")) and (
        not read[0].startswith("-") or float(read[0]) == cell
    )


TERMINAL_HOSTILE = "".join(chr(code) for code in [*range(0x20), *range(0x7F, 0xA0)]) + (
    "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029"
    "\ufeff\udce9 \x1b[31mred\x1b[0m é 中 🙂 a\\b"
)


def test_terminal_leaves_no_control_or_format_character():
    shown_text = safetext.terminal(TERMINAL_HOSTILE)
    for char in shown_text:
        assert unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Zl", "Zp"), repr(char)
    assert shown_text.encode("utf-8")  # no lone surrogate: printable on a UTF-8 terminal
    assert shown_text.endswith(" \\x1b[31mred\\x1b[0m é 中 🙂 a\\b")
    assert "\\n" in shown_text and "\\x00" in shown_text and "\\x9b" in shown_text
    assert "\\u202e" in shown_text and "\\udce9" in shown_text


def test_terminal_lines_keeps_only_the_line_ends():
    assert safetext.terminal_lines("a\x1b[2J\nb\rc\n") == "a\\x1b[2J\nb\\rc\n"


@pytest.mark.parametrize("text", ["$\\frac{a}{$", "$x^$", "price $5 and $6", "a\\$b$", "$$"])
def test_plot_text_is_drawn_as_written_without_mathtext(text):
    """matplotlib draws plot_text(text) exactly as it draws ``text`` with math parsing off:
    the same width and height, and no error."""
    figure = plt.figure()
    try:
        renderer = figure.canvas.get_renderer()
        escaped = figure.text(0.1, 0.5, safetext.plot_text(text))
        reference = figure.text(0.1, 0.2, text, parse_math=False)
        figure.canvas.draw()
        ours, theirs = escaped.get_window_extent(renderer), reference.get_window_extent(renderer)
        assert (ours.width, ours.height) == pytest.approx((theirs.width, theirs.height))
    finally:
        plt.close(figure)
