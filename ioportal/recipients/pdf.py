"""Validation of PDF attachments before they are stored.

The file must be a PDF by content (magic bytes and a successful parse with pypdf, and no HTML
or script markup outside its streams, which would make it a PDF/HTML polyglot), within
the size and page limits, not encrypted, and without active content: JavaScript, automatic
actions, launch actions or embedded files. IO asks for PDF/A: a missing PDF/A declaration
in the XMP metadata is a warning, not an error (the declaration is not proof of
conformance; veraPDF is the real validator).
"""

import io
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_noop as N_
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from ioportal.core.io_texts import Part, reason_text, said
from ioportal.core.sizes import size_text

PDF_MAGIC = b"%PDF-"
# Walking a pathological object graph must not take the web process down.
MAX_OBJECTS = 200_000

# Dictionary keys that mean active content, and the kind of problem each one is.
FORBIDDEN_KEYS = {
    "/JavaScript": "javascript",
    "/JS": "javascript",
    "/AA": "automatic_action",
    "/EmbeddedFiles": "embedded_file",
    "/EF": "embedded_file",
    "/RichMedia": "embedded_file",
    "/XFA": "javascript",
}
# Action types (/S) that run something or leave the document.
FORBIDDEN_ACTIONS = {
    "/JavaScript": "javascript",
    "/Launch": "launch",
    "/ImportData": "launch",
    "/SubmitForm": "launch",
    "/GoToE": "embedded_file",
    "/RichMediaExecute": "javascript",
}
FORBIDDEN_TYPES = {"/EmbeddedFile": "embedded_file"}
FORBIDDEN_SUBTYPES = {"/FileAttachment": "embedded_file", "/RichMedia": "embedded_file"}

# Markup that makes a browser, a mail client or a preview read the file as a web page (a
# PDF/HTML polyglot). Inside streams it is page content or metadata (XMP is XML), so only the
# bytes outside `stream … endstream` are searched; a stream starts after a dictionary's `>>`.
MARKUP_RE = re.compile(
    rb"<\s*/?\s*(?:script|html|body|head|iframe|frame|svg|object|embed|meta|img|link|style|"
    rb"form|!doctype)\b",
    re.IGNORECASE,
)
STREAM_RE = re.compile(rb">>\s*stream(?:\r\n|\n|\r).*?(?:endstream|\Z)", re.DOTALL)
PDFA_PART_RE = re.compile(rb"pdfaid:part(?:>|\s*=\s*[\"'])\s*([1-4])")
PDFA_CONFORMANCE_RE = re.compile(rb"pdfaid:conformance(?:>|\s*=\s*[\"'])\s*([ABUFEabufe])")


class PdfValidationError(Exception):
    """The file is refused: `parts` the reasons stored untranslated (core.io_texts.Part),
    `messages` the same in the active language, for the operator."""

    def __init__(self, parts: list[Part]) -> None:
        self.parts = parts
        super().__init__("; ".join(self.messages))

    @property
    def messages(self) -> list[str]:
        return [reason_text(part) for part in self.parts]


@dataclass
class PdfCheck:
    """What validation learned about an accepted file."""

    size: int
    page_count: int
    pdfa: str = ""  # e.g. "PDF/A-2A", "" when not declared
    # Stored untranslated (core.io_texts.Part).
    warnings: list[Part] = field(default_factory=list)


def _problem_message(kind: str) -> Part:
    return said(
        {
            "javascript": N_("Il PDF contiene codice JavaScript o moduli attivi, non ammessi."),
            "automatic_action": N_(
                "Il PDF contiene azioni automatiche all'apertura o alla visualizzazione, non "
                "ammesse."
            ),
            "launch": N_(
                "Il PDF contiene azioni che avviano programmi o inviano dati, non ammesse."
            ),
            "embedded_file": N_(
                "Il PDF contiene file incorporati o allegati interni, non ammessi."
            ),
        }[kind]
    )


def _active_content(reader: PdfReader) -> list[str]:
    """The kinds of active content found by walking every object reachable from the trailer.

    Walking the parsed objects (not grepping the bytes) also finds what sits in compressed
    object streams. /OpenAction is refused when it is an action; a plain destination array
    (which page to show first) is what many PDF producers write and is harmless.
    """
    found: set[str] = set()
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [reader.trailer]
    visited = 0
    while stack:
        node = stack.pop()
        if isinstance(node, IndirectObject):
            ref = (node.idnum, node.generation)
            if ref in seen:
                continue
            seen.add(ref)
            node = node.get_object()
        visited += 1
        if visited > MAX_OBJECTS:
            raise PdfValidationError([said(N_("Il PDF ha una struttura troppo complessa."))])
        if isinstance(node, DictionaryObject):  # StreamObject is one too
            for key, value in node.items():
                if key in FORBIDDEN_KEYS:
                    found.add(FORBIDDEN_KEYS[key])
                elif key == "/OpenAction":
                    action = value.get_object() if isinstance(value, IndirectObject) else value
                    if isinstance(action, DictionaryObject):
                        found.add("automatic_action")
                elif key == "/S" and str(value) in FORBIDDEN_ACTIONS:
                    found.add(FORBIDDEN_ACTIONS[str(value)])
                elif key == "/Type" and str(value) in FORBIDDEN_TYPES:
                    found.add(FORBIDDEN_TYPES[str(value)])
                elif key == "/Subtype" and str(value) in FORBIDDEN_SUBTYPES:
                    found.add(FORBIDDEN_SUBTYPES[str(value)])
                if key != "/Parent":  # back-pointers only lead to where we came from
                    stack.append(value)
        elif isinstance(node, ArrayObject):
            stack.extend(node)
    order = ["javascript", "automatic_action", "launch", "embedded_file"]
    return [kind for kind in order if kind in found]


def _pdfa_declaration(reader: PdfReader) -> str:
    """ "PDF/A-<part><conformance>" from the catalog's XMP metadata, or ""."""
    root = reader.trailer["/Root"]
    metadata = root.get("/Metadata") if isinstance(root, DictionaryObject) else None
    if metadata is None:
        return ""
    stream = metadata.get_object()
    if not isinstance(stream, StreamObject):
        return ""
    try:
        xmp = stream.get_data()
    except Exception:  # a broken metadata stream is no declaration, not a crash
        return ""
    part = PDFA_PART_RE.search(xmp)
    if part is None:
        return ""
    conformance = PDFA_CONFORMANCE_RE.search(xmp)
    suffix = conformance.group(1).decode().upper() if conformance else ""
    return f"PDF/A-{part.group(1).decode()}{suffix}"


def markup_outside_streams(data: bytes) -> bool:
    """Whether the file carries HTML or script markup outside its streams."""
    return MARKUP_RE.search(STREAM_RE.sub(b">> ", data)) is not None


def validate_pdf(data: bytes, *, name: str = "") -> PdfCheck:
    """Check `data` (the whole file) as a Premium attachment.

    Returns a PdfCheck for an acceptable file (warnings included); raises
    PdfValidationError with every reason otherwise (stored untranslated). No side effects.
    """
    max_bytes: int = settings.REMOTE_CONTENT_MAX_PDF_BYTES
    max_pages: int = settings.REMOTE_CONTENT_MAX_PDF_PAGES
    if name and not name.lower().endswith(".pdf"):
        raise PdfValidationError([said(N_("Il nome del file deve terminare con «.pdf»."))])
    if not data:
        raise PdfValidationError([said(N_("Il file è vuoto."))])
    if len(data) > max_bytes:
        limit = size_text(max_bytes)
        raise PdfValidationError(
            [said(N_("Il file supera la dimensione massima di %(size)s."), size=limit)]
        )
    if not data.startswith(PDF_MAGIC):
        raise PdfValidationError(
            [said(N_("Il file non è un PDF (il contenuto non inizia con %PDF-)."))]
        )
    if markup_outside_streams(data):
        raise PdfValidationError(
            [
                said(
                    N_(
                        "Il file contiene codice HTML o script fuori dal contenuto del PDF: un "
                        "browser potrebbe aprirlo come pagina web. Rigeneralo dal programma "
                        "originale."
                    )
                )
            ]
        )
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise PdfValidationError(
                [
                    said(
                        N_(
                            "Il PDF è cifrato o protetto da password: caricane una versione "
                            "non protetta."
                        )
                    )
                ]
            )
        page_count = len(reader.pages)
        problems = _active_content(reader)
        pdfa = _pdfa_declaration(reader)
    except PdfValidationError:
        raise
    except Exception:  # untrusted input: whatever the parser raises means "not readable"
        raise PdfValidationError(
            [said(N_("Il file non è un PDF leggibile: è danneggiato o incompleto."))]
        ) from None
    errors = [_problem_message(kind) for kind in problems]
    if page_count < 1:
        errors.append(said(N_("Il PDF non ha pagine.")))
    elif page_count > max_pages:
        errors.append(
            said(
                N_("Il PDF ha %(pages)s pagine: il massimo è %(max)s."),
                pages=page_count,
                max=max_pages,
            )
        )
    if errors:
        raise PdfValidationError(errors)
    warnings: list[Part] = []
    if not pdfa:
        warnings.append(
            said(
                N_(
                    "Il PDF non dichiara la conformità PDF/A: IO richiede allegati PDF/A "
                    "e potrebbe non mostrarlo correttamente."
                )
            )
        )
    return PdfCheck(size=len(data), page_count=page_count, pdfa=pdfa, warnings=warnings)
