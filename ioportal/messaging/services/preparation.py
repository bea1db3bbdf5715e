"""Turning a launched list into deliveries, chunk by chunk, inline or in the
`prepare_dispatch` worker task.
"""

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from ioportal.core.fiscalcode import protect_fiscal_code
from ioportal.core.sqlite import bulk_page_cache
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.messaging.repeated import content_fingerprint, row_content_sha256
from ioportal.messaging.services.pipeline import (
    started_fields,
    state_when_cleared,
    wake_on_commit,
)
from ioportal.messaging.signals import list_files_needed
from ioportal.recipients.models import RecipientChunk, RecipientList

logger = logging.getLogger(__name__)

DELIVERY_BATCH = 1000


# Chunks turned into deliveries per transaction: fewer commits, each index page written
# once for several chunks (SQLite's cost grows with the pages a commit dirties).
PREPARE_STEP_CHUNKS = 5
# A preparation with no step for this long is enqueued again by the sending sweeper.
PREPARE_STALLED_AFTER = timedelta(minutes=2)


# --- deliveries -----------------------------------------------------------------------------


# The columns a validated row fills (every other column takes the model's default): those
# whose database value differs by backend go through their field; the others are plain
# str, int, bool or None, the same on every backend (the due date goes through its field
# once per distinct value).
CONVERTED_FIELDS = ("public_id", "variables")
PLAIN_FIELDS = (
    "row_number",
    "payment_amount",
    "notice_number",
    "invalid_after_due_date",
    "payee_fiscal_code",
    "fiscal_code_encrypted",
    "fiscal_code_hmac",
    "fiscal_code_masked",
    "content_sha256",
)


def create_deliveries(
    dispatch: Dispatch, rows: Iterable[dict[str, Any]], *, checked_fingerprint: str = ""
) -> int:
    """Create the dispatch's deliveries from validated rows, in batches. Returns the count.

    One INSERT statement run over each batch (executemany) with the values prepared by the
    model's own fields: `bulk_create` compiles all 33 fields of every row into statements of
    30 rows on SQLite, a quarter of a millisecond a row, 25 s for a 100,000-row list. A due
    date is converted once per distinct value (a list usually has one). On SQLite the
    connection's page cache is raised meanwhile (`core.sqlite.bulk_page_cache`).
    Each delivery gets the hash of its content (`repeated.row_content_sha256`): the row's
    own "content_sha256", computed by the check, when `checked_fingerprint` (the list's
    `content_fingerprint`) is that of the dispatch's frozen texts; else, as for a template
    edited between the check and the launch, the row is rendered again.
    """
    db = connections[router.db_for_write(Delivery)]  # resolved once: this loop is hot
    fields = [f for f in Delivery._meta.concrete_fields if not f.primary_key]
    by_name = {f.name: f for f in fields}
    prototype = Delivery(dispatch=dispatch, created_at=timezone.now())
    constant = [f.get_db_prep_save(getattr(prototype, f.attname), db) for f in fields]
    converted = [(fields.index(by_name[name]), by_name[name]) for name in CONVERTED_FIELDS]
    plain = [(fields.index(by_name[name]), name) for name in PLAIN_FIELDS]
    due_field = by_name["due_date"]
    due_position = fields.index(due_field)
    due_values: dict[str, Any] = {}
    table = db.ops.quote_name(Delivery._meta.db_table)
    columns = ", ".join(db.ops.quote_name(str(f.column)) for f in fields)
    # Names from the model, quoted; every value a parameter.
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    batch: list[list[Any]] = []
    count = 0
    texts: dict[str, Any] = {
        "subject": dispatch.subject,
        "markdown": dispatch.markdown,
        "placeholders": dispatch.placeholders or [],
        "feature_level": dispatch.feature_level,
    }
    checked = bool(checked_fingerprint) and checked_fingerprint == content_fingerprint(**texts)
    with bulk_page_cache(db):
        for row in rows:
            values: dict[str, Any] = {
                "public_id": uuid.uuid4(),
                "row_number": row.get("line"),
                "variables": row.get("variables") or {},
                "payment_amount": row.get("amount"),
                "notice_number": row.get("notice_number") or "",
                "invalid_after_due_date": bool(row.get("invalid_after_due_date")),
                "payee_fiscal_code": row.get("payee_fiscal_code") or "",
                "content_sha256": (checked and row.get("content_sha256"))
                or row_content_sha256(**texts, row=row),
                **protect_fiscal_code(row["fiscal_code"]),
            }
            params = list(constant)
            for position, field in converted:
                params[position] = field.get_db_prep_save(values[field.name], db)
            for position, name in plain:
                params[position] = values[name]
            if due := row.get("due_date"):
                if due not in due_values:
                    moment = datetime.fromisoformat(due)
                    due_values[due] = due_field.get_db_prep_save(moment, db)
                params[due_position] = due_values[due]
            batch.append(params)
            if len(batch) >= DELIVERY_BATCH:
                count += _insert(db, sql, batch)
                batch = []
        if batch:
            count += _insert(db, sql, batch)
    return count


def _insert(db: BaseDatabaseWrapper, sql: str, batch: list[list[Any]]) -> int:
    with db.cursor() as cursor:
        cursor.executemany(sql, batch)
    return len(batch)


def enqueue_preparation(*, dispatch_id: int) -> None:
    async_task(
        "ioportal.messaging.tasks.prepare_dispatch",
        dispatch_id,
        task_name=f"messaging-prepare-{dispatch_id}",
    )


def dispatches_resume_preparation(*, stalled_after: timedelta = PREPARE_STALLED_AFTER) -> int:
    """Enqueue `prepare_dispatch` again for dispatches whose preparation made no step for
    `stalled_after` (its task was lost with a worker). Harmless when the task is only slow:
    two runs share the work chunk by chunk. Returns how many were enqueued."""
    since = timezone.now() - stalled_after
    ids = list(
        Dispatch.objects.filter(state=Dispatch.State.PREPARING, prepared_at__lt=since).values_list(
            "pk", flat=True
        )
    )
    for dispatch_id in ids:
        enqueue_preparation(dispatch_id=dispatch_id)
    return len(ids)


def dispatch_prepare(*, dispatch_id: int) -> int:
    """Turn a PREPARING dispatch's list into deliveries, PREPARE_STEP_CHUNKS chunks of
    CHUNK_ROWS rows per transaction, then release the dispatch (see `dispatch_launch_list`).
    Returns how many deliveries this call created.

    Resumable and idempotent: the dispatch counts the chunks done, and each step's
    deliveries are written in the transaction that advances the count with a compare-and-set,
    so a crash loses at most an uncommitted step, and a second run (or two at once) creates
    nothing twice (the one-delivery-per-citizen constraint holds besides). A dispatch no
    longer PREPARING (cancelled, or done) is left alone, and its list emptied.
    """
    created = 0
    while (step := _prepare_step(dispatch_id)) is not None:
        created += step
    return created


def attach_list_files(
    *, recipient_list: RecipientList, dispatch: Dispatch, test: bool = False
) -> int:
    """Give `dispatch` the files uploaded with `recipient_list` (signals.list_files_needed):
    handed over at launch, copies for a test send. Call it inside the transaction that makes
    the dispatch. Returns the number of attachments created."""
    answers = list_files_needed.send(
        sender=Dispatch, dispatch=dispatch, recipient_list=recipient_list, test=test
    )
    return sum(int(count or 0) for _receiver, count in answers)


@transaction.atomic
def _prepare_step(dispatch_id: int) -> int | None:
    """Up to PREPARE_STEP_CHUNKS chunks (returns their rows, 0 when another run took them),
    the release, or None when there is nothing left to do."""
    dispatch = Dispatch.objects.filter(pk=dispatch_id).first()
    if dispatch is None:
        return None
    recipient_list = RecipientList.objects.filter(dispatch=dispatch).first()
    if dispatch.state != Dispatch.State.PREPARING:
        if recipient_list is not None:
            recipient_list.erase()
        return None
    if recipient_list is None:
        logger.error("dispatch %s: its list is gone before its deliveries", dispatch.public_id)
        return None
    index = dispatch.prepared_chunks
    chunks = [
        rows
        for offset in range(PREPARE_STEP_CHUNKS)
        if (rows := recipient_list.chunk(RecipientChunk.Kind.VALID, index + offset))
    ]
    pending = Dispatch.objects.filter(
        pk=dispatch.pk, state=Dispatch.State.PREPARING, prepared_chunks=index
    )
    now = timezone.now()
    if chunks:
        # The compare-and-set comes first: it holds the dispatch's row until commit.
        if not pending.update(
            prepared_chunks=index + len(chunks),
            deliveries_prepared=F("deliveries_prepared") + sum(len(rows) for rows in chunks),
            prepared_at=now,
        ):
            return 0
        return create_deliveries(
            dispatch,
            (row for rows in chunks for row in rows),
            checked_fingerprint=recipient_list.content_fingerprint,
        )
    state: str = (
        Dispatch.State.AWAITING_APPROVAL
        if dispatch.approval_required
        else state_when_cleared(dispatch.scheduled_at)
    )
    if not pending.update(state=state, prepared_at=now, **started_fields(state, now)):
        return 0
    attachments = attach_list_files(recipient_list=recipient_list, dispatch=dispatch)
    recipient_list.erase()
    dispatch.state = state
    logger.info(
        "dispatch %s prepared: %d deliveries, %d attachments",
        dispatch.public_id,
        dispatch.deliveries_prepared,
        attachments,
    )
    wake_on_commit(dispatch)
    return None
