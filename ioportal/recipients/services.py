"""Recipient lists: upload, column mapping and validation, rejected rows, purge."""

import csv
import io
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
from ioportal.recipients.models import RecipientChunk, RecipientList
from ioportal.recipients.parsing import parse_table
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
    expired = RecipientList.objects.filter(expires_at__lte=now or timezone.now()).exclude(
        dispatch__state="preparing"  # messaging.Dispatch.State.PREPARING (a layer above)
    )
    _total, deleted = expired.delete()
    return deleted.get(RecipientList._meta.label, 0)


@transaction.atomic
def recipient_list_upload(
    *,
    organization: Organization,
    actor: User,
    template: MessageTemplate,
    service: IOService,
    file_name: str,
    data: bytes,
    request: HttpRequest | None = None,
) -> RecipientList:
    """Read an uploaded CSV/XLSX into a new list (rows sealed, the file itself discarded).

    Raises parsing.ImportFileError with an Italian sentence when the file cannot be used.
    Expired lists are purged on the way. Audited (file name and row count only). One
    transaction: a list is never left without its rows.
    """
    table = parse_table(data=data, filename=file_name)
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
        column_mapping=dict(template.column_mapping or {}),
        expires_at=timezone.now() + timedelta(hours=settings.RECIPIENTS_LIST_TTL_HOURS),
    )
    recipient_list.save()
    recipient_list.set_rows(table.rows, table.lines)
    audit_log(
        action=Action.RECIPIENTS_UPLOADED,
        actor=actor,
        organization=organization,
        target=recipient_list,
        changes={"rows": len(table.rows), "template": template.name, "service": service.name},
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
    """
    rows, lines = recipient_list.get_rows()
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
    )
    recipient_list.column_mapping = mapping
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


def rejected_problems(row: dict[str, Any]) -> list[dict[str, str]]:
    """A rejected row's problems, {"column", "value", "reason"} (validation.validate_rows);
    rows checked before values were kept give their reasons alone."""
    if "problems" in row:
        return list(row["problems"])
    return [{"column": "", "value": "", "reason": reason} for reason in row["reasons"]]


def problem_text(problem: dict[str, str]) -> str:
    """One problem as a sentence: `Importo «12,3,4»: non è un importo in euro.`"""
    if not problem["column"]:
        return problem["reason"]
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
