"""File sizes as operators read them: one unit everywhere, the megabyte of 1,000,000 bytes
(the unit of the *_MB settings), written as the page's reader writes numbers."""

from decimal import ROUND_HALF_EVEN, Decimal

from ioportal.core.numbers import grouped

MEGABYTE = 1_000_000


def megabytes(size: int) -> str:
    """`size` bytes in MB with at most one decimal, in the active language's notation:
    20_000_000 → "20", 10_485_760 → "10,5" in Italian and "10.5" in English."""
    value = (Decimal(size) / MEGABYTE).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    if value == value.to_integral_value():
        return grouped(int(value))
    return grouped(value)
