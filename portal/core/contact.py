"""Email addresses and phone numbers a person types into the console: one check each, for every form.

The administrators' and the members' email go through ``email_problem``; a member's mobile through
``phone_problem``. The SCIM door does not use them on what an identity provider sends: RFC 7643
§4.1.2 says an email "SHOULD" follow RFC 5321 and a phone number "SHOULD" follow RFC 3966, and
refusing a provider's user over either would stop its sync; those values are stored as sent
(``portal.core.provisioning`` checks only that the work email holds an "@", as ever).
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

INVALID_EMAIL = "Enter a valid email address"
INVALID_PHONE = (
    "Enter a phone number: digits with an optional leading +, spaces, dashes, dots or brackets "
    "(for example +1 555 0100 or (555) 010-0123), and an optional extension (x 12)"
)

#: digits with the separators people and identity providers write, an optional leading "+", and an
#: optional extension ("x12", "ext. 12"): the common formats, tolerated; letters are not a number
_PHONE = re.compile(r"\+?[0-9 ().\-/]+(?:\s*(?:x|ext\.?)\s*[0-9]{1,6})?", re.IGNORECASE)
#: E.164 allows 15 digits at most; fewer than 3 digits is no number anyone can dial
_PHONE_DIGITS = (3, 15)


def email_problem(email: str) -> str | None:
    """Why ``email`` is no email address (email-validator's syntax check, no DNS lookup), or None.

    Addresses under the reserved ``.test`` domain are accepted (the demo and the test data use
    them); other special-use domains (``.local``, ``localhost``) are not. "ida@acme", without a
    dot in its domain, is refused.
    """
    try:
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        return f"{INVALID_EMAIL}. {exc}"
    return None


def phone_problem(phone: str) -> str | None:
    """Why ``phone`` is no phone number, or None: tolerant of the common formats, never of letters."""
    if not _PHONE.fullmatch(phone.strip()):
        return INVALID_PHONE
    main = re.split(r"(?i)x|ext", phone)[0]
    digits = sum(ch.isdigit() for ch in main)
    if not _PHONE_DIGITS[0] <= digits <= _PHONE_DIGITS[1]:
        return f"{INVALID_PHONE}; it holds {digits} digits, a phone number {_PHONE_DIGITS[0]} to {_PHONE_DIGITS[1]}"
    return None
