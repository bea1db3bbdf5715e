"""Recipient lists: upload, column mapping and validation, rejected rows, purge."""

import csv
import io
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from ioportal.accounts.models import Organization, User
from ioportal.core.services import Action, audit_log
from ioportal.ioservices.models import IOService
from ioportal.messaging.models import MessageTemplate
from ioportal.recipients.models import (
    PENDING_UPLOAD_TTL,
    PendingUpload,
    RecipientChunk,
    RecipientList,
)
from ioportal.recipients.numbers import DEFAULT_NUMBER_FORMAT, NUMBER_FORMATS
from ioportal.recipients.parsing import ImportFileError, ReadOptions, parse_table
from ioportal.recipients.sealing import seal_bytes, unseal_bytes
from ioportal.recipients.validation import MessageSpec, validate_rows

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\x00")


def message_spec(
    *,
    template: MessageTemplate,
    service: IOService,
    recipient_list: RecipientList | None = None,
) -> MessageSpec:
    """What each row is checked against: the template's texts, the service's maximum and,
    given the list, the per-recipient files uploaded with it (Premium attachments)."""
    attachments = None
    if recipient_list is not None and recipient_list.pk:
        from ioportal.remotecontent.services import list_attachment_index

        attachments = list_attachment_index(recipient_list=recipient_list)
    return MessageSpec(
        subject=template.subject,
        markdown=template.markdown,
        placeholders=template.placeholders or [],
        feature_level=template.feature_level,
        has_due_date=template.has_due_date,
        has_payment=template.has_payment,
        max_payment_amount=service.effective_max_payment_amount,
        attachments=attachments,
    )


def recipient_lists_purge_expired(*, now: datetime | None = None) -> int:
    """Delete lists past their expiry (their rows hold personal data). Returns the count.

    A list whose dispatch is still being prepared is kept: its valid rows are becoming
    deliveries, and the preparation empties it when done.
    """
    now = now or timezone.now()
    expired = RecipientList.objects.filter(expires_at__lte=now).exclude(
        dispatch__state="preparing"  # messaging.Dispatch.State.PREPARING (a layer above)
    )
    _total, deleted = expired.delete()
    PendingUpload.objects.filter(expires_at__lte=now).delete()
    return deleted.get(RecipientList._meta.label, 0)


def pending_upload_store(
    *,
    organization: Organization,
    actor: User,
    file_name: str,
    data: bytes,
    replaces: PendingUpload | None = None,
) -> PendingUpload:
    """Keep an uploaded file that needs the operator's choice (sealed, PENDING_UPLOAD_TTL).

    `replaces` (the author's previous pending file) is deleted. Raises ImportFileError when
    the file is over RECIPIENTS_MAX_UPLOAD_MB (parse_table refuses it before any choice).
    """
    if len(data) > settings.RECIPIENTS_MAX_UPLOAD_BYTES:
        raise ImportFileError(_("Il file è troppo grande."))
    if replaces is not None:
        replaces.delete()
    return PendingUpload.objects.create(
        organization=organization,
        created_by=actor,
        file_name=file_name[:255],
        size=len(data),
        sealed=seal_bytes(data),
        expires_at=timezone.now() + PENDING_UPLOAD_TTL,
    )


def pending_upload_get(
    *, organization: Organization, actor: User, public_id: Any
) -> PendingUpload | None:
    """The author's pending file of this organization by its public id, unless expired or
    unknown (None; a malformed id too)."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return PendingUpload.objects.filter(
        organization=organization,
        created_by=actor,
        public_id=key,
        expires_at__gt=timezone.now(),
    ).first()


def pending_upload_read(pending: PendingUpload) -> bytes:
    """The content of a pending file."""
    return unseal_bytes(pending.sealed)


@transaction.atomic
def recipient_list_upload(
    *,
    organization: Organization,
    actor: User,
    template: MessageTemplate,
    service: IOService,
    file_name: str,
    data: bytes,
    options: ReadOptions | None = None,
    number_format: str = DEFAULT_NUMBER_FORMAT,
    request: HttpRequest | None = None,
) -> RecipientList:
    """Read an uploaded CSV/XLSX into a new list (rows sealed, the file itself discarded).

    `options` carry the operator's choices of separator, sheet and hidden rows;
    `number_format` ("it" or "en", `numbers.NUMBER_FORMATS`) is the convention the file's
    numbers are written in, and the list keeps it for the validation. Raises
    parsing.ImportFileError with an Italian sentence when the file cannot be used, and its
    subclass ImportChoiceNeeded when the operator must choose first. Expired lists are purged
    on the way. Audited (file name and row count only). One transaction: a list is never left
    without its rows.
    """
    if number_format not in NUMBER_FORMATS:
        raise ValueError(f"unknown number format {number_format!r}")
    table = parse_table(data=data, filename=file_name, options=options, number_format=number_format)
    recipient_lists_purge_expired()
    recipient_list = RecipientList(
        organization=organization,
        created_by=actor,
        template=template,
        service=service,
        file_name=file_name[:255],
        file_format=table.file_format,
        encoding=table.encoding,
        delimiter=table.delimiter,
        headers=table.headers,
        row_count=len(table.rows),
        file_warnings=table.warnings,
        number_format=number_format,
        column_mapping=dict(template.column_mapping or {}),
        expires_at=timezone.now() + timedelta(hours=settings.RECIPIENTS_LIST_TTL_HOURS),
    )
    recipient_list.save()
    recipient_list.set_rows(
        table.rows,
        table.lines,
        table.row_problems,
        number_cells=table.number_cells,
        date_system=table.date_system,
    )
    audit_log(
        action=Action.RECIPIENTS_UPLOADED,
        actor=actor,
        organization=organization,
        target=recipient_list,
        changes={
            "rows": len(table.rows),
            "template": template.name,
            "service": service.name,
            "number_format": number_format,
        },
        request=request,
    )
    return recipient_list


@transaction.atomic
def recipient_list_validate(
    *, recipient_list: RecipientList, mapping: dict[str, str]
) -> RecipientList:
    """Check every row with `mapping` (target -> column) and store the outcome.

    The mapping is remembered on the template for the next upload. All or nothing: the list
    holds the valid rows and the rejected ones, and nothing is queued until it is launched.
    A row the file's structure made unreadable (its columns do not match the header) is
    rejected with that reason alone: its values would be shifted.
    """
    all_rows, all_lines, problems = recipient_list.get_rows_and_problems()
    all_number_cells, date_system = recipient_list.get_cell_sources()
    readable = [index for index, line in enumerate(all_lines) if line not in problems]
    rows = [all_rows[index] for index in readable]
    lines = [all_lines[index] for index in readable]
    # Per row, like the rows (an XLSX file's; empty for a CSV file).
    number_cells = [
        all_number_cells[index] if index < len(all_number_cells) else [] for index in readable
    ]
    outcome = validate_rows(
        headers=recipient_list.headers,
        rows=rows,
        lines=lines,
        mapping=mapping,
        spec=message_spec(
            template=recipient_list.template,
            service=recipient_list.service,
            recipient_list=recipient_list,
        ),
        number_format=recipient_list.number_format,
        number_cells=number_cells,
        date_system=date_system,
    )
    if problems:
        unreadable = [
            {
                "line": line,
                "reasons": [problems[line]],
                "problems": [{"column": "", "value": "", "reason": problems[line]}],
                "cells": list(row),
            }
            for row, line in zip(all_rows, all_lines, strict=True)
            if line in problems
        ]
        outcome.rejected = sorted([*outcome.rejected, *unreadable], key=lambda r: r["line"])
    recipient_list.column_mapping = mapping
    recipient_list.check_warnings = outcome.warnings
    recipient_list.store(RecipientChunk.Kind.VALID, outcome.valid)
    recipient_list.store(RecipientChunk.Kind.REJECTED, outcome.rejected)
    recipient_list.valid_count = len(outcome.valid)
    recipient_list.rejected_count = len(outcome.rejected)
    recipient_list.total_amount = outcome.total_amount
    recipient_list.state = RecipientList.State.VALIDATED
    recipient_list.save()
    from ioportal.messaging.services import template_remember_mapping

    template_remember_mapping(template=recipient_list.template, mapping=mapping)
    return recipient_list


@transaction.atomic
def recipient_list_change_number_format(
    *, recipient_list: RecipientList, number_format: str
) -> RecipientList:
    """Read the list's numbers in another convention ("it" or "en") without a new upload.

    Text cells stay as typed: the check reads them with the new convention. An XLSX Number
    cell's text was written by the reader with the chosen convention's decimal separator and
    no other separator (`numbers.excel_number_text`), so it gets the new one: the same text
    the reader gives with the new choice. A checked list is checked again with its mapping.
    Raises ValueError for an unknown convention.
    """
    if number_format not in NUMBER_FORMATS:
        raise ValueError(f"unknown number format {number_format!r}")
    if number_format == recipient_list.number_format:
        return recipient_list
    stored = recipient_list.read_rows()
    if any(stored.number_cells):
        swap = str.maketrans(
            NUMBER_FORMATS[recipient_list.number_format].decimal,
            NUMBER_FORMATS[number_format].decimal,
        )
        rows = [
            [
                cell.translate(swap) if position in numbers else cell
                for position, cell in enumerate(row)
            ]
            for row, numbers in zip(stored.rows, stored.number_cells, strict=True)
        ]
        recipient_list.set_rows(
            rows,
            list(stored.lines),
            dict(stored.problems),
            number_cells=list(stored.number_cells),
            date_system=recipient_list.date_system,
        )
    recipient_list.number_format = number_format
    recipient_list.save(update_fields=["number_format"])
    if recipient_list.state == RecipientList.State.VALIDATED:
        recipient_list = recipient_list_validate(
            recipient_list=recipient_list, mapping=dict(recipient_list.column_mapping)
        )
    return recipient_list


def rejected_problems(row: dict[str, Any]) -> list[dict[str, str]]:
    """A rejected row's problems, {"column", "value", "reason"} (validation.validate_rows);
    rows checked before values were kept give their reasons alone."""
    if "problems" in row:
        return list(row["problems"])
    return [{"column": "", "value": "", "reason": reason} for reason in row["reasons"]]


def problem_text(problem: dict[str, str]) -> str:
    """One problem as a sentence: `Importo «12,3,4»: non è un importo in euro.`; without the
    value when none is shown (an empty cell, a number Excel changed)."""
    if not problem["column"]:
        return problem["reason"]
    if not problem["value"]:
        return _("%(column)s: %(reason)s") % problem
    return _("%(column)s «%(value)s»: %(reason)s") % problem


def csv_safe(value: str) -> str:
    """A cell that a spreadsheet will not run as a formula (ASVS 5.0 1.2.10)."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def rejected_rows_csv(
    *, recipient_list: RecipientList, actor: User, request: HttpRequest | None = None
) -> str:
    """The rejected rows as CSV (original columns, then line and reason), ready to fix and
    upload again. Formula-looking cells are neutralised. Audited: it is personal data."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=recipient_list.delimiter or ";", quoting=csv.QUOTE_ALL)
    writer.writerow([csv_safe(h) for h in [*recipient_list.headers, "riga", "motivo"]])
    rejected = recipient_list.iter_items(RecipientChunk.Kind.REJECTED)
    for row in rejected:
        cells = list(row["cells"]) + [""] * (len(recipient_list.headers) - len(row["cells"]))
        reasons = " | ".join(problem_text(problem) for problem in rejected_problems(row))
        writer.writerow([csv_safe(str(c)) for c in [*cells, row["line"], reasons]])
    audit_log(
        action=Action.RECIPIENTS_REJECTED_EXPORTED,
        actor=actor,
        organization=recipient_list.organization,
        target=recipient_list,
        changes={"rows": recipient_list.rejected_count},
        request=request,
    )
    # A BOM so that Excel opens the accented letters correctly.
    return "\ufeff" + buffer.getvalue()
