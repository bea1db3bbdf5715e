"""Worker slots and heartbeats: at most SENDING_WORKERS_PER_ACCOUNT runs per IO account, and
a killed worker's slot and claims released within ~HEARTBEAT_LEASE seconds.

A run holds a `WorkerSlot` whose lease it renews every HEARTBEAT seconds. Its claims carry
`claimed_by` = "<host>:<holder hex>". A slot whose lease has lapsed while it still names a
holder belongs to a dead (or hopelessly stuck) worker: whoever notices it first (a live run
of the account at its heartbeat, a run taking a slot, the sweeper) reaps it, in one
transaction, with the same rules as an expired claim lease:

- SUBMITTING → UNCERTAIN (`lease_expired`: IO may have the message; never re-sent);
- CHECKING → RETRY_WAIT, due now (a profile read is safe to repeat);
- READY, SUBMITTED, PROCESSED: claim released, state kept;

then frees the slot. Every write is fenced on the dead holder's claims, so a stuck worker
that wakes up finds its claims gone and writes nothing (transitions.py).
"""

import socket
import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q

from ioportal.messaging.models import Delivery
from ioportal.sending import clock, outcomes
from ioportal.sending.conf import sending_settings
from ioportal.sending.models import WorkerSlot

S = Delivery.State
HEARTBEAT = 5.0  # seconds between two renewals of a slot
HEARTBEAT_LEASE = 20.0  # a slot not renewed for this long is dead


def worker_name(holder: uuid.UUID) -> str:
    """The `claimed_by` of a holder's claims."""
    return f"{socket.gethostname()[:60]}:{holder.hex}"


def _lease() -> timedelta:
    return timedelta(seconds=HEARTBEAT_LEASE)


def free_slots(*, organization_id: int) -> int:
    """How many more account workers may start now."""
    k = sending_settings().workers_per_account
    busy = WorkerSlot.objects.filter(
        organization_id=organization_id, lease_until__gte=clock.now(), number__lt=k
    ).count()
    return max(0, k - busy)


def unserved(*, organization_id: int) -> bool:
    """No live run holds a slot of the account (a dead one's lapsed lease does not count)."""
    return not WorkerSlot.objects.filter(
        organization_id=organization_id, holder__isnull=False, lease_until__gte=clock.now()
    ).exists()


def take_slot(*, organization_id: int, holder: uuid.UUID, first_only: bool = False) -> int | None:
    """Take a free slot of the account (reaping a dead holder's first). Returns its number,
    or None when every slot is held by a live worker. `first_only`: slot 0 or none (an
    adopting process: of several taking the same account at once, one wins)."""
    conf = sending_settings()
    now = clock.now()
    reap_dead(organization_id=organization_id)
    existing = set(
        WorkerSlot.objects.filter(organization_id=organization_id).values_list("number", flat=True)
    )
    for number in range(1 if first_only else conf.workers_per_account):
        if number not in existing:
            WorkerSlot.objects.get_or_create(organization_id=organization_id, number=number)
        if (
            WorkerSlot.objects.filter(organization_id=organization_id, number=number)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now), holder__isnull=True)
            .update(holder=holder, lease_until=now + _lease())
        ):
            return number
    return None


def heartbeat(*, organization_id: int, holder: uuid.UUID) -> bool:
    """Renew the holder's slot and reap dead workers of the account. False when the slot
    was lost (reaped as dead): the run must stop claiming."""
    renewed = WorkerSlot.objects.filter(holder=holder).update(lease_until=clock.now() + _lease())
    reap_dead(organization_id=organization_id)
    return bool(renewed)


def release_slot(*, holder: uuid.UUID) -> None:
    WorkerSlot.objects.filter(holder=holder).update(holder=None, lease_until=None)


def release_claims(*, holder: uuid.UUID, organization_id: int | None = None) -> dict[str, int]:
    """Release every claim of `holder`'s run, on any host (see the module docstring).
    Idempotent."""
    now = clock.now()
    mine = Delivery.objects.filter(claimed_by__endswith=f":{holder.hex}", claim_token__isnull=False)
    if organization_id is not None:
        mine = mine.filter(dispatch__organization_id=organization_id)
    with transaction.atomic():
        uncertain = mine.filter(state=S.SUBMITTING).update(
            state=S.UNCERTAIN,
            uncertain_since=now,
            last_error_code=outcomes.LEASE_EXPIRED,
            claim_token=None,
            lease_until=None,
        )
        rechecked = mine.filter(state=S.CHECKING).update(
            state=S.RETRY_WAIT,
            attempts=F("attempts") + 1,
            next_attempt_at=now,
            claim_token=None,
            lease_until=None,
        )
        released = mine.filter(state__in=(S.READY, S.SUBMITTED, S.PROCESSED)).update(
            claim_token=None, lease_until=None
        )
    return {"uncertain": uncertain, "rechecked": rechecked, "released": released}


def reap_dead(*, organization_id: int | None = None) -> dict[str, int]:
    """Free the slots of dead workers (lease lapsed, holder still named) and their claims."""
    totals = {"uncertain": 0, "rechecked": 0, "released": 0, "slots": 0}
    dead = WorkerSlot.objects.filter(holder__isnull=False, lease_until__lt=clock.now())
    if organization_id is not None:
        dead = dead.filter(organization_id=organization_id)
    for slot in dead:
        assert slot.holder is not None
        counts = release_claims(holder=slot.holder, organization_id=slot.organization_id)
        for key, value in counts.items():
            totals[key] += value
        totals["slots"] += WorkerSlot.objects.filter(
            pk=slot.pk, holder=slot.holder, lease_until=slot.lease_until
        ).update(holder=None, lease_until=None)
    return totals
