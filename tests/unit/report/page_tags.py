"""A written page's tags, for the tests of every page chaosgate writes (report, compare,
trend): each ``src`` / ``href`` value, each script's attributes, and the tag names."""

from __future__ import annotations

from html.parser import HTMLParser


class PageTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.links += [value or "" for name, value in attrs if name in ("src", "href")]
        if tag == "script":
            self.scripts.append(dict(attrs))


def page_tags(text: str) -> PageTags:
    tags = PageTags()
    tags.feed(text)
    return tags
