"""The name of an attachment file: as shown and sent to IO, and as matched with the list's
file-name column. One rule for the ZIP's entries, the list's cells and the hand-over at launch.
"""

import unicodedata


def visible_file_name(name: str) -> str:
    """`name` as the person sees it: Unicode NFC, without invisible formatting characters
    (category Cf: zero-width space and joiners, word joiner, soft hyphen, byte order mark),
    every kind of space (no-break, narrow no-break) a plain space. A name pasted into a cell
    from a web page or a PDF then matches the ZIP's entry of the same name."""
    name = unicodedata.normalize("NFC", name)
    if name.isascii():
        return name
    return "".join(" " if ch.isspace() else ch for ch in name if unicodedata.category(ch) != "Cf")


def attachment_display_name(name: str) -> str:
    """Only the last path component of `visible_file_name`, printable, at most 255
    characters; "allegato.pdf" when nothing is left: it is shown and sent to IO."""
    base = visible_file_name(name).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip() or "allegato.pdf"
    return base[-255:]


def attachment_key(name: str) -> str:
    """The key a file name is matched with: its display name (macOS writes "più" decomposed,
    Windows composed: NFC makes them one), casefolded, NFC again (casefolding may decompose)."""
    return unicodedata.normalize("NFC", attachment_display_name(name).casefold())
