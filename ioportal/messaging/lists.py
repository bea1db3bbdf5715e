"""Recipient lists for a template: upload, column mapping and the check of every row.

The list itself (parsing, sealed rows, row checks) is `ioportal.recipients`; here it meets the
template and service it is for, and the files uploaded with it (Premium attachments).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from ioportal.accounts.models import Organization, User
from ioportal.core.services import audit_log
from ioportal.ioservices.models import IOService
from ioportal.messaging.models import MessageTemplate
from ioportal.messaging.repeated import content_fingerprint, store_content_keys
from ioportal.messaging.services import template_remember_mapping
from ioportal.recipients.attachments import list_attachment_index
from ioportal.recipients.audit import Action
from ioportal.recipients.models import RecipientChunk, RecipientList
from ioportal.recipients.numbers import DEFAULT_NUMBER_FORMAT, NUMBER_FORMATS
from ioportal.recipients.parsing import (
    MAX_CELL_CHARS,
    ParsedTable,
    ReadOptions,
    parse_table,
    problem_cell,
)
from ioportal.recipients.services import recipient_lists_purge_expired
from ioportal.recipients.testmode import test_mode_skips_record
from ioportal.recipients.validation import MessageSpec, ValidationOutcome, validate_rows


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


def recipient_list_read(
    *,
    file_name: str,
    data: bytes,
    options: ReadOptions | None = None,
    number_format: str = DEFAULT_NUMBER_FORMAT,
) -> ParsedTable:
    """An uploaded CSV/XLSX read into a table (`parsing.parse_table`), for
    `recipient_list_upload`.

    `options` carry the operator's choices of separator, sheet and hidden rows;
    `number_format` ("it" or "en", `numbers.NUMBER_FORMATS`) is the convention the file's
    numbers are written in. Raises parsing.ImportFileError with an Italian sentence when the
    file cannot be used, and its subclass ImportChoiceNeeded when the operator must choose
    first; ValueError for an unknown number format. Reads nothing from the database and writes
    nothing: call it outside any transaction, since reading a large file takes seconds and on
    SQLite (transactions in IMMEDIATE mode) a transaction holds the database's one write lock
    from its start, so every other request and the workers would wait for the parse.
    """
    if number_format not in NUMBER_FORMATS:
        raise ValueError(f"unknown number format {number_format!r}")
    return parse_table(data=data, filename=file_name, options=options, number_format=number_format)


@transaction.atomic
def recipient_list_upload(
    *,
    organization: Organization,
    actor: User,
    template: MessageTemplate,
    service: IOService,
    file_name: str,
    table: ParsedTable,
    number_format: str = DEFAULT_NUMBER_FORMAT,
    request: HttpRequest | None = None,
) -> RecipientList:
    """A new list of the rows of `table` (from `recipient_list_read`, with the same
    `number_format`): rows sealed, the file itself discarded.

    The list keeps `number_format` for the validation. Expired lists are purged on the way.
    Audited (file name and row count only). One short transaction: a list is never left
    without its rows. Raises ValueError for an unknown number format.
    """
    if number_format not in NUMBER_FORMATS:
        raise ValueError(f"unknown number format {number_format!r}")
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
        shown_cells=table.shown_cells,
        cell_problems=table.cell_problems,
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


def _structure_problem(
    headers: list[str], row: list[str], line: int, reason: Any
) -> dict[str, Any]:
    """A row the file's structure made unreadable, as a rejected row's problem: with the
    column and cell its reason names ("Nome (B2)", a formula without its result), so the
    table of rejected rows says where it is."""
    found = problem_cell(reason, line)
    if found is None:
        return {"column": "", "value": "", "reason": reason}
    position, reference = found
    header = headers[position] if position < len(headers) else ""
    column = f"{header} ({reference})" if header else reference
    value = row[position] if position < len(row) else ""
    if len(value) > MAX_CELL_CHARS:
        value = ""  # the reason says it is too long: never echoed back
    return {"column": column, "value": value, "reason": reason}


def recipient_list_validate(
    *, recipient_list: RecipientList, mapping: dict[str, str]
) -> RecipientList:
    """Check every row with `mapping` (target -> column) and store the outcome.

    The mapping is remembered on the template for the next upload. All or nothing: the list
    holds the valid rows and the rejected ones, and nothing is queued until it is launched.
    A row the file's structure made unreadable (its columns do not match the header) is
    rejected with that reason alone: its values would be shifted. Unreadable cells
    (`ParsedTable.cell_problems`) reject their row only in a column the mapping uses, with
    the row's other problems (`validate_rows`). The rows are checked
    before the transaction that stores the outcome (seconds for a large list, during which
    SQLite's write lock would otherwise be held: see `recipient_list_read`); the outcome is
    written in one short transaction.
    """
    rows, lines, problems = recipient_list.get_rows_and_problems()
    number_cells, date_system = recipient_list.get_cell_sources()
    outcome = _check(
        recipient_list,
        mapping,
        rows,
        lines,
        problems,
        number_cells,
        date_system,
        recipient_list.read_rows().cell_problems,
    )
    with transaction.atomic():
        _store_check(recipient_list, mapping, outcome)
    return recipient_list


def _check(
    recipient_list: RecipientList,
    mapping: dict[str, str],
    all_rows: list[list[str]],
    all_lines: list[int],
    problems: dict[int, Any],
    all_number_cells: list[list[int]],
    date_system: int | None,
    cell_problems: dict[int, dict[int, Any]] | None = None,
) -> ValidationOutcome:
    """The outcome of the check of the rows given (the list's, or those it is about to
    store), set on the list's fields but not saved: reads only, no write."""
    readable = [index for index, line in enumerate(all_lines) if line not in problems]
    rows = [all_rows[index] for index in readable]
    lines = [all_lines[index] for index in readable]
    # Per row, like the rows (an XLSX file's; empty for a CSV file).
    number_cells = [
        all_number_cells[index] if index < len(all_number_cells) else [] for index in readable
    ]
    spec = message_spec(
        template=recipient_list.template,
        service=recipient_list.service,
        recipient_list=recipient_list,
    )
    outcome = validate_rows(
        headers=recipient_list.headers,
        rows=rows,
        lines=lines,
        mapping=mapping,
        spec=spec,
        number_format=recipient_list.number_format,
        number_cells=number_cells,
        date_system=date_system,
        cell_problems=cell_problems,
    )
    if problems:
        unreadable = [
            {
                "line": line,
                "reasons": [problems[line]],
                "problems": [_structure_problem(recipient_list.headers, row, line, problems[line])],
                "cells": list(row),
            }
            for row, line in zip(all_rows, all_lines, strict=True)
            if line in problems
        ]
        outcome.rejected = sorted([*outcome.rejected, *unreadable], key=lambda r: r["line"])
    recipient_list.column_mapping = mapping
    recipient_list.check_warnings = outcome.warnings
    recipient_list.check_warning_facts = outcome.warning_facts
    recipient_list.valid_count = len(outcome.valid)
    recipient_list.rejected_count = len(outcome.rejected)
    test_mode_skips_record(recipient_list, outcome.valid)
    recipient_list.total_amount = outcome.total_amount
    recipient_list.repeated_excluded = 0
    recipient_list.content_fingerprint = content_fingerprint(
        subject=spec.subject,
        markdown=spec.markdown,
        placeholders=spec.placeholders,
        feature_level=spec.feature_level,
    )
    recipient_list.state = RecipientList.State.VALIDATED
    recipient_list.checked_at = timezone.now()
    return outcome


def _store_check(
    recipient_list: RecipientList, mapping: dict[str, str], outcome: ValidationOutcome
) -> None:
    """The writes of a check (`_check`'s outcome), in the caller's transaction."""
    recipient_list.store(RecipientChunk.Kind.VALID, outcome.valid)
    recipient_list.store(RecipientChunk.Kind.REJECTED, outcome.rejected)
    recipient_list.save()
    store_content_keys(recipient_list, outcome.valid, outcome.content_hashes)
    template_remember_mapping(template=recipient_list.template, mapping=mapping)


def recipient_list_change_number_format(
    *, recipient_list: RecipientList, number_format: str
) -> RecipientList:
    """Read the list's numbers in another convention ("it" or "en") without a new upload.

    Text cells stay as typed: the check reads them with the new convention. An XLSX Number
    cell's text was written by the reader with the chosen convention's decimal separator and
    no other separator (`numbers.excel_number_text`), so it gets the new one: the same text
    the reader gives with the new choice. A checked list is checked again with its mapping.
    The rows are rewritten and checked in memory, then stored in one short transaction (see
    `recipient_list_validate`). Raises ValueError for an unknown convention.
    """
    if number_format not in NUMBER_FORMATS:
        raise ValueError(f"unknown number format {number_format!r}")
    if number_format == recipient_list.number_format:
        return recipient_list
    stored = recipient_list.read_rows()
    rows = list(stored.rows)
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
    recipient_list.number_format = number_format
    mapping = dict(recipient_list.column_mapping)
    outcome = None
    if recipient_list.state == RecipientList.State.VALIDATED:
        number_cells = list(stored.number_cells) if any(stored.number_cells) else []
        outcome = _check(
            recipient_list,
            mapping,
            rows,
            list(stored.lines),
            dict(stored.problems),
            number_cells,
            recipient_list.date_system,
            dict(stored.cell_problems),
        )
    with transaction.atomic():
        if any(stored.number_cells):
            recipient_list.set_rows(
                rows,
                list(stored.lines),
                dict(stored.problems),
                number_cells=list(stored.number_cells),
                date_system=recipient_list.date_system,
                shown_cells=list(stored.shown_cells),
                cell_problems=dict(stored.cell_problems),
            )
        recipient_list.save(update_fields=["number_format"])
        if outcome is not None:
            _store_check(recipient_list, mapping, outcome)
    return recipient_list
