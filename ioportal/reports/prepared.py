"""Prepared exports: an XLSX of more than `settings.EXPORT_XLSX_INLINE_MAX_ROWS` rows is written
by a django-q2 worker, not while the browser waits (XlsxWriter cannot send a byte before the
whole workbook is written: a million rows take minutes, past any proxy's read timeout).

- `prepared_export_request` (the view, on the user's POST) records what to export and
  enqueues `tasks.build_export` once the transaction commits. The same request by the same
  user while one is queued or being written returns that one (a double click, a reload):
  a conditional unique constraint on (user, fingerprint) holds even for two requests at once.
- `prepared_export_build` (the worker) writes the workbook with `reports.exports` (the same
  rows, texts and formats as a direct download, in the requester's language and time zone)
  into a temporary file, then stores it encrypted (`core.crypto.encrypt_file`: Fernet frames
  of 1 MiB, constant memory) in the default storage, downloadable for `EXPIRY` (24 h).
- `prepared_export_stream` (the download view) audits the download with the same event as
  a direct export and gives the decrypted bytes frame by frame.
- `prepared_exports_purge` (a schedule, every 5 minutes) deletes the files past their
  expiry, the files of a dispatch whose personal data the retention purge removed (for a
  search: of any dispatch of the organization purged since the export was made), fails
  exports left queued or running by a worker that died (deleting what it wrote), and deletes
  any file of the folder that no queued, running or ready export names (its export deleted
  with its user, organization or dispatch).

A file of citizens' data is never left without the export that names it: the running export
names its file before a byte is written, and a failure deletes it at once.
"""

import hashlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_q.tasks import async_task

from ioportal.accounts.access import parse_public_id, require_role
from ioportal.accounts.models import Membership, User
from ioportal.core import crypto
from ioportal.core.services import audit_log
from ioportal.messaging.dispatch_access import SUPERVISE, get_dispatch_for_user
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.reports import exports
from ioportal.reports.audit import Action
from ioportal.reports.models import PreparedExport
from ioportal.sending.forms import DeliveryFilterForm
from ioportal.sending.selectors import deliveries_of_citizen_hash

logger = logging.getLogger(__name__)
P = PreparedExport
S = PreparedExport.State

# How long a ready file can be downloaded.
EXPIRY = timedelta(hours=24)
# Seconds the worker may spend on one export (django-q2 stops it then); below the cluster's
# `retry` (600 s), so a running export is never offered to a second worker. A million rows
# take about four and a half minutes.
TASK_TIMEOUT = 540
# A queued export older than this was lost (a queue emptied); a running one is lost a minute
# after its task's timeout (the worker was stopped).
STALE_AFTER = timedelta(hours=1)
# Expired and failed exports are forgotten this long after they were made.
KEEP_ROWS = timedelta(days=30)
STORAGE_DIR = "prepared-exports"


class PreparationFailed(Exception):
    """The export cannot be written; the message, an Italian msgid (gettext_noop), is stored
    untranslated and shown in the reader's language (PreparedExport.failure_text)."""


@dataclass(frozen=True)
class Request:
    """What to export: the kind, the dispatch (kind DISPATCH), the filters (`esito` or
    `fiscal_code_hmac`), the audit event's target label and the file's base name."""

    kind: str
    dispatch: Dispatch | None
    filters: dict[str, str]
    target_label: str
    filename: str


def dispatch_export_deliveries(*, dispatch: Dispatch, group: str) -> QuerySet[Delivery]:
    """The deliveries a dispatch's export writes: the outcome group of the dispatch page
    (`esito`, "" for all), in row order. The direct download and the worker share it."""
    form = DeliveryFilterForm({"esito": group})
    return form.apply(Delivery.objects.filter(dispatch=dispatch)).order_by("row_number", "id")


def _deliveries(export: PreparedExport, membership: Membership) -> QuerySet[Delivery]:
    filters = export.parameters
    if export.kind == P.Kind.DISPATCH:
        assert export.dispatch is not None
        return dispatch_export_deliveries(dispatch=export.dispatch, group=filters["esito"])
    return deliveries_of_citizen_hash(
        membership=membership, fiscal_code_hmac=filters["fiscal_code_hmac"]
    )


def _fingerprint(request: Request) -> str:
    dispatch_id = request.dispatch.pk if request.dispatch is not None else ""
    filters = "&".join(f"{key}={value}" for key, value in sorted(request.filters.items()))
    return hashlib.sha256(f"{request.kind}|{dispatch_id}|{filters}".encode()).hexdigest()


def prepared_export_request(*, membership: Membership, request: Request) -> PreparedExport:
    """A prepared XLSX export of `request` for the member: the one already queued or being
    written for the same user and request, or a new one, whose worker task is enqueued when
    the current transaction commits. Idempotent while one is active. The requester's
    language and time zone are kept for the worker."""
    fingerprint = _fingerprint(request)
    active = P.objects.filter(
        created_by=membership.user, fingerprint=fingerprint, state__in=P.ACTIVE
    )
    found = active.first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            export = P.objects.create(
                organization=membership.organization,
                created_by=membership.user,
                kind=request.kind,
                dispatch=request.dispatch,
                parameters={
                    **request.filters,
                    "language": translation.get_language() or settings.LANGUAGE_CODE,
                    "time_zone": timezone.get_current_timezone_name(),
                },
                fingerprint=fingerprint,
                target_label=request.target_label[:200],
                filename=request.filename[:120],
            )
    except IntegrityError:
        # The same request a moment earlier, in another transaction: join it.
        return active.get()
    transaction.on_commit(lambda: enqueue_build(export_id=export.pk))
    return export


def enqueue_build(*, export_id: int) -> None:
    """Start the worker task that writes the export (a second one returns at once)."""
    async_task(
        "ioportal.reports.tasks.build_export",
        export_id,
        task_name=f"prepared-export-{export_id}",
        timeout=TASK_TIMEOUT,
    )


class _Counted:
    """The rows, counted as they pass."""

    def __init__(self, rows: Iterator[list[exports.Cell]]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[list[exports.Cell]]:
        for row in self.rows:
            self.count += 1
            yield row


def _membership(export: PreparedExport) -> Membership:
    membership = (
        Membership.objects.filter(
            user_id=export.created_by_id,
            organization_id=export.organization_id,
            is_active=True,
            organization__is_active=True,
        )
        .select_related("organization", "user")
        .first()
    )
    if membership is None or not membership.has_role(Membership.Role.SUPERVISOR):
        raise PreparationFailed(
            gettext_noop("Chi ha chiesto il file non può più esportare queste consegne.")
        )
    return membership


def _storage_name() -> str:
    return f"{STORAGE_DIR}/{uuid.uuid4().hex}.xlsx.enc"


def _write(export: PreparedExport, name: str) -> tuple[int, int]:
    """Write the workbook and store it encrypted under `name`; (rows, XLSX bytes). The
    caller deletes `name` if this raises (a file written in part)."""
    membership = _membership(export)
    if export.dispatch is not None and export.dispatch.personal_data_purged_at is not None:
        raise PreparationFailed(
            gettext_noop("I dati personali di questo invio sono stati cancellati.")
        )
    with_dispatch = export.kind == P.Kind.SEARCH
    rows = _Counted(
        exports.delivery_rows(_deliveries(export, membership), with_dispatch=with_dispatch)
    )
    workbook = exports.write_xlsx(
        exports.header(with_dispatch=with_dispatch),
        rows,
        sheet_name=_("Consegne"),
        with_dispatch=with_dispatch,
    )
    with workbook, tempfile.TemporaryFile() as encrypted:
        size = workbook.seek(0, os.SEEK_END)
        workbook.seek(0)
        crypto.encrypt_file(workbook, encrypted)
        encrypted.seek(0)
        stored = default_storage.save(name, File(encrypted, name="export"))
    if stored != name:  # only if a random name were taken: the export must name its file
        default_storage.delete(stored)
        raise OSError(f"storage saved {stored!r} instead of {name!r}")
    return rows.count, size


def prepared_export_build(*, export_id: int) -> str:
    """Write a queued export (module docstring): claims it (queued → running, so a second
    task does nothing), writes and stores the encrypted file, then marks it ready for EXPIRY.
    The running export names its file (`file_name`) before it is written. A failure deletes
    what was written and marks it failed with a reason in Italian (an unexpected error is
    logged, its text is not shown); an error that escapes (the database unreachable) deletes
    the file too. Returns the final state, or "" when there was nothing to do."""
    now = timezone.now()
    name = _storage_name()
    claimed = P.objects.filter(pk=export_id, state=S.PENDING).update(
        state=S.RUNNING, started_at=now, file_name=name
    )
    if not claimed:
        return ""
    try:
        export = P.objects.select_related("dispatch", "organization").get(pk=export_id)
        parameters = export.parameters
        try:
            with (
                translation.override(parameters.get("language") or settings.LANGUAGE_CODE),
                timezone.override(parameters.get("time_zone") or settings.TIME_ZONE),
            ):
                try:
                    rows, size = _write(export, name)
                except PreparationFailed:
                    raise
                except Exception as error:
                    logger.exception("prepared export %s failed", export_id)
                    raise PreparationFailed(
                        gettext_noop(
                            "Non è stato possibile preparare il file. Riprova più tardi o "
                            "scegli CSV."
                        )
                    ) from error
        except PreparationFailed as failure:
            default_storage.delete(name)  # a file written in part (a full disk)
            P.objects.filter(pk=export_id, state=S.RUNNING).update(
                state=S.FAILED,
                failure_reason=str(failure)[:300],
                finished_at=timezone.now(),
                parameters={},
                file_name="",
            )
            return S.FAILED
        finished = timezone.now()
        done = P.objects.filter(pk=export_id, state=S.RUNNING, file_name=name).update(
            state=S.READY,
            rows=rows,
            size=size,
            finished_at=finished,
            expires_at=finished + EXPIRY,
        )
    except BaseException:
        default_storage.delete(name)
        raise
    if not done:  # deleted, or failed meanwhile (stale): no row names the file any more
        default_storage.delete(name)
        return ""
    return S.READY


def get_prepared_export_for_user(request: HttpRequest, public_id: Any) -> PreparedExport:
    """A prepared export of the member's organization that they requested, while they may
    still export it: below supervisor 403 (as the exports), another organization's or another
    user's export 404, and for a dispatch's export the dispatch access rule again (404 / 403)."""
    membership = require_role(request, Membership.Role.SUPERVISOR)
    export = get_object_or_404(
        P.objects.select_related("dispatch"),
        organization=membership.organization,
        created_by=membership.user,
        public_id=parse_public_id(public_id),
    )
    if export.dispatch is not None:
        get_dispatch_for_user(request, export.dispatch.public_id, SUPERVISE)
    return export


def prepared_export_stream(
    *, export: PreparedExport, actor: User, request: HttpRequest | None = None
) -> Iterator[bytes] | None:
    """The decrypted file of a ready export, frame by frame; None when it is not ready (or
    no longer available). Writes the export's audit event (the same action and changes as a
    direct download, with "prepared": true) before the first byte. Raises
    crypto.DecryptionError when the file cannot be read with the configured keys."""
    if not prepared_export_available(export):
        return None
    try:
        source = default_storage.open(export.file_name, "rb")
    except FileNotFoundError:
        return None
    frames = crypto.decrypt_file(source)
    try:
        first = next(frames)
    except BaseException:
        source.close()
        raise
    if export.kind == P.Kind.DISPATCH:
        action = Action.DISPATCH_DELIVERIES_EXPORTED
        changes: dict[str, Any] = {"esito": export.parameters.get("esito", "")}
    else:
        action = Action.SEARCH_RESULTS_EXPORTED
        changes = {"filters": ["codice_fiscale"]}
    audit_log(
        action=action,
        actor=actor,
        organization=export.organization,
        target=export.dispatch,
        target_label=export.target_label,
        changes={"rows": export.rows, "format": "xlsx", **changes, "prepared": True},
        request=request,
    )
    return _chained(first, frames, source)


def _chained(first: bytes, frames: Iterator[bytes], source: Any) -> Iterator[bytes]:
    try:
        yield first
        yield from frames
    finally:
        source.close()


def prepared_export_available(export: PreparedExport) -> bool:
    """True when the export's file can be downloaded: ready, stored, and no retention purge
    removed personal data it holds since. Its page offers the button on the same terms."""
    return export.state == S.READY and bool(export.file_name) and not _purged(export)


def _purged(export: PreparedExport) -> bool:
    """True when the retention purge removed personal data the export holds."""
    return _purged_filter().filter(pk=export.pk).exists()


def _purged_filter() -> QuerySet[PreparedExport]:
    purged_since = Dispatch.objects.filter(
        organization_id=OuterRef("organization_id"),
        personal_data_purged_at__gte=OuterRef("created_at"),
    )
    return P.objects.filter(
        Q(dispatch__personal_data_purged_at__isnull=False)
        | Q(kind=P.Kind.SEARCH) & Exists(purged_since)
    )


def prepared_exports_purge(*, now: datetime | None = None) -> int:
    """Delete the files of ready exports past their expiry or whose data the retention purge
    removed, and mark them expired (their filters forgotten); fail exports queued for longer
    than STALE_AFTER or running past their task's timeout, deleting the file a running one
    names; forget the rows of exports ended KEEP_ROWS ago; delete the files of STORAGE_DIR
    that no queued, running or ready export names (`_orphan_files`). Returns the number of
    files deleted. Idempotent."""
    now = now or timezone.now()
    deleted = 0
    due = P.objects.filter(state=S.READY).filter(
        Q(expires_at__lte=now) | Q(pk__in=_purged_filter().values("pk"))
    )
    for export_id, name in due.values_list("pk", "file_name").iterator():
        won = P.objects.filter(pk=export_id, state=S.READY).update(
            state=S.EXPIRED, file_name="", parameters={}
        )
        if won and name:
            default_storage.delete(name)
            deleted += 1
    lost = Q(state=S.PENDING, created_at__lte=now - STALE_AFTER) | Q(
        state=S.RUNNING, started_at__lte=now - timedelta(seconds=TASK_TIMEOUT + 60)
    )
    for export_id, state, name in P.objects.filter(lost).values_list("pk", "state", "file_name"):
        won = P.objects.filter(pk=export_id, state=state, file_name=name).update(
            state=S.FAILED,
            failure_reason=gettext_noop("La preparazione si è interrotta. Riprova."),
            finished_at=now,
            parameters={},
            file_name="",
        )
        if won and name:
            default_storage.delete(name)
    P.objects.filter(state__in=(S.FAILED, S.EXPIRED), created_at__lte=now - KEEP_ROWS).delete()
    for name in _orphan_files(now):
        default_storage.delete(name)
        deleted += 1
    return deleted


def _orphan_files(now: datetime) -> list[str]:
    """The files of STORAGE_DIR that no queued, running or ready export names: their export
    was deleted (with its user, organization or dispatch: a database cascade), or a worker
    stopped between writing and recording. A file modified in the last TASK_TIMEOUT + 60 s is
    left to the next run, for a build that is still writing it."""
    try:
        _dirs, files = default_storage.listdir(STORAGE_DIR)
    except FileNotFoundError:
        return []
    named = set(
        P.objects.filter(state__in=(S.PENDING, S.RUNNING, S.READY))
        .exclude(file_name="")
        .values_list("file_name", flat=True)
    )
    recent = now - timedelta(seconds=TASK_TIMEOUT + 60)
    orphans = []
    for filename in files:
        name = f"{STORAGE_DIR}/{filename}"
        if name not in named and default_storage.get_modified_time(name) <= recent:
            orphans.append(name)
    return orphans
