"""Delivery figures for the supervisors' dashboard at a bounded cost.

The dashboard never counts all deliveries. Counts are kept per organization, service, day
and outcome group in `DailyDeliveryStats`:

* A delivery belongs to the local day (TIME_ZONE) on which its dispatch was created; test
  sends are left out.
* `refresh_daily_stats` (django-q2 schedule of this app, hourly) recomputes the days from
  `RECOMPUTE_DAYS` before the last stored day up to yesterday: outcomes and Premium
  read/payment statuses still change for some days after a send, older days are final.
  Each run deletes and rewrites those days in one transaction, so it is idempotent and its
  cost grows with the deliveries of those days only, not with the whole history.
* Today's numbers are counted live (`today_rows`) from the dispatches created today
  (index `dispatch_org_created_idx`) and their deliveries (index
  `delivery_dispatch_outcome_idx`, index-only scan on PostgreSQL).
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Min, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from ioportal.accounts.models import Organization
from ioportal.dashboard.models import DailyDeliveryStats
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.sending.selectors import GROUP_OF_STATE, read_rate

# Days before the last stored day that every run computes again (late outcomes, reads).
RECOMPUTE_DAYS = 7

COUNTERS = ("deliveries", "read", "unread", "paid", "with_payment_status")
Key = tuple[int, int, date, str]  # organization id, service id, day, outcome group


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _grouped(deliveries: Any) -> dict[Key, dict[str, int]]:
    """{(organization id, service id, day, outcome): counters} from a Delivery queryset."""
    rows = (
        deliveries.annotate(
            day=TruncDate("dispatch__created_at", tzinfo=timezone.get_current_timezone())
        )
        .values_list(
            "dispatch__organization_id",
            "dispatch__service_id",
            "day",
            "state",
            "read_status",
            "payment_status",
        )
        .annotate(n=Count("*"))
        .order_by()
    )
    result: dict[Key, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    for org_id, service_id, day, state, read_status, payment_status, n in rows:
        counters = result[(org_id, service_id, day, GROUP_OF_STATE.get(state, "waiting"))]
        counters["deliveries"] += n
        if read_status == "READ":
            counters["read"] += n
        elif read_status == "UNREAD":
            counters["unread"] += n
        if payment_status:
            counters["with_payment_status"] += n
            if payment_status == "PAID":
                counters["paid"] += n
    return result


def _deliveries_of(dispatches: Any) -> Any:
    return Delivery.objects.filter(
        dispatch__in=dispatches.exclude(kind=Dispatch.Kind.TEST).values("pk")
    )


def refresh_daily_stats(*, today: date | None = None) -> tuple[date, date] | None:
    """Recompute DailyDeliveryStats from RECOMPUTE_DAYS before the last stored day (or from
    the first dispatch) up to yesterday. Returns the (first, last) day written, or None when
    there was nothing to do. Idempotent: running it twice leaves the same rows."""
    today = today or timezone.localdate()
    last = DailyDeliveryStats.objects.aggregate(last=Max("day"))["last"]
    if last is not None:
        first = min(last, today - timedelta(days=1)) - timedelta(days=RECOMPUTE_DAYS)
    else:
        oldest = Dispatch.objects.aggregate(oldest=Min("created_at"))["oldest"]
        if oldest is None:
            return None
        first = timezone.localdate(oldest)
    end = today - timedelta(days=1)
    if first > end:
        return None
    dispatches = Dispatch.objects.filter(
        created_at__gte=_midnight(first), created_at__lt=_midnight(today)
    )
    grouped = _grouped(_deliveries_of(dispatches))
    with transaction.atomic():
        DailyDeliveryStats.objects.filter(day__gte=first, day__lte=end).delete()
        DailyDeliveryStats.objects.bulk_create(
            DailyDeliveryStats(
                organization_id=org_id, service_id=service_id, day=day, outcome=outcome, **counters
            )
            for (org_id, service_id, day, outcome), counters in grouped.items()
        )
    return first, end


def today_rows(*, organization: Organization) -> list[dict[str, Any]]:
    """Today's counters of the organization, counted live: [{"day", "outcome", counters…}]."""
    today = timezone.localdate()
    dispatches = Dispatch.objects.filter(
        organization=organization, created_at__gte=_midnight(today)
    )
    grouped = _grouped(_deliveries_of(dispatches))
    return [
        {"day": day, "outcome": outcome, **counters}
        for (_org, _service, day, outcome), counters in grouped.items()
    ]


def rows_since(*, organization: Organization, since: date) -> list[dict[str, Any]]:
    """Stored counters of the organization from `since` to yesterday, summed over services,
    plus today's live ones: [{"day": date, "outcome": group key, counters…}]. Two queries."""
    stored = (
        DailyDeliveryStats.objects.filter(organization=organization, day__gte=since)
        .exclude(day__gte=timezone.localdate())
        .values("day", "outcome")
        .annotate(**{name: Sum(name) for name in COUNTERS})
        .order_by()
    )
    rows: list[dict[str, Any]] = [dict(row) for row in stored]
    return [*rows, *today_rows(organization=organization)]


def rates(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Totals and rates (0–100, None without a base) over some rows of rows_since.

    Final deliveries are those not waiting or cancelled; delivered, unreachable and failed
    rates are over them; reachability is the share of final deliveries not unreachable;
    read is sending.selectors.read_rate ("read_rate": its counts), paid is PAID over those
    with a payment status (Premium).
    """
    groups: dict[str, int] = defaultdict(int)
    totals: dict[str, int] = dict.fromkeys(COUNTERS, 0)
    for row in rows:
        groups[row["outcome"]] += row["deliveries"]
        for name in COUNTERS:
            totals[name] += row[name]
    final = totals["deliveries"] - groups["waiting"] - groups["cancelled"]
    read = read_rate(read=totals["read"], unread=totals["unread"])

    def pct(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    return {
        "total": totals["deliveries"],
        "final": final,
        "groups": dict(groups),
        "delivered": pct(groups["delivered"], final),
        "unreachable": pct(groups["unreachable"], final),
        "failed": pct(groups["failed"], final),
        "reachability": pct(final - groups["unreachable"], final),
        "read": read["percent"],
        "read_rate": read,
        "paid": pct(totals["paid"], totals["with_payment_status"]),
    }
