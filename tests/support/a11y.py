"""A few accessibility checks on a page's HTML: one h1, headings in order, labelled inputs, tables
with a caption and header cells, a skip link to the main content, the page's language."""

from __future__ import annotations

from html.parser import HTMLParser


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings: list[int] = []
        self.inputs: list[dict] = []
        self.labels: set[str] = set()
        self.tables: list[dict] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.lang = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "html":
            self.lang = a.get("lang")
        elif len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.inputs.append(a)
        elif tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        elif tag == "table":
            self.tables.append({"caption": False, "th": False})
        elif tag == "caption" and self.tables:
            self.tables[-1]["caption"] = True
        elif tag == "th" and self.tables:
            self.tables[-1]["th"] = True
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])


def check_page(html: str) -> None:
    """Assert the checks; the message names what is missing."""
    page = _Page()
    page.feed(html)
    assert page.lang, "<html> without lang"
    assert page.headings.count(1) == 1, f"one h1 per page, found {page.headings.count(1)}"
    assert page.headings[0] == 1, "the first heading is the h1"
    for before, after in zip(page.headings, page.headings[1:]):
        assert after <= before + 1, f"heading levels skip from h{before} to h{after}"
    for field in page.inputs:
        assert field.get("id") in page.labels or field.get("aria-label"), f"input without a label: {field}"
    for table in page.tables:
        assert table["caption"] and table["th"], "a table without caption or header cells"
    assert page.links and page.links[0] == "#main" and "main" in page.ids, "no skip link to #main first"
