"""The retention purge: once a dispatch finished more than its organization's
`retention_days` ago, the personal data of its deliveries are removed, while counts, states,
outcomes, times, statistics (dashboard.DailyDeliveryStats) and the audit log stay.

What a purge changes, per dispatch (docs/reports.md, "Conservazione dei dati"):

- each Delivery: the encrypted fiscal code becomes "", its keyed hash `purged:<id>` (unique
  per delivery, so the (dispatch, fiscal_code_hmac) constraint holds and no search by
  citizen finds it), the masked code the fixed `PURGED_MASK` (the masked form keeps parts of
  the surname, name and birth date: with the dispatch it can still point to one person), the
  placeholder values {} , the payment notice number "" (it identifies one person's debt) and
  IO's error text "" (it may quote the request); the amount, due date, state, error code,
  IO id and times stay;
- a dispatch of one citizen (kind "single", "test" or "api"): its subject and text, written
  for that person, are replaced by `PURGED_CONTENT`;
- remote-content attachments of the dispatch and of its deliveries: files and rows; IO's
  access log keeps its rows without their Lollipop headers (hashes and the citizen's
  signing key reference: pseudonymous data of the citizen);
- the recipient list of the dispatch: its sealed rows (RecipientChunk) and its uploaded
  PDFs (recipients.ListAttachment, files and rows).

Then `Dispatch.personal_data_purged_at` is set and one audit event ("retention.purged")
records the number of deliveries. Idempotent (purged deliveries are recognised by their
hash), chunked (`CHUNK` deliveries per short transaction, ids only in memory), and safe to run
twice at once: the updates write the same values, and the conditional UPDATE of
`personal_data_purged_at` lets exactly one run write the audit event.
"""

import datetime
import logging
from dataclasses import dataclass
from typing import cast

from django.db import transaction
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from ioportal.accounts.models import Organization
from ioportal.accounts.retention import retention_due_requested
from ioportal.core.services import audit_log
from ioportal.ioservices.services import SYSTEM_ACTOR
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.messaging.retention import PURGED_HMAC_PREFIX
from ioportal.recipients.models import ListAttachment, RecipientChunk, RecipientList
from ioportal.remotecontent.models import Attachment, RemoteContentAccess
from ioportal.remotecontent.services import attachments_delete
from ioportal.retention.audit import Action

logger = logging.getLogger(__name__)

CHUNK = 1000  # deliveries per transaction
FILE_CHUNK = 200  # attachments per transaction
PURGED_MASK = "*" * 16
PURGED_CONTENT = "—"
# States in which a dispatch sends nothing more; `finished_at` is set on entering them.
FINISHED = (Dispatch.State.COMPLETED, Dispatch.State.CANCELLED, Dispatch.State.REJECTED)
ONE_CITIZEN_KINDS = (Dispatch.Kind.SINGLE, Dispatch.Kind.TEST, Dispatch.Kind.API)


@dataclass(frozen=True)
class PurgeResult:
    dispatches: int  # dispatches whose purge this run completed (and audited)
    deliveries: int  # deliveries of those dispatches


def dispatches_due(*, organization: Organization, now: datetime.datetime) -> QuerySet[Dispatch]:
    """The organization's finished dispatches not purged yet whose `finished_at` is more than
    `retention_days` before `now`, oldest first."""
    cutoff = now - datetime.timedelta(days=organization.retention_days)
    # Counted from the last end of sending: a resend's round, if one reopened the dispatch.
    return (
        Dispatch.objects.filter(
            organization=organization,
            state__in=FINISHED,
            finished_at__isnull=False,
            personal_data_purged_at__isnull=True,
        )
        .annotate(last_end=Coalesce("resend_finished_at", "finished_at"))
        .filter(last_end__lt=cutoff)
        .order_by("last_end", "pk")
    )


@dataclass(frozen=True)
class PurgePreview:
    """What the next purge would remove if the organization kept personal data `days` days."""

    days: int
    cutoff: datetime.datetime  # dispatches finished before this instant are due
    dispatches: int
    deliveries: int
    oldest: datetime.datetime | None  # when the oldest due dispatch finished
    # What else the purge would remove, one Italian sentence per kind of data (reachability
    # checks: `accounts.retention.retention_due_requested`).
    others: tuple[str, ...] = ()

    @property
    def anything(self) -> bool:
        return bool(self.dispatches or self.others)


def purge_preview(
    *, organization: Organization, days: int, now: datetime.datetime | None = None
) -> PurgePreview:
    """The dispatches (and their deliveries) whose personal data the next purge would remove
    with a retention of `days` days (two queries), and what else it would remove (the
    receivers of `retention_due_requested`: reachability checks), for the confirmation shown
    before a shorter retention is saved. The organization row is not changed."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=days)
    due = dispatches_due(
        organization=Organization(pk=organization.pk, retention_days=days), now=now
    )
    first = due.first()
    oldest = first.last_finished_at if first else None
    answers = retention_due_requested.send(
        sender=PurgePreview, organization=organization, days=days, cutoff=cutoff
    )
    return PurgePreview(
        days=days,
        cutoff=cutoff,
        dispatches=due.count(),
        deliveries=Delivery.objects.filter(dispatch__in=due.values("pk")).count(),
        oldest=oldest,
        others=tuple(
            sentence for _receiver, sentences in answers for sentence in cast(list[str], sentences)
        ),
    )


def _still_finished(dispatch_id: int) -> bool:
    """Lock the dispatch row for the current transaction; True while it is still finished
    (a dispatch reopened meanwhile is left alone)."""
    return (
        Dispatch.objects.select_for_update()
        .filter(pk=dispatch_id, state__in=FINISHED, finished_at__isnull=False)
        .exists()
    )


def _purge_deliveries(dispatch: Dispatch) -> bool:
    """Blank the personal fields of the dispatch's deliveries, CHUNK at a time. False if the
    dispatch stopped being finished."""
    pending = Delivery.objects.filter(dispatch_id=dispatch.pk).exclude(
        fiscal_code_hmac__startswith=PURGED_HMAC_PREFIX
    )
    while True:
        with transaction.atomic():
            if not _still_finished(dispatch.pk):
                return False
            ids = list(pending.order_by("pk").values_list("pk", flat=True)[:CHUNK])
            if not ids:
                return True
            Delivery.objects.filter(pk__in=ids).update(
                fiscal_code_encrypted="",
                fiscal_code_hmac=Concat(
                    Value(PURGED_HMAC_PREFIX), Cast("pk", output_field=CharField())
                ),
                fiscal_code_masked=PURGED_MASK,
                variables={},
                notice_number="",
                last_error_parts=[],
            )
            RemoteContentAccess.objects.filter(delivery_id__in=ids).update(lollipop={})


def _delete_attachments(dispatch: Dispatch) -> None:
    """The dispatch's attachments (shared and per delivery), FILE_CHUNK rows per transaction;
    `attachments_delete` removes each file once its transaction commits."""
    queryset = Attachment.objects.filter(Q(dispatch=dispatch) | Q(delivery__dispatch=dispatch))
    while True:
        with transaction.atomic():
            if not attachments_delete(attachments=queryset.order_by("pk")[:FILE_CHUNK]):
                return


def _delete_list_files(recipient_list: RecipientList) -> None:
    """Files still staged with the dispatch's list, and their rows (a missing file is fine:
    a previous run may have removed it)."""
    for staged in ListAttachment.objects.filter(recipient_list=recipient_list).iterator():
        if staged.file.name:
            staged.file.storage.delete(staged.file.name)
        staged.delete()


def _purge_dispatch_data(dispatch: Dispatch) -> None:
    _delete_attachments(dispatch)
    recipient_list = RecipientList.objects.filter(dispatch=dispatch).first()
    if recipient_list is not None:
        _delete_list_files(recipient_list)
        RecipientChunk.objects.filter(recipient_list=recipient_list).delete()
    if dispatch.kind in ONE_CITIZEN_KINDS:
        Dispatch.objects.filter(pk=dispatch.pk).update(
            subject=PURGED_CONTENT, markdown=PURGED_CONTENT, title=_("Messaggio a un cittadino")
        )


def dispatch_purge_personal_data(
    *, dispatch: Dispatch, now: datetime.datetime | None = None
) -> int | None:
    """Purge one finished dispatch (module docstring). Returns its number of deliveries when
    this call completed the purge and wrote the audit event, None when another run did it
    first or the dispatch was reopened meanwhile. Idempotent."""
    now = now or timezone.now()
    if not _purge_deliveries(dispatch):
        return None
    _purge_dispatch_data(dispatch)
    with transaction.atomic():
        if not _still_finished(dispatch.pk):
            return None
        won = Dispatch.objects.filter(pk=dispatch.pk, personal_data_purged_at__isnull=True).update(
            personal_data_purged_at=now
        )
        if not won:
            return None
        count = Delivery.objects.filter(dispatch_id=dispatch.pk).count()
        audit_log(
            action=Action.PERSONAL_DATA_PURGED,
            actor=SYSTEM_ACTOR,
            organization=dispatch.organization,
            target=dispatch,
            target_label=dispatch.title,
            changes={
                "deliveries": count,
                "finished_at": (
                    dispatch.last_finished_at.isoformat() if dispatch.last_finished_at else ""
                ),
                "retention_days": dispatch.organization.retention_days,
            },
        )
    return count


def retention_purge(*, now: datetime.datetime | None = None) -> PurgeResult:
    """Purge every dispatch past its organization's retention (`dispatches_due`), one
    organization and one dispatch at a time. Returns what this run completed."""
    now = now or timezone.now()
    dispatches = deliveries = 0
    for organization in Organization.objects.order_by("pk").iterator():
        for dispatch_id in list(
            dispatches_due(organization=organization, now=now).values_list("pk", flat=True)
        ):
            dispatch = Dispatch.objects.select_related("organization").get(pk=dispatch_id)
            count = dispatch_purge_personal_data(dispatch=dispatch, now=now)
            if count is not None:
                dispatches += 1
                deliveries += count
    if dispatches:
        logger.info("retention purge: %s dispatches, %s deliveries", dispatches, deliveries)
    return PurgeResult(dispatches=dispatches, deliveries=deliveries)
