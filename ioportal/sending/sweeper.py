"""The periodic safety net: frees the slots and claims of dead workers (heartbeat lapsed,
slots.py), reaps expired claims, starts and completes dispatches, resumes
stalled preparations, and wakes the workers of every account with due work (so a lost task
delays work, never loses it)."""

import logging

from django.db import connection, transaction
from django.db.models import F, QuerySet

from ioportal.messaging.models import Delivery, Dispatch
from ioportal.messaging.services import dispatches_resume_preparation
from ioportal.sending import clock, outcomes, slots
from ioportal.sending.services import OPEN, end_of_sending
from ioportal.sending.triggers import wake_up
from ioportal.sending.worker import has_due_work

logger = logging.getLogger(__name__)
S = Delivery.State
D = Dispatch.State


def _reap(candidates: QuerySet[Delivery], **fields: object) -> int:
    """`candidates.update(**fields)` without waiting for a row another transaction holds.

    On PostgreSQL the rows are locked first in id order, skipping the locked ones
    (`FOR UPDATE SKIP LOCKED`): a plain multi-row UPDATE locks rows in scan order and waited
    for a run's transaction that held one row and waited for another this UPDATE held (a
    deadlock, seen between the CHECKING reap and a run's submission claims). A row a live
    transaction holds is being changed by it; a later sweep reaps it if it is still expired.
    Call inside a transaction."""
    if not connection.features.has_select_for_update_skip_locked:
        return candidates.update(**fields)
    ids = list(
        candidates.select_for_update(skip_locked=True, of=("self",))
        .order_by("id")
        .values_list("id", flat=True)
    )
    return candidates.filter(pk__in=ids).update(**fields) if ids else 0


def reap_expired_claims() -> dict[str, int]:
    """SUBMITTING past its lease → UNCERTAIN (the worker died during or right after the call:
    IO may have the message, never re-sent automatically). CHECKING past its lease →
    RETRY_WAIT (nothing was sent). Idempotent; rows another transaction holds are left to the
    next sweep (`_reap`). Call inside a transaction."""
    now = clock.now()
    uncertain = _reap(
        Delivery.objects.filter(state=S.SUBMITTING, lease_until__lt=now),
        state=S.UNCERTAIN,
        uncertain_since=now,
        last_error_code=outcomes.LEASE_EXPIRED,
        claim_token=None,
        lease_until=None,
    )
    if uncertain:
        logger.warning("%d deliveries became uncertain (expired submission lease)", uncertain)
    retried = _reap(
        Delivery.objects.filter(state=S.CHECKING, lease_until__lt=now),
        state=S.RETRY_WAIT,
        attempts=F("attempts") + 1,
        next_attempt_at=now,
        claim_token=None,
        lease_until=None,
    )
    return {"uncertain": uncertain, "rechecked": retried}


def start_scheduled() -> list[int]:
    """SCHEDULED dispatches whose time has come → RUNNING. Returns their organizations."""
    now = clock.now()
    organizations: list[int] = []
    for dispatch in Dispatch.objects.filter(state=D.SCHEDULED, scheduled_at__lte=now):
        if Dispatch.objects.filter(pk=dispatch.pk, state=D.SCHEDULED).update(
            state=D.RUNNING, started_at=now
        ):
            organizations.append(dispatch.organization_id)
    return organizations


def complete_finished() -> int:
    """RUNNING dispatches with nothing left to send → COMPLETED (status polls go on;
    uncertain deliveries wait for a person and do not keep the dispatch open)."""
    now = clock.now()
    open_dispatches = Delivery.objects.filter(state__in=OPEN).values("dispatch_id")
    return (
        Dispatch.objects.filter(state=D.RUNNING)
        .exclude(pk__in=open_dispatches)
        .update(state=D.COMPLETED, **end_of_sending(now))
    )


def sweep() -> dict[str, int]:
    """One sweeper tick. Safe to run concurrently and repeatedly (compare-and-set updates)."""
    dead = slots.reap_dead()
    with transaction.atomic():
        reaped = reap_expired_claims()
    reaped["uncertain"] += dead["uncertain"]
    reaped["rechecked"] += dead["rechecked"]
    reaped["dead_slots"] = dead["slots"]
    started = start_scheduled()
    completed = complete_finished()
    preparations = dispatches_resume_preparation()
    now = clock.now()
    candidates = (
        set(started)
        | set(Dispatch.objects.filter(state=D.RUNNING).values_list("organization_id", flat=True))
        | set(
            Delivery.objects.filter(state__in=(S.SUBMITTED, S.PROCESSED), next_poll_at__lte=now)
            .values_list("dispatch__organization_id", flat=True)
            .distinct()
        )
    )
    woken = 0
    for organization_id in candidates:
        if has_due_work(organization_id=organization_id):
            wake_up(organization_id=organization_id)
            woken += 1
    return {
        **reaped,
        "started": len(started),
        "completed": completed,
        "preparations": preparations,
        "woken": woken,
    }
