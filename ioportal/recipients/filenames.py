"""The name of an attachment file: as shown and sent to IO, and as matched with the list's
file-name column. One rule for the ZIP's entries, the list's cells and the hand-over at launch.
"""

import unicodedata


def attachment_display_name(name: str) -> str:
    """Only the last path component, printable, Unicode NFC, at most 255 characters;
    "allegato.pdf" when nothing is left: it is shown and sent to IO."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip() or "allegato.pdf"
    return base[-255:]


def attachment_key(name: str) -> str:
    """The key a file name is matched with: its display name (macOS writes "più" decomposed,
    Windows composed: NFC makes them one), casefolded, NFC again (casefolding may decompose)."""
    return unicodedata.normalize("NFC", attachment_display_name(name).casefold())
