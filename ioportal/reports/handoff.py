"""The hand-off list of a dispatch: the citizens IO did not reach, by reason, with their
fiscal codes and the row's values in clear, as CSV or XLSX, so that an office writes to them
by PEC, e-mail or letter (a mail merge) or uploads them to SEND.

Who is in it, one reason each (`REASONS`):
- not on IO: the profile check found no profile (Delivery skipped, `not_on_io`);
- blocked the service: the citizen turned off this service's messages (skipped, `blocked`);
- not authorised: the service is in test mode and the citizen is not among its authorised
  recipients (skipped, `not_authorized`);
- rejected by IO: IO accepted the message and then rejected it (state `rejected`: not on IO or
  service blocked, IO does not say which), and any other skipped delivery;
- failed: IO never got the message, whatever the cause (state `failed`; the detail column
  says why: content refused, IO unreachable until the retries ran out...).

Who is not: delivered citizens; uncertain deliveries (the message may have arrived: a
supervisor resolves them on the dispatch page first, and a resolved one is either delivered
or sent again); cancelled ones (the office chose not to send them); those still waiting.

Personal data leave the database only here and only decrypted row by row, `CHUNK_SIZE`
deliveries per query, into a temporary file (deleted when closed): memory stays bounded
whatever the size of the dispatch. Each export is an audit event with the number of rows.
Once the retention purge has removed the dispatch's personal data there is nothing to hand
off: `handoff_export` refuses.
"""

import csv
import io
import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.db.models import Count, Q, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from ioportal.accounts.models import User
from ioportal.core.crypto import DecryptionError
from ioportal.core.downloads import file_slug
from ioportal.core.errors import NotAllowed
from ioportal.core.fiscalcode import reveal_fiscal_code
from ioportal.core.services import audit_log
from ioportal.core.spreadsheets import (
    CONTENT_TYPE,
    TEXT,
    Sheet,
    XlsxFile,
    formula_safe,
    sheet_name,
    xlsx_text,
)
from ioportal.messaging import availability
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.reports.audit import Action
from ioportal.sending import outcomes
from ioportal.sending.outcomes import describe_delivery

S = Delivery.State

# Deliveries fetched from the database at a time.
CHUNK_SIZE = 1000
# Decodes the stored values (Delivery.variables) as the model does.
VARIABLES_FIELD = Delivery._meta.get_field("variables")

CSV = "csv"
XLSX = "xlsx"
FORMATS = (CSV, XLSX)

NOT_ON_IO = "not_on_io"
BLOCKED = "blocked"
NOT_AUTHORIZED = "not_authorized"
REJECTED = "rejected"
FAILED = "failed"

_SKIP_REASONS = (outcomes.NOT_ON_IO, outcomes.BLOCKED, outcomes.NOT_AUTHORIZED)


@dataclass(frozen=True)
class Reason:
    """Why a citizen was not reached: `label` in a few words (the column "Motivo" and, at
    most 31 characters, the XLSX sheet's name), `help` what it means for the office."""

    key: str
    label: Any
    help: Any
    condition: Q


REASONS: tuple[Reason, ...] = (
    Reason(
        NOT_ON_IO,
        gettext_lazy("Non usa IO"),
        gettext_lazy(
            "IO non ha un profilo per questo codice fiscale: il cittadino non usa l'app IO."
        ),
        Q(state=S.SKIPPED, skip_reason=outcomes.NOT_ON_IO),
    ),
    Reason(
        BLOCKED,
        gettext_lazy("Ha bloccato il servizio"),
        gettext_lazy("Il cittadino usa IO ma ha disattivato i messaggi di questo servizio."),
        Q(state=S.SKIPPED, skip_reason=outcomes.BLOCKED),
    ),
    Reason(
        NOT_AUTHORIZED,
        gettext_lazy("Non autorizzato (prova)"),
        gettext_lazy(
            "Il servizio è in modalità di prova e scrive solo ai destinatari autorizzati: "
            "con il servizio in produzione questi cittadini potrebbero ricevere il messaggio."
        ),
        Q(state=S.SKIPPED, skip_reason=outcomes.NOT_AUTHORIZED),
    ),
    Reason(
        REJECTED,
        gettext_lazy("Rifiutato da IO"),
        gettext_lazy(
            "IO ha rifiutato il messaggio dopo averlo accettato: il cittadino non usa IO o ha "
            "bloccato il servizio (IO non dice quale)."
        ),
        Q(state=S.REJECTED) | (Q(state=S.SKIPPED) & ~Q(skip_reason__in=_SKIP_REASONS)),
    ),
    Reason(
        FAILED,
        gettext_lazy("Invio non riuscito"),
        gettext_lazy(
            "IO non ha ricevuto il messaggio; la colonna «Dettaglio» dice perché. Se IO non "
            "era raggiungibile, puoi prima riprovare dalla pagina dell'invio."
        ),
        Q(state=S.FAILED),
    ),
)
REASONS_BY_KEY = {reason.key: reason for reason in REASONS}
# The states of the deliveries in the list, and of those that wait for a decision.
HANDOFF_STATES = (S.SKIPPED, S.REJECTED, S.FAILED)


def reason_of(state: str, skip_reason: str) -> Reason | None:
    """The reason a delivery in `state` with `skip_reason` is in the list, or None when it
    is not in it (delivered, uncertain, cancelled, waiting)."""
    if state == S.SKIPPED:
        key = skip_reason if skip_reason in _SKIP_REASONS else REJECTED
    elif state == S.REJECTED:
        key = REJECTED
    elif state == S.FAILED:
        key = FAILED
    else:
        return None
    return REASONS_BY_KEY[key]


def handoff_counts(*, dispatch: Dispatch) -> dict[str, int]:
    """{reason key: n} for every reason of REASONS (0 included), "total": their sum and
    "uncertain": the uncertain deliveries (not in the list until resolved). One grouped
    query on the index of a dispatch's outcomes."""
    counts = {reason.key: 0 for reason in REASONS}
    counts["uncertain"] = 0
    rows = (
        Delivery.objects.filter(dispatch=dispatch, state__in=(*HANDOFF_STATES, S.UNCERTAIN))
        .values_list("state", "skip_reason")
        .annotate(n=Count("*"))
        .order_by()
    )
    for state, skip_reason, n in rows:
        reason = reason_of(state, skip_reason)
        counts[reason.key if reason else "uncertain"] += n
    counts["total"] = sum(counts[reason.key] for reason in REASONS)
    return counts


def value_names(dispatch: Dispatch) -> list[str]:
    """The names of the dispatch's placeholders, in the template's order: the row's values."""
    names = []
    for placeholder in dispatch.placeholders or []:
        name = placeholder.get("name") if isinstance(placeholder, dict) else None
        if name and name not in names:
            names.append(str(name))
    return names


def header(dispatch: Dispatch) -> list[str]:
    """The column names, the same in the CSV and in every XLSX sheet."""
    return [
        _("Riga"),
        _("Codice fiscale"),
        *value_names(dispatch),
        _("Importo (euro)"),
        _("Codice avviso pagoPA"),
        _("Scadenza"),
        _("Motivo"),
        _("Dettaglio"),
    ]


def _deliveries(dispatch: Dispatch, reasons: Sequence[Reason]) -> Iterator[Delivery]:
    """The dispatch's deliveries for `reasons`, in the order of the list (ids follow the
    rows), fetched CHUNK_SIZE at a time. The values come as stored text (`variables_raw`): a row no
    key can decrypt must not stop the export."""
    condition = Q()
    for reason in reasons:
        condition |= reason.condition
    query = (
        Delivery.objects.filter(condition, dispatch=dispatch)
        .only(
            "id",
            "row_number",
            "fiscal_code_encrypted",
            "state",
            "skip_reason",
            "last_error_code",
            "last_error_parts",
            "payment_amount",
            "notice_number",
            "due_date",
        )
        .annotate(variables_raw=Cast("variables", output_field=TextField()))
        .order_by("id")
    )
    # One query, read CHUNK_SIZE rows at a time (a server-side cursor on PostgreSQL): the
    # memory does not grow with the list, and no later chunk scans the table again.
    yield from query.iterator(chunk_size=CHUNK_SIZE)


def euros(cents: int | None, decimal: str = ",", thousands: str = ".") -> str:
    """An amount in euro cents as a language writes it, Italian by default: 123456 →
    "1.234,56" (with decimal="." and thousands=",", English: "1,234.56"); None → ""."""
    if cents is None:
        return ""
    whole, rest = divmod(cents, 100)
    return f"{whole:,}".replace(",", thousands) + f"{decimal}{rest:02d}"


def text_cell(value: object) -> str:
    """A cell as text an XLSX can hold (core.spreadsheets.xlsx_text: control characters
    removed, at most 32,767 characters), otherwise as it is: the XLSX writes it as a string,
    never a formula."""
    return xlsx_text(str(value))


def safe_cell(value: object) -> str:
    """A CSV cell: `text_cell` that a spreadsheet never runs as a formula (a leading `'`
    before `=`, `+`, `-`, `@`… full-width signs included: core.spreadsheets.formula_safe)."""
    return formula_safe(text_cell(value))


# Outcome texts remembered per export: a list has few distinct outcomes, and translating
# one per row is most of the time of an export.
TEXTS_REMEMBERED = 1000


class _Texts:
    """The reason labels and outcome sentences of one export, each translated once."""

    def __init__(self) -> None:
        self.labels = {reason.key: str(reason.label) for reason in REASONS}
        # The sentence every row of a reason would have as its detail, repeating the column
        # "Motivo": left out. Failures have many causes, so their detail is always written.
        self.said = {
            NOT_ON_IO: str(outcomes.TEXTS[outcomes.NOT_ON_IO]),
            BLOCKED: str(outcomes.TEXTS[outcomes.BLOCKED]),
            NOT_AUTHORIZED: str(outcomes.TEXTS[outcomes.NOT_AUTHORIZED]),
            REJECTED: str(outcomes.STATE_TEXTS[S.REJECTED]),
        }
        self.unreadable = _("Dati non leggibili (chiave di cifratura errata).")
        # Amounts as the user's language writes them (1.234,56; in English 1,234.56).
        self.decimal = str(get_format("DECIMAL_SEPARATOR"))
        self.thousands = str(get_format("THOUSAND_SEPARATOR"))
        self._details: dict[tuple[str, str, str, str], str] = {}

    def detail(self, delivery: Delivery) -> str:
        key = (
            delivery.state,
            delivery.skip_reason,
            delivery.last_error_code,
            json.dumps(delivery.last_error_parts, sort_keys=True),
        )
        text = self._details.get(key)
        if text is None:
            text = describe_delivery(delivery)
            if len(self._details) < TEXTS_REMEMBERED:
                self._details[key] = text
        return text


# The cells of a row, in the order of `header`: the row of the list a number (None when the
# delivery has none), every other cell text.
Row = list[int | str | None]


def _row(delivery: Delivery, names: list[str], reason: Reason, texts: _Texts) -> Row:
    unreadable = False
    try:
        fiscal_code = reveal_fiscal_code(delivery.fiscal_code_encrypted)
    except DecryptionError:
        fiscal_code, unreadable = "", True
    try:
        values = VARIABLES_FIELD.to_python(getattr(delivery, "variables_raw", "") or "")
    except (DecryptionError, ValueError):
        values, unreadable = {}, True
    if not isinstance(values, dict):
        values = {}
    detail = texts.detail(delivery)
    if detail == texts.said.get(reason.key):
        detail = ""
    if unreadable:
        detail = f"{detail} {texts.unreadable}".lstrip()
    due = timezone.localtime(delivery.due_date).strftime("%d/%m/%Y") if delivery.due_date else ""
    cells: list[object] = [
        fiscal_code,
        *(values.get(name, "") for name in names),
        euros(delivery.payment_amount, texts.decimal, texts.thousands),
        delivery.notice_number,
        due,
        texts.labels[reason.key],
        detail,
    ]
    return [
        delivery.row_number or None,
        *(text_cell("" if cell is None else cell) for cell in cells),
    ]


def handoff_rows(
    *, dispatch: Dispatch, reasons: Sequence[Reason] = REASONS
) -> Iterator[tuple[Reason, Row]]:
    """(reason, cells in the order of `header`) for each citizen of the list, in clear: the
    row of the list (a number), fiscal code, the row's values, amount, notice number, due
    date, reason, and a detail in Italian only where it adds to the reason (why a message
    failed; empty when it would repeat the reason). A value no key decrypts is left empty and
    the detail says so. Cells but the row are text as the XLSX holds it; the CSV adds the
    formula guard (`safe_cell`)."""
    names = value_names(dispatch)
    texts = _Texts()
    for delivery in _deliveries(dispatch, reasons):
        reason = reason_of(delivery.state, delivery.skip_reason)
        if reason is not None:
            yield reason, _row(delivery, names, reason, texts)


@dataclass
class Export:
    """A file ready to send: `file` at its start (a temporary file, deleted once closed)."""

    file: IO[bytes]
    rows: int
    filename: str
    content_type: str


def _write_csv(dispatch: Dispatch, reasons: Sequence[Reason], out: IO[bytes]) -> int:
    # UTF-8 with a BOM and ";": what Excel in Italian opens as columns, accents included.
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, delimiter=";", quoting=csv.QUOTE_ALL)
    writer.writerow([safe_cell(name) for name in header(dispatch)])
    count = 0
    for _reason, cells in handoff_rows(dispatch=dispatch, reasons=reasons):
        writer.writerow([_csv_cell(cell) for cell in cells])
        count += 1
    text.flush()
    text.detach()
    return count


def _csv_cell(cell: int | str | None) -> str:
    if cell is None:
        return ""
    return str(cell) if isinstance(cell, int) else formula_safe(cell)


def sheet_title(label: object) -> str:
    """An XLSX sheet name: at most 31 characters, none of : \\ / ? * [ ]."""
    return sheet_name(label)


def _write_xlsx(dispatch: Dispatch, reasons: Sequence[Reason], out: IO[bytes]) -> int:
    # One sheet per reason, always all of them in the same order: an office's mail-merge
    # document points to the sheet of the citizens it writes to, the same every time. The
    # rows come in the list's order, each appended to its reason's sheet.
    book = XlsxFile(out)
    columns = [text_cell(name) for name in header(dispatch)]
    # Text, so that notice numbers and amounts merge as written; the row a number.
    text = dict.fromkeys(range(1, len(columns)), TEXT)
    sheets = {
        reason.key: book.sheet(
            Sheet(sheet_title(reason.label), columns, formats=text, widths={1: 20})
        )
        for reason in reasons
    }
    count = 0
    for reason, row in handoff_rows(dispatch=dispatch, reasons=reasons):
        sheets[reason.key].append(row)
        count += 1
    book.finish()
    return count


def handoff_export(
    *,
    dispatch: Dispatch,
    actor: User,
    file_format: str,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Export:
    """The hand-off list as a CSV (one table, the reason in a column) or an XLSX (one sheet
    per reason), of every reason or of one (`reason`, a key of REASONS_BY_KEY; "" for all).

    Side effect: an audit event `reports.handoff_exported` on the dispatch with the number
    of rows, the format and the reason (never the data). Raises NotAllowed once the
    retention purge removed the dispatch's personal data, ValueError for an unknown format
    or reason (the view validates them first).
    """
    if file_format not in FORMATS:
        raise ValueError(f"unknown format {file_format!r}")
    if reason and reason not in REASONS_BY_KEY:
        raise ValueError(f"unknown reason {reason!r}")
    refusal = availability.handoff_refusal(dispatch)
    if refusal:
        raise NotAllowed(refusal)
    reasons = [REASONS_BY_KEY[reason]] if reason else list(REASONS)
    out = tempfile.TemporaryFile()  # noqa: SIM115  (handed to the response, which closes it)
    try:
        if file_format == CSV:
            rows = _write_csv(dispatch, reasons, out)
            content_type = "text/csv; charset=utf-8"
        else:
            rows = _write_xlsx(dispatch, reasons, out)
            content_type = CONTENT_TYPE
        out.seek(0)
    except BaseException:
        out.close()
        raise
    audit_log(
        action=Action.HANDOFF_EXPORTED,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        target_label=dispatch.title,
        changes={"rows": rows, "format": file_format, "reason": reason or "all"},
        request=request,
    )
    stem = file_slug(dispatch.title) or pgettext("file name", "invio")
    suffix = f"-{file_slug(REASONS_BY_KEY[reason].label)}" if reason else ""
    return Export(
        file=out,
        rows=rows,
        filename=f"{pgettext('file name', 'non-raggiunti')}-{stem}{suffix}.{file_format}",
        content_type=content_type,
    )
