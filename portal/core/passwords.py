"""The administrator password policy and the password hash. One place for both doors (console, CLI)."""
from __future__ import annotations

import re
import secrets
from functools import lru_cache

from werkzeug.security import check_password_hash, generate_password_hash

from portal.core.errors import Invalid

MIN_LENGTH = 12
#: bcrypt-style limits do not apply to scrypt, but an unbounded input lets anyone burn CPU
MAX_LENGTH = 256

TOO_SHORT = f"Use at least {MIN_LENGTH} characters."
TOO_LONG = f"Use at most {MAX_LENGTH} characters."
TOO_COMMON = "This password is on a list of commonly used passwords. Choose one that is harder to guess."

_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    # zxcvbn (Dropbox's estimator, Python port) ships the 30,000 most common passwords of
    # the Xato 10-million-password corpus; loaded on first use, not at import time.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _is_common(password: str) -> bool:
    folded = _SPACES.sub("", password).lower()
    common = _common_passwords()
    if folded in common:
        return True
    # "qwertyqwerty", "passwordpassword": a common password repeated is no better.
    for size in range(1, len(folded) // 2 + 1):
        if len(folded) % size == 0 and folded[:size] * (len(folded) // size) == folded:
            return folded[:size] in common or size <= 2
    return False


def check_policy(password: str, field: str = "password") -> None:
    """Raise Invalid (naming ``field``) unless the password is long enough and not a common one."""
    if len(password or "") < MIN_LENGTH:
        raise Invalid(TOO_SHORT, field=field)
    if len(password) > MAX_LENGTH:
        raise Invalid(TOO_LONG, field=field)
    if _is_common(password):
        raise Invalid(TOO_COMMON, field=field)


def hash_password(password: str) -> str:
    """A slow salted hash (werkzeug's scrypt) of a password that passed the policy."""
    return generate_password_hash(password)


def verify(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches the stored hash."""
    return check_password_hash(password_hash, password)


def generate() -> str:
    """A random initial password that passes the policy (about 96 bits)."""
    return secrets.token_urlsafe(12)

