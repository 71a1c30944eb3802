"""Reading our rendered pages back in tests: the elements with their attributes, and the text."""

from __future__ import annotations

from html.parser import HTMLParser


class Element:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs


class Page(HTMLParser):
    """All start tags (in order) and the visible text of a document."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self.texts: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())

    def find(self, tag: str, **attrs: str) -> list[Element]:
        """Elements of a tag with these attribute values (``data_x`` for ``data-x``, ``class_``
        for ``class``)."""
        want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.elements if e.tag == tag and
                all(e.attrs.get(k) == v for k, v in want.items())]  # fmt: skip


def external_references(page: Page) -> list[str]:
    """Every attribute that would make a browser fetch something outside the document."""
    out = []
    for e in page.elements:
        for key in ("src", "href", "xlink:href", "action", "data", "poster"):
            value = e.attrs.get(key, "")
            if value and not value.startswith(("#", "data:")):
                out.append(f"<{e.tag} {key}={value}>")
    return out
