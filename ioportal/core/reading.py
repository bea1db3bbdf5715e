"""How the portal reads what a person writes: numbers, amounts and identifiers, one reader
everywhere (the list import, every form).

Numbers are read with a convention, the one the operator chose at upload for a file, the
page's language for a form (`form_number_format`):

- ``it`` (the default), Italian: ``1.234,56``. The dot groups thousands (groups of exactly three
  digits), the comma starts the decimals: ``1.500`` is 1500, ``12.345`` is 12345, ``2,5`` is 2.5.
- ``en``, English: ``1,234.56``. The comma groups thousands, the dot starts the decimals.

A value that does not fit the chosen convention is rejected with a reason, never reinterpreted:
under the Italian convention ``1,000.00`` and ``12.5`` are refused, not read as 1 or 125. So the
same text gives the same number whatever field or placeholder it fills; an integer then refuses
a number with decimals. A form is stricter than a file (`read_typed_integer`,
`read_typed_euro_cents`): a count typed with decimals (``2,000``) or an amount with more than
two (``1,500``) is more likely a thousand written the other way than what it says, so it is
refused, never read as 2 or 1,50 euro.

Identifiers (fiscal codes, notice numbers, service ids) are read by `clean_identifier`: every
space and invisible character removed, as notices print them in groups.
"""

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import get_language, gettext_lazy, pgettext
from django.utils.translation import gettext_noop as N_

from ioportal.core.io_texts import Part, reason_text, said

ITALIAN = "it"
ENGLISH = "en"
DEFAULT_NUMBER_FORMAT = ITALIAN
# Excel shows at most 15 significant digits
# (https://learn.microsoft.com/office/troubleshoot/excel/last-digits-changed-to-zeros): a
# number of more digits before the decimals is refused.
EXCEL_SIGNIFICANT_DIGITS = 15

# A currency word or sign written next to an amount: "€ 12", "12,50 €", "1.500 EUR", "12 euro".
CURRENCY_RE = re.compile(r"^(?:euro|eur|€)\s*|\s*(?:euro|eur|€)$", re.IGNORECASE)


class ValueProblem(ValueError):
    """A cell or a typed value that cannot be read as its type. Its argument is the reason,
    stored untranslated (core.io_texts.Part, `part`, e.g. in a rejected row; a text is taken as
    already written); str() gives it in the active language, for a form that shows it at once."""

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


class TooLarge(ValueProblem):
    """A number of more than 15 digits before the decimals."""


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
        raise TooLarge(said(N_("ha più di 15 cifre")))
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


def reason_sentence(problem: ValueProblem | str) -> str:
    """A reason of this module ("non è un importo in euro…") as a sentence of its own, shown
    next to the field or column it is about: "Non è un importo in euro…"."""
    text = str(problem).rstrip(".")
    # Italian drops the subject ("Non è una data valida."); the English translation gives the
    # sentence one ("This value is not a valid date.").
    sentence = pgettext("reason without a subject", "%(problem)s") % {"problem": text}
    return f"{sentence[:1].upper()}{sentence[1:]}."


# --- Typed in a form -------------------------------------------------------------------------


class NotAWholeNumber(ValueProblem):
    """A number written with decimals where a whole number is expected ("2,5", "2,0")."""


def form_number_format() -> str:
    """The convention of a number typed in a form: the page's, as it prints numbers (1.000 in
    Italian, 1,000 in English)."""
    return ENGLISH if (get_language() or "").startswith("en") else ITALIAN


def _written_decimals(text: str, number_format: str) -> str | None:
    """The decimals written in `text`, a number `read_number` read under `number_format`
    ("1.500,50" -> "50"); None when it has no decimal separator."""
    whole, separator, fraction = _plain(text).partition(_number_format(number_format).decimal)
    return fraction if separator else None


def read_typed_integer(text: str, number_format: str = DEFAULT_NUMBER_FORMAT) -> int:
    """A whole number typed in a form (a count, days): `read_number` without any decimals, even
    zeros ("2,0"; in Italian "2,000", more often a thousand written the English way than two),
    and without a currency sign. Raises ValueProblem (NotAWholeNumber for decimals, TooLarge
    for more than 15 digits)."""
    if CURRENCY_RE.search(" ".join(strip_invisible(text).split())):
        raise NotANumber(
            said(
                N_("non è un numero nel formato %(chosen)s (esempio: %(example)s)"),
                chosen=number_format_part(number_format),
                example=_number_format(number_format).example,
            )
        )
    number = read_number(text, number_format)
    if _written_decimals(text, number_format) is not None:
        raise NotAWholeNumber(said(N_("non è un numero intero")))
    return int(number)


def read_typed_euro_cents(text: str, number_format: str = DEFAULT_NUMBER_FORMAT) -> int:
    """An amount in euro typed in a form, as integer cents: `read_euro_cents`, with at most two
    decimals written, even zeros ("1,500" is refused: in a form it is more often a thousand
    written the English way than 1,50 euro). Raises ValueProblem as `read_euro_cents`."""
    cents = read_euro_cents(text, number_format)
    decimals = _written_decimals(text, number_format)
    if decimals is not None and len(decimals) > 2:
        raise ValueProblem(
            said(
                N_(
                    "ha più di due decimali: indica l'importo in euro con i centesimi "
                    "(esempio: %(ex)s)"
                ),
                ex=_number_format(number_format).example,
            )
        )
    return cents


def format_typed_cents(cents: int, number_format: str = DEFAULT_NUMBER_FORMAT) -> str:
    """Cents as a form shows them back, in the convention it reads: "1.500,00" in Italian,
    "1,500.00" in English."""
    text = format_cents(cents)
    if _number_format(number_format).code == ENGLISH:
        return text.translate(str.maketrans(".,", ",."))
    return text
