"""Citizen fiscal codes (codice fiscale): validation, masking and the feed hash.

A fiscal code is personal data. Code in this package never logs one unmasked and never puts one
in an exception message: use `mask_fiscal_code` for a single value and
`mask_fiscal_codes_in_text` for free text that may contain some (IO's error details, URLs).
"""

import hashlib
import re
import unicodedata
from functools import lru_cache

from stdnum.exceptions import ValidationError
from stdnum.it import codicefiscale

# IO's own pattern (io-ts-commons `FiscalCode`): upper case only, omocodia letters allowed.
FISCAL_CODE_RE = re.compile(
    r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$"
)

# IO's sandbox recipient (IO-API.md §4). It matches IO's pattern but has neither a valid check
# character nor a valid birth date, so the checksum test must let it through explicitly.
SANDBOX_FISCAL_CODE = "AAAAAA00A00A000A"
SANDBOX_FISCAL_CODES = frozenset({SANDBOX_FISCAL_CODE})

# Same pattern without anchors, case-insensitive, for finding fiscal codes inside free text.
_FISCAL_CODE_IN_TEXT_RE = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z]"
    r"[0-9LMNPQRSTUV]{3}[A-Z](?![A-Za-z0-9])",
    re.IGNORECASE,
)


def normalize_fiscal_code(value: str) -> str:
    """`value` as IO accepts it: upper case, without any space or invisible character.

    A fiscal code has no spaces, so every space (plain, no-break, thin, tab...) is removed
    anywhere, and so is every invisible formatting character (Unicode category Cf: zero-width
    space and joiners, soft hyphen, byte order mark, direction marks), which comes along when a
    code is copied from a web page, a PDF or a spreadsheet.
    """
    if not value.isascii():
        value = "".join(ch for ch in value if unicodedata.category(ch) != "Cf")
    return "".join(value.split()).upper()


def is_valid_fiscal_code(value: str, *, allow_sandbox: bool = True) -> bool:
    """True when `value` (already normalized) is a fiscal code IO will accept.

    Checks IO's pattern, then the check character and birth date with python-stdnum (which
    understands omocodia). The sandbox code passes IO's pattern only, and is accepted when
    `allow_sandbox` is true.

    IO's pattern is python-stdnum's own and admits upper-case values only, so `value` is
    already in stdnum's compact form: its check-character and birth-date routines are called
    directly (what `codicefiscale.validate` does after compacting it), and the birth date's
    answer is remembered per date (`_valid_birth_date`), which a big list repeats.
    """
    if not FISCAL_CODE_RE.match(value):
        return False
    if allow_sandbox and value in SANDBOX_FISCAL_CODES:
        return True
    if codicefiscale.calc_check_digit(value[:15]) != value[15]:
        return False
    # Characters 7-11: year, month letter, day (+40 for women); omocodia letters stand for
    # digits. Whether they make a date depends only on year, month and day modulo 40.
    year, month, day = value[6:8].translate(OMOCODIA_DIGITS), value[8], value[9:11]
    return _valid_birth_date(f"{year}{month}{int(day.translate(OMOCODIA_DIGITS)) % 40:02d}")


# The letters that replace digits in a fiscal code shared by two people (omocodia).
OMOCODIA_DIGITS = str.maketrans("LMNPQRSTUV", "0123456789")


@lru_cache(maxsize=100 * 12 * 40)
def _valid_birth_date(date_part: str) -> bool:
    """Whether `date_part` (two year digits, the month letter, two day digits below 40) is a
    birth date, as python-stdnum reads it (every such value fits the cache)."""
    try:
        codicefiscale.get_birth_date(f"AAAAAA{date_part}A000A")
    except ValidationError:
        return False
    return True


def mask_fiscal_code(value: str) -> str:
    """Mask a fiscal code for logs and lists: first 3 and last character kept.

    `RSSMRA85T10A562S` becomes `RSS************S`. The surname consonants and the check
    character are not enough to identify a person; birth date and place are hidden. Values
    shorter than 5 characters are masked completely.
    """
    if len(value) < 5:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 4) + value[-1]


def mask_fiscal_codes_in_text(text: str) -> str:
    """Replace every fiscal code found in `text` with its masked form."""
    return _FISCAL_CODE_IN_TEXT_RE.sub(lambda m: mask_fiscal_code(m.group(0)), text)


def contains_fiscal_code(text: str) -> bool:
    """Whether `text` contains something shaped like a fiscal code, in either case."""
    return _FISCAL_CODE_IN_TEXT_RE.search(text) is not None


def fiscal_code_hash(value: str) -> str:
    """The hash IO uses in the subscriptions feed: lowercase(hex(sha256(uppercase(CF))))."""
    return hashlib.sha256(normalize_fiscal_code(value).encode("utf-8")).hexdigest()
