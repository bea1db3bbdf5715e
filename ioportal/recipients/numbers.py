"""Numbers and dates read exactly as the person sees them in the file: one reader everywhere.

Every number of a recipient list (amounts, integer and decimal placeholders, euro placeholders)
goes through `read_number` with the convention the operator chose at upload:

- ``it`` (the default), Italian: ``1.234,56``. The dot groups thousands (groups of exactly three
  digits), the comma starts the decimals: ``1.500`` is 1500, ``12.345`` is 12345, ``2,5`` is 2.5.
- ``en``, English: ``1,234.56``. The comma groups thousands, the dot starts the decimals.

A value that does not fit the chosen convention is rejected with a reason, never reinterpreted:
under the Italian convention ``1,000.00`` and ``12.5`` are refused, not read as 1 or 125. So the
same cell gives the same number whatever placeholder type it fills; an integer placeholder then
refuses a number with decimals.

XLSX Number cells hold a binary double; Excel shows at most 15 significant digits
(https://learn.microsoft.com/office/troubleshoot/excel/last-digits-changed-to-zeros), so
`excel_number_text` writes them that way (a formula giving 0.30000000000000004 is 0.3), in the
chosen convention. A whole number with more than 15 significant digits has lost its last digits
(`lost_digits`): an identifier from such a cell is refused by the validation. Serial numbers in
date columns become dates with the workbook's date system (`serial_to_datetime`).
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_noop as N_
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

from ioportal.core.io_texts import Part, reason_text, said

ITALIAN = "it"
ENGLISH = "en"
DEFAULT_NUMBER_FORMAT = ITALIAN
EXCEL_SIGNIFICANT_DIGITS = 15
# Excel's General format shows a whole number of more digits than this in scientific notation
# (in a column of the default width).
EXCEL_GENERAL_DIGITS = 11
# General shows a number closer to zero than this in scientific notation (1E-05).
EXCEL_GENERAL_SMALLEST = Decimal("0.0001")
# Excel's last date, 9999-12-31, as a serial number of the 1900 date system.
EXCEL_MAX_SERIAL = 2_958_465
DATE_SYSTEMS = {1900: CALENDAR_WINDOWS_1900, 1904: CALENDAR_MAC_1904}

# A currency word or sign written next to an amount: "€ 12", "12,50 €", "1.500 EUR", "12 euro".
CURRENCY_RE = re.compile(r"^(?:euro|eur|€)\s*|\s*(?:euro|eur|€)$", re.IGNORECASE)


class ValueProblem(ValueError):
    """A cell that cannot be read as its type. Its argument is the reason, stored
    untranslated (core.io_texts.Part, `part`, e.g. in a rejected row); str() gives it in the
    active language, for a form that shows it at once."""

    @property
    def part(self) -> Part:
        reason = self.args[0] if self.args else ""
        return reason if isinstance(reason, dict) else {"text": str(reason)}

    def __str__(self) -> str:
        return reason_text(self.part)


class Percentage(ValueProblem):
    """A number followed by "%" ("10,00%", a Number cell formatted as a percentage): refused
    where a number or an amount is expected, saying so."""


class NotANumber(ValueProblem):
    """Text that is a number in neither convention ("dieci", "12,3,4")."""


class OtherDigits(NotANumber):
    """A number written with digits other than 0-9 (Arabic-Indic "١٢", full-width "１０")."""


class OtherNumberFormat(ValueProblem):
    """A number that fits the other convention, not the chosen one ("1,000.00" read as
    Italian): refused all the same; the list page suggests uploading with the other one."""


@dataclass(frozen=True)
class NumberFormat:
    code: str
    thousands: str
    decimal: str
    example: str
    pattern: re.Pattern[str]


def _pattern(thousands: str, decimal: str) -> re.Pattern[str]:
    t, d = re.escape(thousands), re.escape(decimal)
    # A grouped number never starts with a zero group: "0.500" is not five hundred.
    # Only the digits 0-9: Python's \d (and Decimal) would read "١٢" or "１０" as 12 and 10.
    return re.compile(rf"^[+-]?(?:[1-9][0-9]{{0,2}}(?:{t}[0-9]{{3}})+|[0-9]+)(?:{d}[0-9]+)?$")


SPACE_GROUPS_RE = re.compile(r"^[+-]?[1-9][0-9]{0,2}(?: [0-9]{3})+$")
NUMBER_FORMATS = {
    ITALIAN: NumberFormat(ITALIAN, ".", ",", "1.234,56", _pattern(".", ",")),
    ENGLISH: NumberFormat(ENGLISH, ",", ".", "1,234.56", _pattern(",", ".")),
}
NUMBER_FORMAT_CHOICES = [
    (ITALIAN, gettext_lazy("Italiano: 1.234,56 (punto per le migliaia, virgola per i decimali)")),
    (ENGLISH, gettext_lazy("Inglese: 1,234.56 (virgola per le migliaia, punto per i decimali)")),
]


def number_format_name(code: str) -> str:
    return str(reason_text(number_format_part(code)))


def number_format_part(code: str) -> Part:
    """The convention's name ("italiano", "inglese") to translate when shown."""
    return said(N_("italiano")) if code != ENGLISH else said(N_("inglese"))


def strip_invisible(value: str) -> str:
    """`value` without invisible formatting characters anywhere: every Unicode format
    character (category Cf), such as the zero-width space, non-joiner and joiner, the word
    joiner, the soft hyphen, the byte order mark and the direction marks. They come along when
    a value is copied from a web page, a PDF or a word processor and the cell does not show
    them, so they are never part of what the person sees."""
    if value.isascii():
        return value
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cf")


def clean_identifier(value: str) -> str:
    """An identifier (fiscal code, notice number, payee code) as the person reads it:
    invisible formatting characters and every space (plain, no-break, narrow no-break, thin...)
    removed anywhere, since an identifier has none."""
    stripped = value.strip()
    if stripped.isascii() and " " not in stripped and "\t" not in stripped:
        return stripped  # the usual case, without the per-character scan
    return "".join(strip_invisible(stripped).split())


def _number_format(code: str) -> NumberFormat:
    return NUMBER_FORMATS.get(code, NUMBER_FORMATS[DEFAULT_NUMBER_FORMAT])


def _plain(text: str) -> str:
    """The number part of a cell: invisible characters dropped, every kind of space made a
    plain one, a currency sign or word around it ("€ 12", "12 €", "1.500 EUR") removed."""
    cleaned = text.strip()
    if not cleaned.isascii() or " " in cleaned or "\t" in cleaned:
        cleaned = " ".join(strip_invisible(cleaned).split())
    if cleaned[-1:].isdigit() and cleaned[:1].isdigit():
        return cleaned  # the usual case: no currency sign or word around the number
    return CURRENCY_RE.sub("", cleaned, count=1)


def _parse(cleaned: str, number_format: NumberFormat) -> Decimal | None:
    if " " in cleaned:
        # Thousands may also be grouped by spaces, in groups of three ("1 234,56").
        whole, decimal, fraction = cleaned.partition(number_format.decimal)
        if not SPACE_GROUPS_RE.match(whole):
            return None
        cleaned = whole.replace(" ", number_format.thousands) + decimal + fraction
    if not number_format.pattern.match(cleaned):
        return None
    canonical = cleaned.replace(number_format.thousands, "").replace(number_format.decimal, ".")
    try:
        return Decimal(canonical)
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        return None


def _is_percentage(text: str, chosen: NumberFormat) -> bool:
    """Whether `text` is a number of the convention followed by "%" ("10,00%", as a Number
    cell formatted as a percentage reads)."""
    stripped = text.strip()
    return stripped.endswith("%") and _parse(_plain(stripped[:-1]), chosen) is not None


def read_number(text: str, number_format: str = DEFAULT_NUMBER_FORMAT) -> Decimal:
    """The number written in `text` under the convention `number_format` ("it" or "en").

    Raises ValueProblem (Italian reason, to follow the field name) when the text is not a number
    of that convention, or has more than 15 digits before the decimals. No side effects.
    """
    chosen = _number_format(number_format)
    cleaned = _plain(text)
    number = _parse(cleaned, chosen)
    if number is None and _is_percentage(text, chosen):
        # A cell formatted as a percentage shows 10% for 0,1: which of the two the message
        # means is not for the portal to guess.
        raise Percentage(
            said(
                N_(
                    "è una percentuale (%(text)s), non un numero: scrivi il numero senza %% e "
                    "formatta la cella come numero"
                ),
                text=text.strip(),
            )
        )
    if number is None and not cleaned.isascii() and any(ch.isdigit() for ch in cleaned):
        raise OtherDigits(
            said(
                N_(
                    "contiene cifre diverse da 0-9 (%(text)s): scrivi il numero con le cifre "
                    "da 0 a 9"
                ),
                text=text.strip(),
            )
        )
    if number is None:
        other = NUMBER_FORMATS[ENGLISH if chosen.code == ITALIAN else ITALIAN]
        if _parse(cleaned, other) is not None:
            raise OtherNumberFormat(
                said(
                    N_(
                        "è scritto nel formato %(other)s (%(other_example)s), ma è atteso il "
                        "formato %(chosen)s (%(example)s)"
                    ),
                    other=number_format_part(other.code),
                    other_example=other.example,
                    chosen=number_format_part(chosen.code),
                    example=chosen.example,
                )
            )
        raise NotANumber(
            said(
                N_("non è un numero nel formato %(chosen)s (esempio: %(example)s)"),
                chosen=number_format_part(chosen.code),
                example=chosen.example,
            )
        )
    if abs(number) >= Decimal(10) ** EXCEL_SIGNIFICANT_DIGITS:
        raise ValueProblem(said(N_("ha più di 15 cifre")))
    return number


def read_integer(text: str, number_format: str = DEFAULT_NUMBER_FORMAT) -> int:
    """A whole number (`read_number`); "2,5" is refused, never rounded. Raises ValueProblem."""
    number = read_number(text, number_format)
    if number != number.to_integral_value():
        raise ValueProblem(said(N_("non è un numero intero")))
    return int(number)


def read_euro_cents(text: str, number_format: str = DEFAULT_NUMBER_FORMAT) -> int:
    """An amount in euro ("1.234,56", "€ 12") as integer cents; at most two decimals.

    Raises ValueProblem with a reason that speaks of euro (Percentage for "10,00%").
    """
    chosen = _number_format(number_format)
    try:
        number = read_number(text, number_format)
    except Percentage as problem:
        raise Percentage(
            said(N_("è una percentuale (%(text)s), non un importo"), text=text.strip())
        ) from problem
    except OtherDigits as problem:
        raise OtherDigits(
            said(
                N_(
                    "contiene cifre diverse da 0-9 (%(text)s): scrivi l'importo con le cifre "
                    "da 0 a 9 (esempio: %(example)s)"
                ),
                text=text.strip(),
                example=chosen.example,
            )
        ) from problem
    except NotANumber as problem:
        # Said once: "non è un importo in euro nel formato italiano", not "non è un importo
        # in euro: non è un numero nel formato italiano".
        raise NotANumber(
            said(
                N_("non è un importo in euro nel formato %(chosen)s (esempio: %(example)s)"),
                chosen=number_format_part(chosen.code),
                example=chosen.example,
            )
        ) from problem
    except ValueProblem as problem:
        # Same class: a number of the other convention stays recognisable as such.
        raise type(problem)(
            said(N_("non è un importo in euro: %(problem)s"), problem=problem.part)
        ) from problem
    if number != number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP):
        raise ValueProblem(
            said(
                N_(
                    "ha più di due decimali: indica l'importo in euro con i centesimi "
                    "(esempio: %(ex)s)"
                ),
                ex=chosen.example,
            )
        )
    return int(number * 100)


def format_decimal(number: Decimal, places: int | None = None) -> str:
    """Italian notation, as the citizen reads it: thousands with a dot, decimals with a comma."""
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if number < 0 else ""
    text = f"{abs(number):f}"
    whole, _sep, fraction = text.partition(".")
    groups = f"{int(whole):,}".replace(",", ".")
    return f"{sign}{groups},{fraction}" if fraction else f"{sign}{groups}"


def format_cents(cents: int) -> str:
    """Cents as euro in Italian notation without the sign: 123456 -> "1.234,56" (what
    `format_decimal` gives for the amount with two decimals, in integer arithmetic)."""
    whole, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return f"{sign}{whole:,}".replace(",", ".") + f",{rest:02d}"


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
