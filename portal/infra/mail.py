"""Mail transport: one plain-text email through the SMTP server that ``SMTP_URL`` names.

Only the sending lives here (the URL's parts, the message, the SMTP conversation).
Who gets which email, and when (after the transaction commits), is decided by
``portal.core.notifications``.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

#: what a failed delivery raises: a caller that must survive a mail server outage catches these
DELIVERY_ERRORS: tuple[type[Exception], ...] = (OSError, smtplib.SMTPException)

#: seconds to wait for the mail server before giving up
TIMEOUT = 10


@dataclass(frozen=True)
class Mail:
    """One email to send: the server's ``SMTP_URL``, sender, recipient, subject and plain text."""

    smtp_url: str
    sender: str
    to: str
    subject: str
    text: str


def message(mail: Mail) -> EmailMessage:
    """The email as sent: From, To, Subject and the text as its body."""
    built = EmailMessage()
    built["From"] = mail.sender
    built["To"] = mail.to
    built["Subject"] = mail.subject
    built.set_content(mail.text)
    return built


def send(mail: Mail) -> None:
    """Send one email through ``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://...``.

    Raises one of ``DELIVERY_ERRORS`` when the server cannot be reached or refuses the message.
    """
    url = urlsplit(mail.smtp_url)
    secure = url.scheme == "smtps"
    smtp_class = smtplib.SMTP_SSL if secure else smtplib.SMTP
    with smtp_class(url.hostname or "localhost", url.port or (465 if secure else 25), timeout=TIMEOUT) as smtp:
        if not secure and parse_qs(url.query).get("starttls", ["0"])[0] in {"1", "true", "yes"}:
            smtp.starttls()
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(message(mail))
