"""The proof of sending: one PDF per delivery that reached IO, and a ZIP of a dispatch's proofs.

A proof names the organization, the service, the recipient (fiscal code in clear: it is a
document for the office), the content as the citizen received it with its SHA-256
(`recipients.rendering.content_sha256`, the same for the same delivery at any time), the IO
message id, every status with its time, the author and the approver.

The same delivery in the same state gives the same PDF bytes: the text is always Italian, the
document's date is the delivery's submission time (not the time of generation, which the
audit trail keeps) and fpdf2 writes nothing random. The fonts are DejaVu Sans reduced to the
scripts a message uses (fonts/README.md): fpdf2's built-in fonts know only Latin-1, without
the euro sign nor the letters of many citizens' names (ł, ș, ő).

A proof exists only for a delivery with an IO message id, and only until the retention purge
removed the dispatch's personal data (messaging.retention).
"""

import io
import logging
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ioportal.core.crypto import DecryptionError
from ioportal.core.fiscalcode import reveal_fiscal_code
from ioportal.ioapi import NewMessage
from ioportal.messaging import availability
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.messaging.windows import ROME
from ioportal.recipients.rendering import content_sha256, delivery_message
from ioportal.remotecontent.models import Attachment
from ioportal.remotecontent.services import attachments_for_delivery
from ioportal.sending.outcomes import describe_delivery
from ioportal.sending.status import payment_status_text, read_status_text

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"
# A4 portrait, millimetres.
LABEL_WIDTH = 46  # leaves 134 mm: a SHA-256 of 64 digits at 9 pt needs 130
LINE_HEIGHT = 5.5
# Deliveries read per query while a ZIP is written.
ZIP_CHUNK = 200
SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9_-]")

# fpdf2 reduces the fonts to the characters used through fontTools, which logs a dozen INFO
# lines per PDF: thousands for one ZIP.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)


class ProofUnavailable(Exception):
    """The delivery has no proof; `message` says why, in Italian, for the page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Shared with the pages that offer the downloads (messaging.availability).
proof_refusal = availability.delivery_proof_refusal
dispatch_proof_refusal = availability.dispatch_proofs_refusal
proof_deliveries = availability.proof_deliveries


def delivery_content_sha256(delivery: Delivery) -> str:
    """The SHA-256 of what the citizen received (64 hex digits); no fiscal code needed, the
    hash leaves the recipient out (recipients.rendering.content_sha256)."""
    return content_sha256(delivery_message(delivery, ""))


def proof_filename(delivery: Delivery) -> str:
    """`prova-invio-<IO id>.pdf` ("delivery-proof-…" in English), with only letters, digits,
    `-` and `_` from the id."""
    name = pgettext("file name", "prova-invio")
    return f"{name}-{SAFE_NAME_RE.sub('_', delivery.io_message_id or '')}.pdf"


def proof_pdf(delivery: Delivery, *, attachments: list[Attachment] | None = None) -> bytes:
    """The proof of `delivery` as PDF bytes (dispatch, service, organization, author and
    approver loaded by the caller or lazily). `attachments` defaults to the delivery's
    (remotecontent.attachments_for_delivery). Raises ProofUnavailable (proof_refusal, or a
    fiscal code that cannot be decrypted). Audit is the caller's job."""
    refusal = proof_refusal(delivery)
    if refusal:
        raise ProofUnavailable(refusal)
    try:
        fiscal_code = reveal_fiscal_code(delivery.fiscal_code_encrypted)
    except DecryptionError as exc:
        raise ProofUnavailable(
            _("Il codice fiscale non è leggibile (chiave di cifratura errata).")
        ) from exc
    if attachments is None:
        attachments = (
            attachments_for_delivery(delivery)
            if delivery.dispatch.feature_level == FeatureLevel.ADVANCED
            else []
        )
    with translation.override("it"):
        return _render(_facts(delivery, fiscal_code, attachments))


def dispatch_proofs_zip(dispatch: Dispatch) -> Iterator[bytes]:
    """A ZIP with one proof per delivery of `dispatch` that reached IO, as chunks of bytes
    written as they are made: memory holds one PDF at a time whatever the dispatch's size.
    A delivery whose proof cannot be made (fiscal code not readable) is listed in
    `non-incluse.txt` instead. Refusals and audit are the caller's job."""
    sink = _ZipSink()
    shared: list[Attachment] | None = None
    skipped: list[str] = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        deliveries = proof_deliveries(dispatch).select_related(
            "dispatch__organization",
            "dispatch__service",
            "dispatch__created_by",
            "dispatch__approved_by",
        )
        for delivery in deliveries.iterator(chunk_size=ZIP_CHUNK):
            attachments: list[Attachment] = []
            if dispatch.feature_level == FeatureLevel.ADVANCED:
                if shared is None:
                    shared = list(Attachment.objects.filter(dispatch=dispatch))
                attachments = shared + list(Attachment.objects.filter(delivery=delivery))
            try:
                pdf = proof_pdf(delivery, attachments=attachments)
            except ProofUnavailable as exc:
                skipped.append(f"{delivery.fiscal_code_masked}\t{exc.message}")
                continue
            info = zipfile.ZipInfo(proof_filename(delivery), _zip_time(_document_time(delivery)))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, pdf)
            yield sink.take()
        if skipped:
            name = f"{pgettext('file name', 'non-incluse')}.txt"
            info = zipfile.ZipInfo(name, _zip_time(timezone.now()))
            lines = [_("Consegne senza prova di invio"), *skipped, ""]
            archive.writestr(info, "\n".join(lines).encode("utf-8"))
    yield sink.take()


class _ZipSink(io.RawIOBase):
    """A write-only stream for zipfile: it cannot seek, so zipfile writes each entry's sizes
    after its data and every entry can leave as soon as it is written."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    local = timezone.localtime(moment, ROME)
    return (max(local.year, 1980), local.month, local.day, local.hour, local.minute, local.second)


def _document_time(delivery: Delivery) -> datetime:
    return delivery.submitted_at or delivery.created_at


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "–"
    local = timezone.localtime(moment, ROME)
    return f"{local:%d/%m/%Y %H:%M:%S} {local.tzname()}"


def _euro(cents: int) -> str:
    amount = formats.number_format(Decimal(cents) / 100, 2, use_l10n=True, force_grouping=True)
    return f"{amount} €"


def _person(user: Any) -> str:
    return str(user) if user is not None else "–"


@dataclass(frozen=True)
class _Facts:
    title: str
    sections: list[tuple[str, list[tuple[str, str]], str]]
    io_message_id: str
    created: datetime
    organization: str


def _content_rows(message: NewMessage, dispatch: Dispatch) -> list[tuple[str, str]]:
    payment = message.payment_data
    rows = [
        (_("Tipo di messaggio"), str(FeatureLevel(dispatch.feature_level).label)),
        (_("Oggetto"), message.subject),
        (_("Scadenza"), _when(message.due_date) if message.due_date else "–"),
        (_("Importo"), _euro(payment.amount) if payment else "–"),
        (_("Codice avviso pagoPA"), payment.notice_number if payment else "–"),
    ]
    if payment and payment.payee_fiscal_code:
        rows.append((_("Ente creditore"), payment.payee_fiscal_code))
    if payment and payment.invalid_after_due_date:
        rows.append((_("Avviso"), _("non pagabile dopo la scadenza")))
    return rows


def _status_rows(delivery: Delivery) -> list[tuple[str, str]]:
    rows = [
        (_("Stato"), str(delivery.get_state_display())),
        (_("Esito"), describe_delivery(delivery)),
        (_("Messaggio preparato"), _when(delivery.created_at)),
        (_("Primo tentativo"), _when(delivery.first_attempt_at)),
        (_("Accettato da IO"), _when(delivery.submitted_at)),
    ]
    if delivery.state == Delivery.State.PROCESSED:
        rows.append((_("Consegnato"), _when(delivery.finished_at)))
    elif delivery.finished_at:
        rows.append((str(delivery.get_state_display()), _when(delivery.finished_at)))
    if delivery.read_status or delivery.read_at:
        read = read_status_text(delivery.read_status) or "–"
        rows.append((_("Lettura"), f"{read} ({_when(delivery.read_at)})"))
    if delivery.payment_status or delivery.paid_at:
        paid = payment_status_text(delivery.payment_status) or "–"
        rows.append((_("Pagamento"), f"{paid} ({_when(delivery.paid_at)})"))
    return rows


def _facts(delivery: Delivery, fiscal_code: str, attachments: list[Attachment]) -> _Facts:
    dispatch = delivery.dispatch
    organization = dispatch.organization
    service = dispatch.service
    message = delivery_message(delivery, fiscal_code)
    approval = (
        f"{_person(dispatch.approved_by)}, {_when(dispatch.approved_at)}"
        if dispatch.approved_by_id
        else _("non richiesta")
    )
    sections: list[tuple[str, list[tuple[str, str]], str]] = [
        (
            _("Mittente"),
            [
                (
                    _("Ente"),
                    f"{organization.name} ({_('codice fiscale')} {organization.fiscal_code})",
                ),
                (_("Servizio IO"), service.name),
                (_("Id del servizio IO"), service.service_id),
            ],
            "",
        ),
        (_("Destinatario"), [(_("Codice fiscale"), fiscal_code)], ""),
        (
            _("Invio"),
            [
                (_("Id del messaggio in IO"), delivery.io_message_id or "–"),
                (_("Data e ora di invio"), _when(delivery.submitted_at)),
                (_("Invio"), dispatch.title),
                (_("Id dell'invio nel portale"), str(dispatch.public_id)),
                (_("Id della consegna nel portale"), str(delivery.public_id)),
                (_("Autore"), _person(dispatch.created_by)),
                (_("Approvazione"), approval),
            ],
            "",
        ),
        (
            _("Contenuto"),
            [
                *_content_rows(message, dispatch),
                (_("Impronta SHA-256 del contenuto"), content_sha256(message)),
            ],
            message.markdown,
        ),
    ]
    if attachments:
        sections.append(
            (
                _("Allegati"),
                [
                    row
                    for a in attachments
                    for row in ((_("File"), a.original_name), ("SHA-256", a.sha256 or "–"))
                ],
                "",
            )
        )
    sections.append((_("Stati del messaggio"), _status_rows(delivery), ""))
    return _Facts(
        title=_("Prova di invio di un messaggio tramite l'app IO"),
        sections=sections,
        io_message_id=delivery.io_message_id or "",
        created=_document_time(delivery),
        organization=organization.name,
    )


class _ProofPDF(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(90, 90, 90)
        page = _("Pagina %(page)s di %(pages)s") % {
            "page": self.page_no(),
            "pages": "{nb}",  # fpdf2 replaces it with the page count
        }
        self.cell(0, 5, f"{self.footer_text} – {page}", align="C")


def _render(facts: _Facts) -> bytes:
    pdf = _ProofPDF(format="A4")
    pdf.footer_text = _("Id del messaggio in IO %(id)s") % {"id": facts.io_message_id}
    pdf.set_creation_date(facts.created)
    pdf.set_title(facts.title)
    pdf.set_author(facts.organization)
    pdf.set_creator("ioportal")
    pdf.set_lang("it-IT")
    pdf.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(0, 8, facts.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(
        0, LINE_HEIGHT, facts.organization, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L"
    )
    for heading, rows, text in facts.sections:
        _section(pdf, heading)
        for label, value in rows:
            _row(pdf, label, value)
        if text:
            _text_block(pdf, text)
    return bytes(pdf.output())


def _section(pdf: FPDF, heading: str) -> None:
    pdf.ln(3)
    pdf.set_font(FONT, "B", 12)
    pdf.multi_cell(0, 7, heading, border="B", new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
    pdf.ln(1)


def _row(pdf: FPDF, label: str, value: str) -> None:
    # Rows are one to four lines: one that would reach the bottom margin starts a new page,
    # so a label and its value stay together (measuring each row first would double the time).
    if pdf.will_page_break(LINE_HEIGHT * 4):
        pdf.add_page()
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 9)
    label_height = pdf.multi_cell(
        LABEL_WIDTH,
        LINE_HEIGHT,
        label,
        new_x=XPos.RIGHT,
        new_y=YPos.TOP,
        output="HEIGHT",
        align="L",
    )
    pdf.set_font(FONT, "", 9)
    value_height = pdf.multi_cell(
        pdf.epw - LABEL_WIDTH,
        LINE_HEIGHT,
        value,
        new_x=XPos.LMARGIN,
        new_y=YPos.TOP,
        output="HEIGHT",
        align="L",
    )
    pdf.set_y(top + max(cast(float, label_height), cast(float, value_height)))


def _text_block(pdf: FPDF, markdown: str) -> None:
    pdf.ln(1)
    pdf.set_font(FONT, "B", 9)
    pdf.multi_cell(
        0, LINE_HEIGHT, _("Testo (markdown, come inviato)"), new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_font(FONT, "", 9)
    pdf.set_fill_color(242, 242, 242)
    pdf.multi_cell(
        0, LINE_HEIGHT, markdown, fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L"
    )
