"""An independent reader of the HTML that Markdown renderers and report.html produce: the
page's text, every tag it opens with its attributes, and the text of each table cell."""

from __future__ import annotations

from html.parser import HTMLParser


class PageReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.tags: list[str] = []
        self.attributes: list[dict[str, str | None]] = []  # of each tag in ``tags``
        self.cells: list[str] = []
        self.in_cell = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.append(dict(attrs))
        if tag in ("td", "th"):
            self.cells.append("")
            self.in_cell = True

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.in_cell = False

    def handle_data(self, data):
        self.text += data
        if self.in_cell:
            self.cells[-1] += data


def read_page(page: str) -> PageReader:
    reader = PageReader()
    reader.feed(page)
    reader.close()
    return reader
