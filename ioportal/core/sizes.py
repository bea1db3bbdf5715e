"""File sizes as operators read them, exactly and in one set of units everywhere: KB is
1,024 bytes and MB is 1,048,576 bytes (2^20, the unit of the *_MB settings; README,
"Configuration"), numbers written as the page's reader writes them."""

from ioportal.core.numbers import grouped

KILOBYTE = 1024
MEGABYTE = 1024 * 1024


def size_text(size: int) -> str:
    """`size` bytes in the largest unit that states it exactly, in the active language's
    notation: 10_485_760 → "10 MB", 2_147_483_648 → "2.048 MB" in Italian and "2,048 MB"
    in English, 51_200 → "50 KB", 50_000 → "50.000 byte" (never a rounded figure)."""
    if size and size % MEGABYTE == 0:
        return f"{grouped(size // MEGABYTE)} MB"
    if size and size % KILOBYTE == 0:
        return f"{grouped(size // KILOBYTE)} KB"
    return f"{grouped(size)} byte"
