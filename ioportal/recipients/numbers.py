"""Numbers and dates read exactly as the person sees them in the file: one reader everywhere.

Every number of a recipient list (amounts, integer and decimal placeholders, euro placeholders)
goes through `read_number` (`ioportal.core.reading`, which the portal's forms use too, and
re-exported here) with the convention the operator chose at upload: Italian ``1.234,56`` (the
default) or English ``1,234.56``. A value that does not fit the chosen convention is rejected
with a reason, never reinterpreted.

XLSX Number cells hold a binary double; Excel shows at most 15 significant digits
(https://learn.microsoft.com/office/troubleshoot/excel/last-digits-changed-to-zeros), so
`excel_number_text` writes them that way (a formula giving 0.30000000000000004 is 0.3), in the
chosen convention. A whole number with more than 15 significant digits has lost its last digits
(`lost_digits`): an identifier from such a cell is refused by the validation. Serial numbers in
date columns become dates with the workbook's date system (`serial_to_datetime`).
"""

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from django.utils.translation import gettext_noop as N_
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

from ioportal.core.io_texts import said
from ioportal.core.reading import (
    CURRENCY_RE,
    DEFAULT_NUMBER_FORMAT,
    ENGLISH,
    EXCEL_SIGNIFICANT_DIGITS,
    ITALIAN,
    NUMBER_FORMAT_CHOICES,
    NUMBER_FORMATS,
    SPACE_GROUPS_RE,
    NotANumber,
    NumberFormat,
    OtherDigits,
    OtherNumberFormat,
    Percentage,
    TooLarge,
    ValueProblem,
    clean_identifier,
    format_cents,
    format_decimal,
    number_format_name,
    number_format_part,
    read_euro_cents,
    read_integer,
    read_number,
    strip_invisible,
)
from ioportal.core.reading import _number_format as _number_format

__all__ = [
    "CURRENCY_RE",
    "DEFAULT_NUMBER_FORMAT",
    "ENGLISH",
    "EXCEL_SIGNIFICANT_DIGITS",
    "ITALIAN",
    "NUMBER_FORMATS",
    "NUMBER_FORMAT_CHOICES",
    "SPACE_GROUPS_RE",
    "NotANumber",
    "NumberFormat",
    "OtherDigits",
    "OtherNumberFormat",
    "Percentage",
    "TooLarge",
    "ValueProblem",
    "clean_identifier",
    "excel_number_text",
    "excel_shown_text",
    "format_cents",
    "format_decimal",
    "lost_digits",
    "number_format_name",
    "number_format_part",
    "read_euro_cents",
    "read_integer",
    "read_number",
    "scientific_exponent",
    "serial_to_datetime",
    "strip_invisible",
]

# Excel's General format shows a whole number of more digits than this in scientific notation
# (in a column of the default width).
EXCEL_GENERAL_DIGITS = 11
# General shows a number closer to zero than this in scientific notation (1E-05).
EXCEL_GENERAL_SMALLEST = Decimal("0.0001")
# Excel's last date, 9999-12-31, as a serial number of the 1900 date system.
EXCEL_MAX_SERIAL = 2_958_465
DATE_SYSTEMS = {1900: CALENDAR_WINDOWS_1900, 1904: CALENDAR_MAC_1904}

# --- XLSX Number cells ---------------------------------------------------------------------


def excel_number_text(
    value: int | float, excel_format: str = "General", number_format: str = DEFAULT_NUMBER_FORMAT
) -> str:
    """A Number cell as Excel shows it, written in the chosen convention without grouping.

    15 significant digits (0.30000000000000004 -> "0,3"); a format with fixed decimals
    ("#,##0.00 €") pads them with zeros ("12,50"), never rounds (a value with more decimals
    keeps them, and an amount is then refused); a format of zeros only ("000000") pads whole
    numbers with leading zeros as Excel does; a percentage format shows "5%".
    """
    decimal_separator = _number_format(number_format).decimal
    if excel_format == "General":
        plain = _plain_number(value)
        if plain is not None:
            return plain.replace(".", decimal_separator)
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    percent = "%" in excel_format
    if percent:
        number *= 100
    if number.is_finite() and number != 0:
        number = Decimal(f"{number:.{EXCEL_SIGNIFICANT_DIGITS}g}")
    text = f"{number:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if re.fullmatch(r"0{2,}", excel_format) and text.isdigit():
        text = text.zfill(len(excel_format))
    places = _fixed_decimals(excel_format)
    whole, _dot, fraction = text.partition(".")
    if len(fraction) < places:
        text = f"{whole}.{fraction.ljust(places, '0')}"
    if percent:
        text += "%"
    return text.replace(".", decimal_separator)


# The tokens of an Excel number format section, for its literal text: quoted text, a
# [$€-410] currency block, another [...] block (colour, condition), an escaped character,
# "_x" (a space as wide as x), "*x" (x repeated to fill the cell), any other character.
FORMAT_TOKEN_RE = re.compile(r'"[^"]*"|\[\$[^\]]*\]|\[[^\]]*\]|\\.|_.|\*.|.', re.DOTALL)
# A single character of a format section that is part of the number.
NUMBER_FORMAT_CHARS = set("0#?.,")


def _literal_text(tokens: Sequence[str]) -> str:
    """The text the tokens of a format section (FORMAT_TOKEN_RE) show as they are."""
    shown = []
    for token in tokens:
        if token.startswith('"'):
            shown.append(token[1:-1])
        elif token.startswith("[$"):
            shown.append(token[2:-1].split("-", 1)[0])  # [$€-410] shows "€"
        elif token.startswith("["):
            continue
        elif token.startswith("\\"):
            shown.append(token[1:])
        elif token.startswith("_"):
            shown.append(" ")
        elif token.startswith("*"):
            continue
        else:
            shown.append(token)
    return "".join(shown)


def _format_affixes(section: str) -> tuple[str, str]:
    """The literal text a format section shows before and after the number ("€ ", " €",
    "%"): quoted text, currency blocks, escaped and plain characters."""
    tokens = FORMAT_TOKEN_RE.findall(section)
    digits = [i for i, token in enumerate(tokens) if token in ("0", "#", "?")]
    if not digits:
        return "", ""
    first, last = digits[0], digits[-1]
    # Separators right after the last digit (a trailing "," scales) belong to the number.
    while last + 1 < len(tokens) and tokens[last + 1] in NUMBER_FORMAT_CHARS:
        last += 1
    return _literal_text(tokens[:first]), _literal_text(tokens[last + 1 :])


def excel_shown_text(value: int | float, excel_format: str = "General") -> str:
    """A Number cell as Italian Excel shows it to the person (a preview, never what the
    validation reads, which is `excel_number_text`): the format's scientific notation
    ("0.00E+00": "3,02E+17"), thousands grouping ("#,##0": "1.234"), decimals, rounded as
    Excel rounds for display, and the format's literal text and currency (`#,##0.00 "€"`:
    "1.234,50 €"; "0.00%": "10,00%"); General shows a number of more than 11 digits, or one
    below 0,0001, in scientific notation as a column of the default width does ("1,23457E+17",
    "1E-07"). Fractions give the plain number of `excel_number_text`."""
    raw_section = excel_format.split(";", 1)[0]
    section = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", raw_section)
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        return excel_number_text(value, excel_format, ITALIAN)
    exponent = re.search(r"E[+-]", section, re.IGNORECASE)
    if excel_format == "General" and (
        abs(number) >= Decimal(10) ** EXCEL_GENERAL_DIGITS
        or (number != 0 and abs(number) < EXCEL_GENERAL_SMALLEST)
    ):
        mantissa, _e, power = f"{float(number):.5E}".partition("E")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}E{power}".replace(".", ",")
    if exponent:
        mantissa_decimals = re.search(r"\.([0#?]*)", section[: exponent.start()])
        digits = len(mantissa_decimals.group(1)) if mantissa_decimals else 0
        return f"{float(number):.{digits}E}".replace(".", ",")
    if excel_format == "General" or not re.search(r"[0#?]", section) or "/" in section:
        return excel_number_text(value, excel_format, ITALIAN)
    if "%" in section:
        number *= 100
    decimals = re.search(r"\.([0#?]*)", section)
    places = len(decimals.group(1)) if decimals else 0
    fixed = decimals.group(1).count("0") if decimals else 0
    with localcontext() as context:
        context.prec = 400  # a double has at most 309 digits before the decimals
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    whole, _dot, fraction = f"{abs(number):f}".partition(".")
    fraction = fraction.rstrip("0").ljust(fixed, "0")
    whole = whole.zfill(section.split(".", 1)[0].count("0"))
    if re.search(r"[0#?],[0#?]", section):
        whole = f"{int(whole):,}".replace(",", ".")
    sign = "-" if number < 0 else ""
    before, after = _format_affixes(raw_section)
    text = f"{whole},{fraction}" if fraction else whole
    return f"{sign}{before}{text}{after}"


def _plain_number(value: int | float) -> str | None:
    """The usual cell (General format, at most 15 significant digits) without Decimal
    arithmetic: Python's shortest repr is then what Excel shows. None for any other."""
    text = str(value) if isinstance(value, int) else repr(value)
    if "e" in text or "n" in text:  # exponent, nan, inf
        return None
    if len(text.lstrip("-").replace(".", "").lstrip("0")) > EXCEL_SIGNIFICANT_DIGITS:
        return None
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def _fixed_decimals(excel_format: str) -> int:
    """How many decimals the positive section of an Excel number format always shows."""
    section = excel_format.split(";", 1)[0]
    # Quoted text, [colour/currency/locale] blocks and escaped characters are not digits.
    section = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.', "", section)
    match = re.search(r"\.(0+)", section)
    return len(match.group(1)) if match else 0


# A number in scientific notation as Excel writes it in the CSV it saves ("3,02E+17" in Italian,
# "1.23457E+17" in English): Excel always writes the exponent's sign.
SCIENTIFIC_RE = re.compile(r"^[+-]?[0-9]+(?:[.,][0-9]+)?E([+-][0-9]{1,3})$", re.IGNORECASE)


def scientific_exponent(text: str) -> int | None:
    """The exponent of a text that is a number in Excel's scientific notation ("3,02E+17" ->
    17), else None. Such a text in a CSV is a number Excel changed: it kept only the digits
    it showed, so the number cannot be read back."""
    match = SCIENTIFIC_RE.match(text.strip())
    return int(match.group(1)) if match else None


def lost_digits(text: str) -> bool:
    """True when a Number cell's text (`excel_number_text`) has more than 15 significant digits
    before the decimals: Excel kept only the first 15, the others are zeros."""
    whole = re.split(r"[.,%]", text.lstrip("+-"), maxsplit=1)[0]
    return len(whole.lstrip("0")) > EXCEL_SIGNIFICANT_DIGITS


def serial_to_datetime(
    text: str, *, date_system: int, number_format: str = DEFAULT_NUMBER_FORMAT
) -> datetime:
    """The date (and time, for a fraction) that a serial number shows once the cell is
    formatted as a date, in the workbook's date system (1900 or 1904, openpyxl `wb.epoch`).

    Raises ValueProblem when the text is not a number or outside Excel's dates.
    """
    try:
        number = read_number(text, number_format)
    except ValueProblem as problem:
        raise ValueProblem(said(N_("non è una data valida (esempio: 31/12/2026)"))) from problem
    if not 1 <= number <= EXCEL_MAX_SERIAL:
        raise ValueProblem(
            said(
                N_(
                    "contiene il numero %(number)s, non una data: formatta la colonna come "
                    "data (esempio: 31/12/2026)"
                ),
                number=text,
            )
        )
    value = from_excel(float(number), DATE_SYSTEMS.get(date_system, CALENDAR_WINDOWS_1900))
    if not isinstance(value, datetime):  # pragma: no cover - serials >= 1 are datetimes
        raise ValueProblem(said(N_("non è una data valida (esempio: 31/12/2026)")))
    # Excel shows times to the second; the double behind a fraction is not exact.
    if value.microsecond >= 500_000:
        value += timedelta(seconds=1)
    return value.replace(microsecond=0)
