"""Exports of deliveries (a dispatch's, or the search by fiscal code's) as CSV and XLSX: rows
are read from the database in chunks and written out as they come, so an export of
1,000,000 deliveries holds one chunk in memory, never the whole list.

- CSV, streamed: UTF-8 with BOM, `;` as separator, every cell quoted (what Excel in Italian opens
  with one double click), times as "dd/mm/yyyy hh:mm:ss" in the portal's time zone, amounts
  as "1234,56".
- XLSX: written by `core.spreadsheets` (XlsxWriter, constant-memory mode) into a temporary
  file, sent once complete: a bold frozen header row, true dates and numbers, the notice
  number as text, a new sheet every 1,048,575 rows (Excel's limit). Memory stays bounded,
  but the first byte leaves only when the whole file is written: above
  `EXPORT_XLSX_INLINE_MAX_ROWS` rows a worker writes it (`reports.prepared`).

Fiscal codes stay masked; every CSV text cell goes through `core.spreadsheets.formula_safe`,
so nothing a spreadsheet could run as a formula reaches it (an XLSX text cell is a string,
never a formula, and is written as it is). Texts (states, outcomes, read and
payment status) are translated once per export, not once per row.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any

from django.db.models import CharField, Exists, OuterRef, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.translation import gettext as _

from ioportal.core import spreadsheets
from ioportal.core.io_texts import Part
from ioportal.core.spreadsheets import formula_safe
from ioportal.messaging.models import Delivery
from ioportal.remotecontent.models import RemoteContentAccess
from ioportal.sending.outcomes import outcome_describer
from ioportal.sending.status import payment_status_text, read_status_text

CHUNK_SIZE = 2000  # rows read from the database at a time
FLUSH_ROWS = 500  # CSV rows written before the bytes are handed to the server
DETAIL_MAX = 1000  # characters of an error detail kept in a cell

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = spreadsheets.CONTENT_TYPE

Cell = str | int | Decimal | datetime | None

_TIMES = ("created_at", "submitted_at", "finished_at", "read_at", "paid_at")
_FIELDS = (
    "row_number",
    "fiscal_code_masked",
    "state",
    "skip_reason",
    "last_error_code",
    "last_error_parts",
    *(f"{name}_text" for name in _TIMES),
    "io_message_id",
    "read_status",
    "payment_status",
    "payment_amount",
    "notice_number",
    "opened",
    "downloaded",
)
_DISPATCH_FIELDS = ("dispatch__title", "dispatch__service__name")


def header(*, with_dispatch: bool) -> list[str]:
    """The column titles, in the active language; `with_dispatch` adds the dispatch and its
    service first (the search spans dispatches)."""
    titles = [
        _("riga"),
        _("codice fiscale"),
        _("stato"),
        _("esito"),
        _("creato il"),
        _("accettato da IO il"),
        _("consegnato il"),
        _("letto il"),
        _("pagato il"),
        _("id messaggio IO"),
        _("lettura"),
        _("pagamento"),
        _("importo (euro)"),
        _("numero avviso"),
        _("aperto"),
        _("allegati scaricati"),
    ]
    return [_("invio"), _("servizio"), *titles] if with_dispatch else titles


def _annotated(deliveries: QuerySet[Delivery]) -> QuerySet[Delivery]:
    ok = RemoteContentAccess.objects.filter(
        delivery_id=OuterRef("pk"), outcome=RemoteContentAccess.Outcome.OK
    )
    # Times read as text and parsed by datetime.fromisoformat: the database driver's
    # time-zone-aware loader costs ten times more per value, five values a row.
    times = {f"{name}_text": Cast(name, output_field=CharField()) for name in _TIMES}
    return deliveries.annotate(
        opened=Exists(ok.filter(operation=RemoteContentAccess.Operation.DETAILS)),
        downloaded=Exists(ok.filter(operation=RemoteContentAccess.Operation.ATTACHMENT)),
        **times,
    )


def _time(text: str | None) -> datetime | None:
    """An aware datetime from the database's text of a stored time (UTC when the text has no
    offset, as SQLite stores them)."""
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Texts:
    """Every word an export row uses, translated once."""

    states: dict[str, str]
    read: dict[str, str]
    payment: dict[str, str]
    yes: str
    no: str
    describe: Callable[[str, str, str, Sequence[Part]], str]

    @classmethod
    def build(cls) -> "_Texts":
        return cls(
            states={state: str(label) for state, label in Delivery.State.choices},
            read={key: read_status_text(key) for key in ("READ", "UNREAD", "UNAVAILABLE")},
            payment={key: payment_status_text(key) for key in ("PAID", "NOT_PAID")},
            yes=_("sì"),
            no=_("no"),
            describe=outcome_describer(),
        )


def delivery_rows(deliveries: QuerySet[Delivery], *, with_dispatch: bool) -> Iterator[list[Cell]]:
    """The export's rows for `deliveries` (in its order), one list of cells per delivery, in
    the order of `header()`: str, int, Decimal euro amount, aware datetime or None. Reads the
    database CHUNK_SIZE rows at a time (a server-side cursor on PostgreSQL). The texts are
    translated now, in the request's language, not when the server reads the rows."""
    fields = (*_DISPATCH_FIELDS, *_FIELDS) if with_dispatch else _FIELDS
    values = _annotated(deliveries).values_list(*fields)
    return _rows(values.iterator(chunk_size=CHUNK_SIZE), _Texts.build(), with_dispatch)


def _rows(records: Iterator[Any], texts: _Texts, with_dispatch: bool) -> Iterator[list[Cell]]:
    hundred = Decimal(100)
    for record in records:
        if with_dispatch:
            prefix: list[Cell] = [record[0], record[1]]
            record = record[2:]
        else:
            prefix = []
        (
            row_number,
            masked,
            state,
            skip_reason,
            error_code,
            detail,
            created_at,
            submitted_at,
            finished_at,
            read_at,
            paid_at,
            io_message_id,
            read_status,
            payment_status,
            amount,
            notice_number,
            opened,
            downloaded,
        ) = record
        yield [
            *prefix,
            row_number,
            masked,
            texts.states.get(state, state),
            # The outcome in a sentence: for a message not sent, its reason (one column, not
            # a second one repeating the same words).
            texts.describe(state, skip_reason, error_code, detail)[:DETAIL_MAX],
            _time(created_at),
            _time(submitted_at),
            _time(finished_at) if state == Delivery.State.PROCESSED else None,
            _time(read_at),
            _time(paid_at),
            io_message_id or "",
            texts.read.get(read_status, read_status),
            texts.payment.get(payment_status, payment_status) if amount else "",
            Decimal(amount) / hundred if amount else None,
            notice_number,
            texts.yes if opened else texts.no,
            texts.yes if downloaded else texts.no,
        ]


# --- CSV -----------------------------------------------------------------------------------


def _csv_cell(value: Cell, zone: Any, decimal: str = ",") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = value.astimezone(zone)
        return "%02d/%02d/%d %02d:%02d:%02d" % (  # noqa: UP031  (three times faster)
            local.day,
            local.month,
            local.year,
            local.hour,
            local.minute,
            local.second,
        )
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", decimal)
    if isinstance(value, int):
        return str(value)
    return formula_safe(value)


def stream_csv(titles: list[str], rows: Iterable[list[Cell]]) -> Iterator[bytes]:
    """The CSV file as chunks of bytes: BOM, header, then FLUSH_ROWS rows per chunk. Times
    in the request's time zone; amounts with the decimal separator of the user's language
    (1234,56 in Italian, 1234.56 in English), without a thousands separator."""
    return _csv_chunks(
        titles, rows, timezone.get_current_timezone(), get_format("DECIMAL_SEPARATOR")
    )


def _csv_chunks(
    titles: list[str], rows: Iterable[list[Cell]], zone: Any, decimal: str
) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_ALL)
    buffer.write("\ufeff")
    writer.writerow([formula_safe(title) for title in titles])
    # The header at once: the download starts while the database prepares the rows.
    yield buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for number, row in enumerate(rows, start=1):
        writer.writerow([_csv_cell(value, zone, decimal) for value in row])
        if number % FLUSH_ROWS == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


# --- XLSX ----------------------------------------------------------------------------------


def xlsx_formats(*, with_dispatch: bool) -> dict[int, str]:
    """The column formats of the XLSX sheet (column index → core.spreadsheets format): the
    five times as dates with the time, the amount in euro, the notice number as text."""
    first = 2 if with_dispatch else 0
    formats = {first + 4 + n: spreadsheets.DATETIME for n in range(len(_TIMES))}
    formats[first + 12] = spreadsheets.EURO
    formats[first + 13] = spreadsheets.TEXT
    return formats


def write_xlsx(
    titles: list[str], rows: Iterable[list[Cell]], *, sheet_name: str, with_dispatch: bool
) -> IO[bytes]:
    """The XLSX workbook (core.spreadsheets.write_xlsx: one sheet `sheet_name`, continuing on
    "name (2)"… past a sheet's rows) in a temporary file at its start; the caller closes it.
    Times in the request's time zone. Rows are read to their end before this returns."""
    sheet = spreadsheets.Sheet(
        sheet_name, titles, rows, formats=xlsx_formats(with_dispatch=with_dispatch)
    )
    return spreadsheets.write_xlsx([sheet])
