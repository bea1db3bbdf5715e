"""The result of a check as CSV or XLSX: one line per citizen (masked fiscal code, or in clear
for supervisors and admins), the result in words and when it was found; the rows refused in
the file follow with their reasons. Every download is audited (`reachability.exported`).
The XLSX is written by `core.spreadsheets` into a temporary file: the row of the file a
number, the time of the check a date with its time, every other cell text; the CSV writes the
time as the user's language shows it (`SHORT_DATETIME_FORMAT`)."""

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import IO

from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from ioportal.accounts.models import User
from ioportal.core import crypto
from ioportal.core.fiscalcode import reveal_fiscal_code
from ioportal.core.io_texts import reason_text
from ioportal.core.services import audit_log
from ioportal.core.spreadsheets import DATETIME, TEXT, Sheet, formula_safe, write_xlsx
from ioportal.reachability.audit import Action
from ioportal.reachability.models import ReachabilityCheck, ReachabilityRow
from ioportal.sending.outcomes import TEXTS as OUTCOME_TEXTS

CSV, XLSX = "csv", "xlsx"
CHUNK = 2000

_RESULT_REASONS = {
    ReachabilityRow.Result.NOT_ON_IO: "not_on_io",
    ReachabilityRow.Result.BLOCKED: "blocked",
    ReachabilityRow.Result.NOT_AUTHORIZED: "not_authorized",
}


def result_text(row: ReachabilityRow) -> str:
    """The row's result in a sentence (the pipeline's texts for the same outcomes)."""
    if row.detail_parts:
        return row.detail_text
    code = _RESULT_REASONS.get(ReachabilityRow.Result(row.result))
    if code is not None:
        return str(OUTCOME_TEXTS[code])
    if row.result == ReachabilityRow.Result.REACHABLE:
        return _("Il cittadino è su IO e riceve i messaggi di questo servizio.")
    return str(row.get_result_display())


def header() -> list[str]:
    return [_("Riga del file"), _("Codice fiscale"), _("Esito"), _("Dettaglio"), _("Verificato il")]


# The cells of a line: the row of the file (None for a refused row that gives none), the
# fiscal code, the result, its detail, when it was checked (None when it was not).
Line = list[int | str | datetime | None]


def lines(check: ReachabilityCheck, *, in_clear: bool) -> Iterator[Line]:
    """The export's lines after the header, read in chunks: the cells of `header`, typed
    (`Line`)."""
    rows = ReachabilityRow.objects.filter(check_run=check).order_by("id")  # file order
    last = 0
    while True:
        chunk = list(rows.filter(id__gt=last)[:CHUNK])
        if not chunk:
            break
        for row in chunk:
            code = row.fiscal_code_masked
            if in_clear:
                try:
                    code = reveal_fiscal_code(row.fiscal_code_encrypted)
                except crypto.DecryptionError:
                    code = row.fiscal_code_masked
            yield [
                row.line,
                code,
                str(row.get_result_display()),
                result_text(row),
                row.checked_at,
            ]
        last = chunk[-1].pk
    for refused in check.rejected:
        line = refused.get("line")
        yield [
            line if isinstance(line, int) else None,
            "",
            _("Scartato"),
            " | ".join(reason_text(reason) for reason in refused.get("reasons", [])),
            None,
        ]


def _csv_cell(value: int | str | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, int):
        return str(value)
    return formula_safe(value)


def export(
    *,
    check: ReachabilityCheck,
    file_format: str,
    in_clear: bool,
    actor: User,
    request: HttpRequest | None = None,
) -> IO[bytes]:
    """The check's result as a CSV (UTF-8 with BOM, ";") or XLSX file, at its start: the
    caller sends and closes it (an XLSX is a temporary file, deleted once closed). `in_clear`:
    fiscal codes in clear (the caller checks the role). Audited, with the format and whether
    codes were in clear. Raises ValueError for another format."""
    if file_format not in (CSV, XLSX):
        raise ValueError(file_format)
    body: IO[bytes]
    if file_format == CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";")
        writer.writerow(header())
        for line in lines(check, in_clear=in_clear):
            writer.writerow([_csv_cell(cell) for cell in line])
        body = io.BytesIO(("\ufeff" + buffer.getvalue()).encode("utf-8"))
    else:
        # The row a number, the time a date with its time (in the current time zone), the
        # fiscal code and the texts text.
        sheet = Sheet(
            _("Esito"),
            header(),
            lines(check, in_clear=in_clear),
            formats={1: TEXT, 2: TEXT, 3: TEXT, 4: DATETIME},
        )
        body = write_xlsx([sheet])
    audit_log(
        action=Action.RESULT_EXPORTED,
        actor=actor,
        organization=check.organization,
        target=check,
        target_label=check.service.name,
        changes={"format": file_format, "in_clear": in_clear, "rows": check.total},
        request=request,
    )
    return body
