"""Numbers as the page's reader writes them: 2.000 and 2.499.017,57 in Italian, 2,000 in
English, whatever the settings say about grouping. Every count a page or a message shows
goes through `grouped` (in templates, the `grouped` filter, a builtin)."""

from decimal import Decimal
from typing import Any

from django.utils.formats import number_format


def grouped(value: Any, decimals: int | None = None) -> str:
    """`value` (an int, float or Decimal, or a string of one) with the thousands separator of
    the active language; anything else (None, "", a word) as it is."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        try:
            value = Decimal(value) if "." in value else int(value)
        except (ValueError, ArithmeticError):
            return value
    if not isinstance(value, int | float | Decimal):
        return "" if value is None else str(value)
    return number_format(value, decimals, use_l10n=True, force_grouping=True)


def euro_amount(cents: int) -> str:
    """An amount in euro cents as the page's reader writes it, without the sign: 123456 →
    "1.234,56" in Italian, "1,234.56" in English (for a value IO or the citizen reads, or
    a file documented as Italian, `recipients.numbers.format_cents` instead)."""
    return grouped(Decimal(cents).scaleb(-2), 2)
