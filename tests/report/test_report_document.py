"""scenelab.document: the same blocks as Markdown and as one self-contained HTML page,
read back with the standard library's HTML parser."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path

import markdown
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from scenelab.document import Code, Figure, Heading, Paragraph, Table, to_html, to_markdown

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PageReader(HTMLParser):
    """Collects table cells, image sources, figure groups and text of tags."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.images: list[str] = []
        self.groups: list[int] = []  # figures per <div class="figures">
        self.stack: list[str] = []
        self.text: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.stack.append(tag)
        if tag in ("td", "th"):
            self.cells.append("")
        if tag == "img":
            self.images.append(attributes["src"])
            self.stack.pop()  # a void element
            if self.groups and "div" in self.stack:
                self.groups[-1] += 1
        if tag == "div" and attributes.get("class") == "figures":
            self.groups.append(0)

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data):
        if "td" in self.stack or "th" in self.stack:
            self.cells[-1] += data
        if self.stack:
            self.text.setdefault(self.stack[-1], []).append(data)


def small_png(path: Path) -> Path:
    figure, axes = plt.subplots(figsize=(2, 1))
    axes.plot([0, 1], [0, 1])
    figure.savefig(path)
    plt.close(figure)
    return path


def test_html_embeds_every_figure_and_links_nothing(tmp_path):
    first, second = small_png(tmp_path / "a.png"), small_png(tmp_path / "b.png")
    blocks = [
        Heading("Report", 1),
        Figure(first, "narrow one"),
        Figure(second, "narrow two"),
        Figure(first, "a wide one", wide=True),
    ]
    page = to_html(blocks, "t")
    reader = PageReader()
    reader.feed(page)
    assert len(reader.images) == 3
    for source, path in zip(reader.images, [first, second, first], strict=True):
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix) :]) == path.read_bytes()
    assert reader.groups == [2]  # the two narrow figures share a row; the wide one does not
    assert "a.png" not in page and "http" not in page


def test_table_cells_are_plain_text_in_both_outputs(tmp_path):
    """Cells hold data (class and run names): shown as written, never as markup, by the
    page and by a real Markdown renderer (Python-Markdown's tables)."""
    cells = ["a|b <c> & d", "1.50", "`x`", "**2**", "<script>alert(1)</script>", "-0.5"]
    table = Table(["name", "value"], [cells[0:2], cells[2:4], cells[4:6]])
    for page in (
        to_html([table], "t"),
        markdown.markdown(to_markdown([table], tmp_path), extensions=["tables"]),
    ):
        reader = PageReader()
        reader.feed(page)
        assert reader.cells == ["name", "value", *cells]
        assert "<script" not in page and "<code>" not in page and "<strong>" not in page


def test_markdown_links_figures_relative_to_its_folder(tmp_path):
    (tmp_path / "runs").mkdir()
    png = small_png(tmp_path / "runs" / "a.png")
    markdown = to_markdown(
        [Heading("Title", 1), Paragraph("text"), Figure(png, "cap"), Code("scenelab x")], tmp_path
    )
    assert markdown == "# Title\n\ntext\n\n![cap](runs/a.png)\n\n```\nscenelab x\n```\n"


def test_html_paragraph_and_code_escape_markup():
    reader = PageReader()
    reader.feed(to_html([Paragraph("1 < 2 & `a<b>`"), Code("<script>")], "t"))
    assert reader.text["p"] == ["1 < 2 & "] and reader.text["code"] == ["a<b>", "<script>"]


def test_html_tables_right_align_numbers_and_left_align_text():
    table = Table(["what", "value"], [["top-1", "97.22"], ["time", "1.28x"], ["shape", "16x16"]])
    page = to_html([table], "t")
    assert '<td>top-1</td><td class="number">97.22</td>' in page
    assert '<td class="number">1.28x</td>' in page
    assert "<td>16x16</td>" in page  # an image size is text
    assert '<td class="number">1, 3</td>' in to_html([Table(["sections"], [["1, 3"]])], "t")
