"""Recipient lists: rejected rows and their export, purge.

A list is uploaded and checked for a template in `ioportal.messaging.lists`.
"""

import csv
import io
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ioportal.accounts.models import Organization, User
from ioportal.core.io_texts import Part, reason_text, said
from ioportal.core.services import audit_log
from ioportal.core.spreadsheets import FORMULA_PREFIXES as FORMULA_PREFIXES
from ioportal.core.spreadsheets import formula_safe
from ioportal.recipients.audit import Action
from ioportal.recipients.models import (
    PENDING_UPLOAD_TTL,
    PendingUpload,
    RecipientChunk,
    RecipientList,
)
from ioportal.recipients.parsing import ImportFileError, header_label, header_part
from ioportal.recipients.sealing import seal_bytes, unseal_bytes

# The formula-safety rule of every CSV cell lives in core (core.spreadsheets).
csv_safe = formula_safe


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


def rejected_problems(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A rejected row's problems, {"column", "value", "reason"} (validation.validate_rows;
    the reason a core.io_texts.Part, or a text for rows checked before reasons were stored
    untranslated); rows checked before values were kept give their reasons alone."""
    if "problems" in row:
        return list(row["problems"])
    return [{"column": "", "value": "", "reason": reason} for reason in row["reasons"]]


def problem_part(problem: dict[str, Any]) -> Part:
    """One problem as a sentence to translate when shown: `Importo «12,3,4»: Non è un
    importo in euro.`; without the value when none is shown (an empty cell, a number Excel
    changed). A reason stored as text is kept as such (core.io_texts.reason_text)."""
    reason = problem["reason"]
    reason = {"text": reason} if isinstance(reason, str) else reason
    if not problem["column"]:
        return reason
    column = header_part(problem["column"])
    if not problem["value"]:
        return said(gettext_noop("%(column)s: %(reason)s"), column=column, reason=reason)
    return said(
        gettext_noop("%(column)s «%(value)s»: %(reason)s"),
        column=column,
        value=problem["value"],
        reason=reason,
    )


def problem_text(problem: dict[str, Any]) -> str:
    """One problem as a sentence in the active language (`problem_part`)."""
    return reason_text(problem_part(problem))


def shown_problems(row: dict[str, Any]) -> list[dict[str, str]]:
    """A rejected row's problems for a page, their reasons in the active language."""
    return [
        {
            **problem,
            "column": header_label(problem["column"]),
            "reason": reason_text(problem["reason"]),
        }
        for problem in rejected_problems(row)
    ]


def rejected_rows_csv(
    *, recipient_list: RecipientList, actor: User, request: HttpRequest | None = None
) -> str:
    """The rejected rows as CSV (original columns, then line and reason), ready to fix and
    upload again. Formula-looking cells are neutralised. Audited: it is personal data."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=recipient_list.delimiter or ";", quoting=csv.QUOTE_ALL)
    # The two columns added after the file's own are named in the reader's language, as the
    # reasons they hold.
    headers = [header_label(h) for h in recipient_list.headers]
    writer.writerow([csv_safe(h) for h in [*headers, _("riga"), _("motivo")]])
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
