"""Yes and no as people write them in a file cell or an import column: one set of words.

Case, surrounding spaces of any kind, invisible formatting characters (zero-width space, byte
order mark, soft hyphen: Unicode category Cf) and the Unicode form of the accent ("sì" typed
decomposed on macOS) do not matter. An empty value is neither: each caller decides what it
means (a default, or "no").
"""

import unicodedata

YES = "sì"
NO = "no"
YES_WORDS = frozenset({YES, "si", "s", "1", "x", "vero", "true", "yes", "y"})
NO_WORDS = frozenset({NO, "n", "0", "falso", "false"})


def read_yes_no(value: str) -> bool | None:
    """True for a yes word, False for a no word, None for anything else (empty included)."""
    word = value.strip().lower()
    if not word.isascii():
        word = unicodedata.normalize("NFC", word)
        word = "".join(ch for ch in word if unicodedata.category(ch) != "Cf").strip()
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    return None
