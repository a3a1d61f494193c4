"""Mail transport: one plain-text email through the SMTP server that ``SMTP_URL`` names.

Only the sending lives here (the URL's parts, the message, the SMTP conversation, which
failures are worth another try). Who gets which email is decided by ``portal.core.notifications``;
the worker (``portal.jobs``) sends what ``portal.core.outbox`` recorded.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

#: seconds to wait for the mail server before giving up
TIMEOUT = 10


class InvalidHeader(ValueError):
    """A header value (sender, recipient, subject) that would let its text start a header of its own."""


def check_headers(mail: Mail) -> None:
    """Refuse a CR or LF (or NUL) in any header value: such a mail can never be sent as it is."""
    for name, value in (("From", mail.sender), ("To", mail.to), ("Subject", mail.subject)):
        if any(ch in value for ch in "\r\n\0"):
            raise InvalidHeader(f"the {name} header contains a line break or NUL: {value!r}"[:300])


def is_permanent(error: Exception) -> bool:
    """True when sending the same mail again cannot succeed: a refused header, or an SMTP 5xx answer.

    Everything else (the server unreachable or silent, a 4xx answer such as 451) is worth another try.
    """
    if isinstance(error, InvalidHeader):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return False


@dataclass(frozen=True)
class Mail:
    """One email to send: the server's ``SMTP_URL``, sender, recipient, subject and plain text."""

    smtp_url: str
    sender: str
    to: str
    subject: str
    text: str


def message(mail: Mail) -> EmailMessage:
    """The email as sent: From, To, Subject and the text as its body; ``InvalidHeader`` for a CR/LF in a header."""
    check_headers(mail)
    built = EmailMessage()
    built["From"] = mail.sender
    built["To"] = mail.to
    built["Subject"] = mail.subject
    built.set_content(mail.text)
    return built


def send(mail: Mail) -> None:
    """Send one email through ``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://...``.

    Raises ``OSError`` or ``smtplib.SMTPException`` when the server cannot be reached or refuses the
    message, and ``InvalidHeader`` (before connecting) when a header value holds a line break;
    ``is_permanent`` tells which of them another try cannot fix.
    """
    built = message(mail)
    url = urlsplit(mail.smtp_url)
    secure = url.scheme == "smtps"
    smtp_class = smtplib.SMTP_SSL if secure else smtplib.SMTP
    with smtp_class(url.hostname or "localhost", url.port or (465 if secure else 25), timeout=TIMEOUT) as smtp:
        if not secure and parse_qs(url.query).get("starttls", ["0"])[0] in {"1", "true", "yes"}:
            smtp.starttls()
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(built)
