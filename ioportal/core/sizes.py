"""File sizes as operators read them: one unit everywhere, the megabyte of 1,000,000 bytes
(the unit of the *_MB settings), written the Italian way."""

MEGABYTE = 1_000_000


def megabytes(size: int) -> str:
    """`size` bytes in MB with at most one decimal: 20_000_000 → "20", 10_485_760 → "10,5"."""
    text = f"{size / MEGABYTE:.1f}".removesuffix(".0")
    return text.replace(".", ",")
