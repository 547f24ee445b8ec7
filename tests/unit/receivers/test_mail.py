"""Reading a mail: Alertmanager 0.25's own (recorded from a real one) and variations."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from chaosgate.receivers.mail import html_text, parse_mail

ALERTMANAGER_MAIL = Path(__file__).parent / "data" / "alertmanager-0.25-firing.eml"


def test_alertmanagers_mail_gives_subject_addresses_and_both_bodies() -> None:
    mail = parse_mail(ALERTMANAGER_MAIL.read_bytes().replace(b"\n", b"\r\n"))
    assert mail.subject == "[FIRING:1] UsersServiceDown users (users critical)"
    assert mail.sender == "alertmanager@restaurant.example"
    assert mail.to == ("oncall@restaurant.example",)
    assert mail.message_id == "<1796158178061531103.2827179381405369068@vm>"
    # no text part: the HTML part's visible text, quoted-printable decoded, no CSS
    assert mail.text.startswith("1 alert for alertname=UsersServiceDown service=users")
    assert "summary = users is down" in mail.text
    assert "@media" not in mail.text and "=3D" not in mail.text
    assert mail.html.lstrip().startswith("<!DOCTYPE html")
    assert 'xmlns="http://www.w3.org/1999/xhtml"' in mail.html
    assert mail.payload() == {
        "subject": mail.subject,
        "from": mail.sender,
        "to": ["oncall@restaurant.example"],
        "text": mail.text,
        "html": mail.html,
        "message_id": mail.message_id,
    }


def test_a_text_part_is_preferred_and_encoded_headers_are_decoded() -> None:
    message = EmailMessage()
    message["Subject"] = "[RESOLVED] Caf\u00e9Down caf\u00e9 (critical)"  # RFC 2047 on the wire
    message["From"] = "Alertmanager <am@restaurant.example>"
    message["To"] = "a@restaurant.example, B <b@restaurant.example>"
    message.set_content("resolved: caf\u00e9 is back\n")
    message.add_alternative("<p>resolved</p>", subtype="html")
    raw = message.as_bytes()
    assert b"=?utf-8?" in raw
    mail = parse_mail(raw)
    assert mail.subject == "[RESOLVED] Caf\u00e9Down caf\u00e9 (critical)"
    assert mail.sender == "Alertmanager <am@restaurant.example>"
    assert mail.to == ("a@restaurant.example", "b@restaurant.example")
    assert mail.text == "resolved: caf\u00e9 is back\n"
    assert mail.html == "<p>resolved</p>\n"
    assert mail.message_id == ""


def test_a_plain_mail_without_headers_reads_as_empty_fields() -> None:
    mail = parse_mail(b"\r\njust a body\r\n")
    assert (mail.subject, mail.sender, mail.to, mail.html) == ("", "", (), "")
    assert mail.text == "just a body\n"  # CRLF read as LF


def test_html_text_keeps_visible_words_only() -> None:
    html = (
        "<html><head><title>T</title><style>p {color: red}</style></head>"
        "<body><p>2 alerts</p>\n<script>x()</script><b>for</b>  NodeHighCPU</body></html>"
    )
    assert html_text(html) == "2 alerts for NodeHighCPU"
    assert html_text("") == ""
