"""Templates, launching dispatches, test sends and four-eyes approval.

Views call these functions; they never talk to IO. A launched dispatch is handed to the
sending pipeline (`ioportal.sending`) by `wake_pipeline` once the transaction has committed.
"""

import importlib
import logging
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from ioportal.accounts.models import Organization, User
from ioportal.core.services import Action, audit_log, changed_fields
from ioportal.ioapi import SANDBOX_FISCAL_CODE, normalize_fiscal_code
from ioportal.ioservices.models import IOService
from ioportal.messaging.fiscal_codes import protect_fiscal_code
from ioportal.messaging.models import (
    ApprovalPolicy,
    Delivery,
    Dispatch,
    FeatureLevel,
    MessageTemplate,
    Notification,
)
from ioportal.recipients.models import CHUNK_ROWS, RecipientChunk, RecipientList

logger = logging.getLogger(__name__)

DELIVERY_BATCH = 1000
# Lists up to this many valid rows get their deliveries inside the launch request (a
# fraction of a second); bigger ones from the `prepare_dispatch` worker task.
PREPARE_INLINE_MAX = CHUNK_ROWS
# Chunks turned into deliveries per transaction: fewer commits, each index page written
# once for several chunks (SQLite's cost grows with the pages a commit dirties).
PREPARE_STEP_CHUNKS = 5
# A preparation with no step for this long is enqueued again by the sending sweeper.
PREPARE_STALLED_AFTER = timedelta(minutes=2)
TEMPLATE_FIELDS = (
    "name",
    "subject",
    "markdown",
    "placeholders",
    "default_service",
    "feature_level",
    "has_due_date",
    "has_payment",
)


# --- the pipeline's entry point -------------------------------------------------------------


def wake_pipeline(*, organization_id: int) -> None:
    """Tell the sending pipeline that an organization has work. Call it in on_commit.

    The pipeline lives in `ioportal.sending.triggers`; while it is not installed the dispatch
    simply waits in the database for the pipeline's periodic sweep.
    """
    try:
        triggers = importlib.import_module("ioportal.sending.triggers")
    except ImportError:
        logger.warning("sending pipeline not installed: dispatch waits for the sweep")
        return
    triggers.wake_up(organization_id=organization_id)


def _wake_on_commit(dispatch: Dispatch) -> None:
    if dispatch.state in (Dispatch.State.RUNNING, Dispatch.State.SCHEDULED):
        organization_id = dispatch.organization_id
        transaction.on_commit(lambda: wake_pipeline(organization_id=organization_id))


# --- templates ----------------------------------------------------------------------------


def template_create(
    *,
    organization: Organization,
    actor: User,
    name: str,
    subject: str,
    markdown: str,
    placeholders: list[dict[str, Any]],
    default_service: IOService | None = None,
    feature_level: str = FeatureLevel.STANDARD,
    has_due_date: bool = False,
    has_payment: bool = False,
    request: HttpRequest | None = None,
) -> MessageTemplate:
    """Create version 1 of a template and audit it."""
    template = MessageTemplate.objects.create(
        organization=organization,
        created_by=actor,
        name=name,
        subject=subject,
        markdown=markdown,
        placeholders=placeholders,
        default_service=default_service,
        feature_level=feature_level,
        has_due_date=has_due_date,
        has_payment=has_payment,
    )
    audit_log(
        action=Action.TEMPLATE_CREATED,
        actor=actor,
        organization=organization,
        target=template,
        request=request,
    )
    return template


@transaction.atomic
def template_update(
    *, template: MessageTemplate, actor: User, request: HttpRequest | None = None, **fields: Any
) -> MessageTemplate:
    """Change a template. Returns the template now current.

    If a dispatch already used this version, a new version (same family, version + 1) is
    created and becomes current, so past dispatches keep what they were sent with; otherwise
    the row is changed in place and lists checked against it must be checked again. Audited.
    """
    unknown = set(fields) - set(TEMPLATE_FIELDS)
    if unknown:
        raise TypeError(f"unknown template fields: {sorted(unknown)}")
    # Compared with the stored row, not with `template`: a bound ModelForm has already
    # copied the submitted values onto the instance it was given.
    stored = MessageTemplate.objects.select_for_update().get(pk=template.pk)
    before = {name: getattr(stored, name) for name in fields}
    changes = changed_fields(before, fields)
    if not changes:
        return stored
    if stored.dispatches.exists():
        MessageTemplate.objects.filter(pk=stored.pk).update(is_current=False)
        new = MessageTemplate.objects.create(
            organization=stored.organization,
            family=stored.family,
            version=stored.version + 1,
            is_current=True,
            column_mapping=stored.column_mapping,
            created_by=actor,
            **{name: getattr(stored, name) for name in TEMPLATE_FIELDS if name not in fields},
            **fields,
        )
        changes["version"] = [stored.version, new.version]
        template = new
    else:
        for name, value in fields.items():
            setattr(stored, name, value)
        stored.save()
        template = stored
        RecipientList.objects.filter(template=template, dispatch__isnull=True).update(
            state=RecipientList.State.UPLOADED
        )
    audit_log(
        action=Action.TEMPLATE_UPDATED,
        actor=actor,
        organization=template.organization,
        target=template,
        changes=changes,
        request=request,
    )
    return template


def template_remember_mapping(*, template: MessageTemplate, mapping: dict[str, str]) -> None:
    """Store the column mapping on the template's current version for the next upload."""
    MessageTemplate.objects.filter(family=template.family, is_current=True).update(
        column_mapping=mapping
    )


# --- approval policy ----------------------------------------------------------------------


def approval_policy_update(
    *,
    organization: Organization,
    actor: User,
    threshold: int | None,
    always_for_premium: bool,
    request: HttpRequest | None = None,
) -> ApprovalPolicy:
    """Set when dispatches need a supervisor's approval. Audited."""
    policy, _created = ApprovalPolicy.objects.get_or_create(organization=organization)
    after = {"threshold": threshold, "always_for_premium": always_for_premium}
    changes = changed_fields(
        {"threshold": policy.threshold, "always_for_premium": policy.always_for_premium}, after
    )
    policy.threshold = threshold
    policy.always_for_premium = always_for_premium
    policy.save()
    if changes:
        audit_log(
            action=Action.APPROVAL_POLICY_CHANGED,
            actor=actor,
            organization=organization,
            target=organization,
            changes=changes,
            request=request,
        )
    return policy


def _needs_approval(organization: Organization, recipients: int, feature_level: str) -> bool:
    policy = ApprovalPolicy.objects.filter(organization=organization).first()
    return bool(
        policy and policy.requires_approval(recipients=recipients, feature_level=feature_level)
    )


def _state_when_cleared(scheduled_at: datetime | None) -> str:
    if scheduled_at is not None and scheduled_at > timezone.now():
        return Dispatch.State.SCHEDULED
    return Dispatch.State.RUNNING


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
)


def _deliveries(dispatch: Dispatch, rows: Iterable[dict[str, Any]]) -> int:
    """Create the dispatch's deliveries from validated rows, in batches. Returns the count.

    One INSERT statement run over each batch (executemany) with the values prepared by the
    model's own fields: `bulk_create` compiles all 33 fields of every row into statements of
    30 rows on SQLite, a quarter of a millisecond a row, 25 s for a 100,000-row list. A due
    date is converted once per distinct value (a list usually has one). On SQLite the
    connection's page cache is raised to SQLITE_BULK_CACHE_KIB meanwhile (`_sqlite_cache`).
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
    with _sqlite_cache(db):
        for row in rows:
            values: dict[str, Any] = {
                "public_id": uuid.uuid4(),
                "row_number": row.get("line"),
                "variables": row.get("variables") or {},
                "payment_amount": row.get("amount"),
                "notice_number": row.get("notice_number") or "",
                "invalid_after_due_date": bool(row.get("invalid_after_due_date")),
                "payee_fiscal_code": row.get("payee_fiscal_code") or "",
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


# SQLite's page cache while deliveries are inserted, in KiB: the default 2 MiB cannot hold
# the pages of the table's unique keys (a random public id and fiscal-code hash per row),
# so each insert read them again; 64 MiB holds those of a 100,000-row dispatch.
SQLITE_BULK_CACHE_KIB = 64 * 1024


@contextmanager
def _sqlite_cache(db: BaseDatabaseWrapper) -> Iterator[None]:
    """On SQLite, the connection's page cache at SQLITE_BULK_CACHE_KIB for the block, then
    back to what it was; elsewhere nothing."""
    if db.vendor != "sqlite":
        yield
        return
    with db.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone() or (-2000,)
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}")
    try:
        yield
    finally:
        with db.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {previous}")


def _insert(db: BaseDatabaseWrapper, sql: str, batch: list[list[Any]]) -> int:
    with db.cursor() as cursor:
        cursor.executemany(sql, batch)
    return len(batch)


def _validate_schedule(scheduled_at: datetime | None) -> None:
    if scheduled_at is not None and scheduled_at <= timezone.now():
        raise ValidationError(_("L'orario programmato deve essere nel futuro."))


# --- launching a list -----------------------------------------------------------------------


def dispatch_launch_list(
    *,
    recipient_list: RecipientList,
    actor: User,
    scheduled_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> tuple[Dispatch, bool]:
    """Create the dispatch of a checked list; its deliveries (one per valid row) follow.

    The dispatch starts PREPARING, a state the sending pipeline never picks up. A list of up
    to PREPARE_INLINE_MAX valid rows is prepared at once, in this transaction; a bigger one by
    the `prepare_dispatch` task, enqueued after commit, so the request returns at once and the
    dispatch page shows the progress. When every delivery exists the dispatch waits for
    approval when the organization's policy asked for it at launch; otherwise it is running
    (or scheduled) and the pipeline is woken. The list's rows are erased.

    Idempotent: the list's `launch_token` becomes the dispatch's, so double clicks, reloads
    and two tabs all get the one dispatch back, with `created` False.
    Raises ValidationError when the list is not checked or has no valid rows.
    """
    _validate_schedule(scheduled_at)
    try:
        return _launch_list(
            recipient_list=recipient_list, actor=actor, scheduled_at=scheduled_at, request=request
        )
    except IntegrityError:
        # Another request launched the same list between our check and our insert.
        existing = Dispatch.objects.filter(launch_token=recipient_list.launch_token).first()
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def _launch_list(
    *,
    recipient_list: RecipientList,
    actor: User,
    scheduled_at: datetime | None,
    request: HttpRequest | None,
) -> tuple[Dispatch, bool]:
    locked = RecipientList.objects.select_for_update().get(pk=recipient_list.pk)
    existing = Dispatch.objects.filter(launch_token=locked.launch_token).first()
    if existing is not None:
        return existing, False
    if locked.state != RecipientList.State.VALIDATED or locked.valid_count == 0:
        raise ValidationError(_("L'elenco non è stato controllato o non ha righe valide."))
    template = locked.template
    needs_approval = _needs_approval(
        locked.organization, locked.valid_count, template.feature_level
    )
    dispatch = Dispatch.objects.create(
        organization=locked.organization,
        service=locked.service,
        template=template,
        kind=Dispatch.Kind.LIST,
        title=f"{template.name} – {locked.file_name}"[:200],
        subject=template.subject,
        markdown=template.markdown,
        placeholders=template.placeholders,
        feature_level=template.feature_level,
        state=Dispatch.State.PREPARING,
        approval_required=needs_approval,
        deliveries_expected=locked.valid_count,
        prepared_at=timezone.now(),
        scheduled_at=scheduled_at,
        source_name=locked.file_name[:255],
        launch_token=locked.launch_token,
        created_by=actor,
    )
    locked.dispatch = dispatch
    locked.state = RecipientList.State.LAUNCHED
    locked.save()
    # The valid rows stay until they are deliveries; nothing else is needed any more.
    locked.erase(RecipientChunk.Kind.ROWS, RecipientChunk.Kind.REJECTED)
    audit_log(
        action=(Action.DISPATCH_APPROVAL_REQUESTED if needs_approval else Action.DISPATCH_LAUNCHED),
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        changes={"deliveries": locked.valid_count, "scheduled_at": str(scheduled_at or "")},
        request=request,
    )
    if locked.valid_count <= PREPARE_INLINE_MAX:
        dispatch_prepare(dispatch_id=dispatch.pk)
        dispatch.refresh_from_db()
    else:
        dispatch_id = dispatch.pk
        transaction.on_commit(lambda: _enqueue_preparation(dispatch_id=dispatch_id))
    return dispatch, True


def _enqueue_preparation(*, dispatch_id: int) -> None:
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
        _enqueue_preparation(dispatch_id=dispatch_id)
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
        return _deliveries(dispatch, (row for rows in chunks for row in rows))
    state: str = (
        Dispatch.State.AWAITING_APPROVAL
        if dispatch.approval_required
        else _state_when_cleared(dispatch.scheduled_at)
    )
    if not pending.update(state=state, prepared_at=now):
        return 0
    from ioportal.remotecontent.services import list_attachments_hand_over

    attachments = list_attachments_hand_over(recipient_list=recipient_list, dispatch=dispatch)
    recipient_list.erase()
    dispatch.state = state
    logger.info(
        "dispatch %s prepared: %d deliveries, %d attachments",
        dispatch.public_id,
        dispatch.deliveries_prepared,
        attachments,
    )
    _wake_on_commit(dispatch)
    return None


# --- single citizen -----------------------------------------------------------------------


@transaction.atomic
def dispatch_create_single(
    *,
    organization: Organization,
    service: IOService,
    actor: User,
    fiscal_code: str,
    subject: str,
    markdown: str,
    launch_token: uuid.UUID,
    feature_level: str = FeatureLevel.STANDARD,
    due_date: datetime | None = None,
    amount: int | None = None,
    notice_number: str = "",
    invalid_after_due_date: bool = False,
    request: HttpRequest | None = None,
) -> tuple[Dispatch, bool]:
    """A dispatch to one citizen with the text as written (no placeholders are filled).

    Idempotent on `launch_token` (the form's hidden token). Approval rules apply as for
    lists. The caller has validated the content with IO's rules.
    """
    existing = Dispatch.objects.filter(launch_token=launch_token).first()
    if existing is not None:
        return existing, False
    needs_approval = _needs_approval(organization, 1, feature_level)
    dispatch = Dispatch.objects.create(
        organization=organization,
        service=service,
        kind=Dispatch.Kind.SINGLE,
        title=subject[:200],
        subject=subject,
        markdown=markdown,
        placeholders=[],
        feature_level=feature_level,
        state=Dispatch.State.AWAITING_APPROVAL if needs_approval else Dispatch.State.RUNNING,
        launch_token=launch_token,
        created_by=actor,
    )
    _deliveries(
        dispatch,
        [
            {
                "line": 1,
                "fiscal_code": normalize_fiscal_code(fiscal_code),
                "variables": {},
                "due_date": due_date.isoformat() if due_date else None,
                "amount": amount,
                "notice_number": notice_number,
                "invalid_after_due_date": invalid_after_due_date,
            }
        ],
    )
    audit_log(
        action=(Action.DISPATCH_APPROVAL_REQUESTED if needs_approval else Action.DISPATCH_LAUNCHED),
        actor=actor,
        organization=organization,
        target=dispatch,
        changes={"deliveries": 1, "kind": "single"},
        request=request,
    )
    _wake_on_commit(dispatch)
    return dispatch, True


# --- test sends -----------------------------------------------------------------------------


def recipients_for_test_send(service: IOService) -> list[str]:
    """The service's authorized recipients, or IO's sandbox fiscal code when it has none."""
    codes = [normalize_fiscal_code(str(c)) for c in (service.authorized_recipients or [])]
    return list(dict.fromkeys(c for c in codes if c)) or [SANDBOX_FISCAL_CODE]


@transaction.atomic
def dispatch_send_test(
    *,
    recipient_list: RecipientList,
    row: dict[str, Any],
    actor: User,
    request: HttpRequest | None = None,
) -> Dispatch:
    """Send the message rendered for `row` to the service's test recipients.

    Goes through the normal pipeline as a dispatch of kind `test` (no approval needed): its
    deliveries carry `row`'s values and payment data with the test recipients' fiscal codes,
    and a Premium message the list's shared file and the row's own file (copies).
    """
    template = recipient_list.template
    dispatch = Dispatch.objects.create(
        organization=recipient_list.organization,
        service=recipient_list.service,
        template=template,
        kind=Dispatch.Kind.TEST,
        title=(_("Prova: %(name)s") % {"name": template.name})[:200],
        subject=template.subject,
        markdown=template.markdown,
        placeholders=template.placeholders,
        feature_level=template.feature_level,
        state=Dispatch.State.RUNNING,
        source_name=recipient_list.file_name[:255],
        created_by=actor,
    )
    rows = [
        {**row, "fiscal_code": code, "line": row.get("line")}
        for code in recipients_for_test_send(recipient_list.service)
    ]
    _deliveries(dispatch, rows)
    from ioportal.remotecontent.services import list_attachments_copy_for_test

    attachments = list_attachments_copy_for_test(recipient_list=recipient_list, dispatch=dispatch)
    audit_log(
        action=Action.DISPATCH_TEST_SENT,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        changes={"recipients": len(rows), "row": row.get("line"), "attachments": attachments},
        request=request,
    )
    _wake_on_commit(dispatch)
    return dispatch


# --- four-eyes approval -------------------------------------------------------------------


def _notify(dispatch: Dispatch, text: str) -> None:
    Notification.objects.create(
        user=dispatch.created_by,
        organization=dispatch.organization,
        dispatch=dispatch,
        text=text[:500],
    )


@transaction.atomic
def dispatch_approve(
    *, dispatch: Dispatch, actor: User, request: HttpRequest | None = None
) -> Dispatch:
    """Approve a dispatch awaiting approval: it starts (or waits for its time).

    Nobody approves their own dispatch (PermissionDenied; the database refuses it too). A
    dispatch no longer awaiting approval raises ValidationError, so a second click is
    harmless. Audited; the author is notified on the dashboard.
    """
    if dispatch.created_by_id == actor.pk:
        raise PermissionDenied(_("Non puoi approvare un invio che hai creato tu."))
    state = _state_when_cleared(dispatch.scheduled_at)
    updated = Dispatch.objects.filter(
        pk=dispatch.pk, state=Dispatch.State.AWAITING_APPROVAL
    ).update(state=state, approved_by=actor, approved_at=timezone.now())
    if not updated:
        raise ValidationError(_("Questo invio non è più in attesa di approvazione."))
    dispatch.refresh_from_db()
    audit_log(
        action=Action.DISPATCH_APPROVED,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        request=request,
    )
    _notify(
        dispatch,
        _("%(who)s ha approvato il tuo invio «%(title)s».")
        % {"who": actor.get_full_name() or actor.username, "title": dispatch.title},
    )
    _wake_on_commit(dispatch)
    return dispatch


@transaction.atomic
def dispatch_reject(
    *, dispatch: Dispatch, actor: User, reason: str, request: HttpRequest | None = None
) -> Dispatch:
    """Reject a dispatch awaiting approval, with a reason for its author. Nothing is sent.

    Same guards as `dispatch_approve`. Audited; the author is notified on the dashboard.
    """
    if dispatch.created_by_id == actor.pk:
        raise PermissionDenied(_("Non puoi respingere un invio che hai creato tu."))
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Scrivi il motivo: l'autore lo leggerà."))
    now = timezone.now()
    updated = Dispatch.objects.filter(
        pk=dispatch.pk, state=Dispatch.State.AWAITING_APPROVAL
    ).update(state=Dispatch.State.REJECTED, rejection_reason=reason, finished_at=now)
    if not updated:
        raise ValidationError(_("Questo invio non è più in attesa di approvazione."))
    Delivery.objects.filter(dispatch=dispatch, state=Delivery.State.PENDING).update(
        state=Delivery.State.CANCELLED, finished_at=now
    )
    dispatch.refresh_from_db()
    audit_log(
        action=Action.DISPATCH_REJECTED,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        changes={"reason": reason},
        request=request,
    )
    _notify(
        dispatch,
        _("%(who)s ha respinto il tuo invio «%(title)s»: %(reason)s")
        % {
            "who": actor.get_full_name() or actor.username,
            "title": dispatch.title,
            "reason": reason,
        },
    )
    return dispatch


def notifications_mark_read(*, user: User, organization: Organization, ids: Sequence[str]) -> int:
    """Mark some of a user's notifications as read. Returns how many changed."""
    return Notification.objects.filter(
        user=user, organization=organization, public_id__in=ids, read_at__isnull=True
    ).update(read_at=timezone.now())
