"""``norm`` and ``fold`` answer ASCII text without Unicode normalization (issue 15: a create folds ten
values): the shortcut must give exactly what the full rule gives, for every text.

The full rules are written out here as the models first defined them; hypothesis draws ASCII text (the
shortcut's case, with the whitespace and control characters that ``strip`` meets) and any text.
"""

from __future__ import annotations

import string
import unicodedata

from hypothesis import given, settings, strategies as st

from portal.models import _UNMARKED, _ZERO_WIDTH, _diacritic, fold, norm


def full_norm(value: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value.translate(_ZERO_WIDTH)).casefold()).strip()


def full_fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", full_norm(value).translate(_UNMARKED))
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if not _diacritic(char)))


ASCII = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.one_of(ASCII, st.text(max_size=40)))
def test_norm_and_fold_equal_the_full_rules(value: str) -> None:
    assert norm(value) == full_norm(value)
    assert fold(value) == full_fold(value)


def test_the_shortcut_keeps_what_the_rules_do_to_ascii() -> None:
    """The cases a shortcut could get wrong: upper case, and whitespace of every kind at either end."""
    padded = string.whitespace + "Ada.Lovelace@Example.COM" + "\x1c\x1f "
    assert norm(padded) == full_norm(padded) == "ada.lovelace@example.com"
    assert fold("M\u00fcller") == "muller"  # not ASCII: the full rule still runs
    assert norm(None) is None
