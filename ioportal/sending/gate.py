"""Which running dispatches of an IO account may give work now: send windows and pacing.

The database side of `messaging.windows`, hooked into `claims.work_queryset` and
`claims.claim_work`; status refresh (`claims.poll_queryset`) is never gated.

- Outside the organization's send window only test sends (to the service's own test
  recipients, `Dispatch.Kind.TEST`) are claimed; every other delivery stays queued as it is
  (PENDING, RETRY_WAIT, READY), nothing fails, and the sweeper wakes the account's workers
  when the window opens (it asks `has_due_work`, which goes through this gate).
- A paced dispatch (daily cap and/or deadline) is claimed only while it has quota left
  today (local day in Europe/Rome): "used" counts the deliveries submitted since local
  midnight plus those in flight (CHECKING, SUBMITTING, READY under a live lease), so one
  skipped at the check gives its place back. Claims of paced dispatches are serialised by
  a row lock on the dispatch (PostgreSQL; SQLite's claim transaction is IMMEDIATE), so the
  cap is exact whatever the number of workers.
- Without windows, a paced dispatch is claimed in daytime only (`windows.PACED_DAYTIME`,
  08:00–20:00 local): its quota is 0 outside those hours, so no share starts at midnight.
- A window is honoured at claim time: a batch claimed just before it closes is finished
  (at most SENDING_BATCH_SIZE deliveries per worker, seconds).
"""

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Q

from ioportal.messaging import windows
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.sending.conf import sending_settings
from ioportal.sending.models import SendWindowPolicy

S = Delivery.State
# Profile check + submission: the IO calls a delivery costs (feed-known consent saves one).
CALLS_PER_DELIVERY = 2
# Each process reads an organization's windows at most this often (seconds).
POLICY_CACHE_SECONDS = 10.0
NOT_SUBMITTED = (S.PENDING, S.RETRY_WAIT, S.READY, S.CHECKING, S.SUBMITTING)

_policies: dict[int, tuple[float, windows.Schedule | None]] = {}


def forget() -> None:
    """Read every organization's windows again at the next claim (tests, after a change)."""
    _policies.clear()


def schedule_for(*, organization_id: int, cached: bool = True) -> windows.Schedule | None:
    """The organization's send windows (None: always open)."""
    hit = _policies.get(organization_id)
    if cached and hit is not None and time.monotonic() - hit[0] < POLICY_CACHE_SECONDS:
        return hit[1]
    policy = SendWindowPolicy.objects.filter(organization_id=organization_id).first()
    try:
        schedule = policy.schedule() if policy is not None else None
    except ValueError:  # a stored form no form could produce: fail open, as before windows
        schedule = None
    _policies[organization_id] = (time.monotonic(), schedule)
    return schedule


def deliveries_per_second(organization) -> float:
    """Deliveries per second the account's budget allows: limit per 5 s × the pipeline's
    share of it, over CALLS_PER_DELIVERY."""
    conf = sending_settings()
    return organization.rate_limit / conf.rate_window * conf.rate_target / CALLS_PER_DELIVERY


def usage(*, dispatch_id: int, now: datetime) -> tuple[int, int]:
    """(used today, remaining) of one dispatch: see the module's docstring."""
    midnight = windows.day_start(windows.local_day(now))
    in_flight = Q(state__in=(S.CHECKING, S.SUBMITTING)) | Q(state=S.READY, lease_until__gte=now)
    counts = Delivery.objects.filter(dispatch_id=dispatch_id).aggregate(
        submitted=Count("pk", filter=Q(submitted_at__gte=midnight)),
        in_flight=Count("pk", filter=in_flight),
        not_submitted=Count("pk", filter=Q(state__in=NOT_SUBMITTED)),
    )
    used = counts["submitted"] + counts["in_flight"]
    return used, max(0, counts["not_submitted"] - counts["in_flight"])


def quota(dispatch: Dispatch, *, now: datetime, schedule: windows.Schedule | None) -> int | None:
    """How many more deliveries of `dispatch` may be claimed today (None: no limit)."""
    if not dispatch.pacing.is_paced:
        return None
    if not windows.is_open(windows.pacing_schedule(schedule, dispatch.pacing), now):
        return 0  # without windows, a paced dispatch sends in daytime only
    used, remaining = usage(dispatch_id=dispatch.pk, now=now)
    return windows.quota_today(schedule, dispatch.pacing, now, remaining=remaining, used_today=used)


@dataclass
class Gate:
    closed: bool = False
    # Paced running dispatches → deliveries they may still give today.
    quotas: dict[int, int] = field(default_factory=dict)

    def q(self) -> Q:
        """The condition on Delivery rows for the claim queries."""
        if self.closed:
            return Q(dispatch__kind=Dispatch.Kind.TEST)
        full = [pk for pk, left in self.quotas.items() if left <= 0]
        return ~Q(dispatch_id__in=full) if full else Q()

    def small(self, limit: int) -> dict[int, int]:
        """Paced dispatches with some quota left, but less than `limit`."""
        return {pk: left for pk, left in self.quotas.items() if 0 < left < limit}


def gate(*, organization_id: int, now: datetime, lock: bool = False) -> Gate:
    """The gate of one IO account at `now`. `lock`: inside the caller's transaction, lock the
    paced dispatches' rows first (PostgreSQL) so concurrent claims count each other."""
    schedule = schedule_for(organization_id=organization_id)
    if not windows.is_open(schedule, now):
        return Gate(closed=True)
    paced = Dispatch.objects.filter(
        Q(daily_cap__isnull=False) | Q(send_by__isnull=False),
        organization_id=organization_id,
        state=Dispatch.State.RUNNING,
    ).order_by("pk")
    if lock and connection.features.has_select_for_update:
        paced = paced.select_for_update()
    result = Gate()
    for dispatch in paced:
        left = quota(dispatch, now=now, schedule=schedule)
        if left is not None:
            result.quotas[dispatch.pk] = left
    return result


@dataclass(frozen=True)
class Waiting:
    """Why a running dispatch sends nothing now, and until when (UTC; None: unknown)."""

    # "window", "daily_quota", or "daytime" (paced, no windows: PACED_DAYTIME's night)
    reason: str
    until: datetime | None


def dispatch_waiting(dispatch: Dispatch, *, now: datetime) -> Waiting | None:
    """For the dispatch pages: None when the dispatch may send now (or is not running)."""
    if dispatch.state != Dispatch.State.RUNNING or dispatch.kind == Dispatch.Kind.TEST:
        return None
    own = schedule_for(organization_id=dispatch.organization_id, cached=False)
    schedule = windows.pacing_schedule(own, dispatch.pacing)
    if not windows.is_open(schedule, now):
        reason = "window" if own is not None else "daytime"
        return Waiting(reason, windows.next_opening(schedule, now))
    left = quota(dispatch, now=now, schedule=schedule)
    if left is not None and left <= 0:
        tomorrow = windows.day_start(windows.local_day(now) + timedelta(days=1))
        return Waiting("daily_quota", windows.next_opening(schedule, tomorrow))
    return None
