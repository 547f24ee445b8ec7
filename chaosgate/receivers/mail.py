"""One received mail, read with the standard library's ``email`` package.

Alertmanager 0.25 sends its notification as ``multipart/alternative`` with an HTML part (and
a text part only when its ``text`` template is set); the Subject is its default
``[FIRING:N] <group label values> (<common label values>)`` line.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from html.parser import HTMLParser
from typing import Any

__all__ = ["Mail", "html_text", "parse_mail"]


@dataclass(frozen=True)
class Mail:
    """What the sink keeps of a mail: its headers and bodies (``text`` is the plain part, or
    the HTML part's text when there is none)."""

    subject: str
    sender: str
    to: tuple[str, ...]
    text: str
    html: str
    message_id: str

    def payload(self) -> dict[str, Any]:
        """The record's payload: ``subject``, ``from``, ``to``, ``text``, ``html``,
        ``message_id``."""
        return {
            "subject": self.subject,
            "from": self.sender,
            "to": list(self.to),
            "text": self.text,
            "html": self.html,
            "message_id": self.message_id,
        }


def parse_mail(raw: bytes) -> Mail:
    """Headers decoded (RFC 2047), folded lines joined, bodies decoded from their transfer
    encoding and charset."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    html = _body(message, "html")
    text = _body(message, "plain") or html_text(html)
    to = tuple(address for _, address in getaddresses([str(v) for v in message.get_all("To", [])]))
    return Mail(
        subject=str(message.get("Subject", "")),
        sender=str(message.get("From", "")),
        to=to,
        text=text,
        html=html,
        message_id=str(message.get("Message-Id", "")),
    )


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: keep what can be read
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    # the wire's CRLF line ends become LF, as text is read everywhere else
    return content.replace("\r\n", "\n") if isinstance(content, str) else ""


class _TextOf(HTMLParser):
    """Collects the visible text of an HTML document (not its ``<head>``, styles or scripts).

    Hand-written on the standard library's parser: all that is needed is a readable text of
    Alertmanager's HTML mail for reports, not a rendering, so no dependency is added for it.
    """

    _HIDDEN = frozenset({"head", "style", "script", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.words.extend(data.split())


def html_text(html: str) -> str:
    """The words of ``html``'s visible text, joined by single spaces."""
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    return " ".join(parser.words)
