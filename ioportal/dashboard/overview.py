"""What the dashboard shows each role, in a bounded number of queries.

Operators: their own latest dispatches and what waits for them. Supervisors and admins:
volumes and rates from `ioportal.dashboard.stats` (never a scan of all deliveries) and the
health of sending. Every query is limited to the member's organization.
"""

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from ioportal.accounts.models import Membership
from ioportal.core.models import WorkerHeartbeat
from ioportal.dashboard import stats
from ioportal.ioservices.selectors import ioservices_with_key_problem
from ioportal.messaging.dispatch_access import dispatches_visible_to
from ioportal.messaging.models import Dispatch
from ioportal.sending import limiter, selectors
from ioportal.sending.models import ApiCall

# Dispatches of the operator looked at for failed deliveries and listed as recent.
OPERATOR_RECENT = 5
OPERATOR_SCANNED = 20
# Buckets shown per period: (period key, number of buckets).
PERIODS = {"giorno": 30, "settimana": 12, "mese": 12}
# The outcome groups drawn on the volume chart, in order.
# A person's "marked as sent" next to the uncertain outcomes it comes from, never among the
# delivered (IO did not confirm it).
CHART_GROUPS = (
    "delivered",
    "accepted",
    "unreachable",
    "failed",
    "uncertain",
    "marked_sent",
    "waiting",
)


def group_labels() -> dict[str, str]:
    return {
        "delivered": _("Consegnati"),
        "marked_sent": _("Segnati come inviati da una persona"),
        "accepted": _("Accettati da IO"),
        "unreachable": _("Non raggiungibili"),
        "failed": _("Non riusciti"),
        "uncertain": _("Esito incerto"),
        "waiting": _("In attesa"),
        "cancelled": _("Annullati"),
    }


def operator_overview(membership: Membership) -> dict[str, Any]:
    """{"recent": [(dispatch, outcomes)], "drafts", "awaiting", "paused": [dispatch],
    "to_retry": [(dispatch, failed count)]}: the operator's own dispatches (created_by), in
    three queries."""
    own = (
        dispatches_visible_to(membership)
        .filter(created_by=membership.user)
        .exclude(kind=Dispatch.Kind.TEST)
        .select_related("service")
        .order_by("-created_at")
    )
    waiting_states = (Dispatch.State.DRAFT, Dispatch.State.AWAITING_APPROVAL, Dispatch.State.PAUSED)
    waiting = list(own.filter(state__in=waiting_states)[:30])
    latest = list(own.exclude(state=Dispatch.State.DRAFT)[:OPERATOR_SCANNED])
    outcomes = selectors.outcomes_of(latest)
    return {
        "recent": [(d, outcomes[d.pk]) for d in latest[:OPERATOR_RECENT]],
        "drafts": [d for d in waiting if d.state == Dispatch.State.DRAFT],
        "awaiting": [d for d in waiting if d.state == Dispatch.State.AWAITING_APPROVAL],
        "paused": [d for d in waiting if d.state == Dispatch.State.PAUSED],
        "to_retry": [
            (d, outcomes[d.pk]["groups"]["failed"])
            for d in latest
            if outcomes[d.pk]["groups"]["failed"]
        ],
    }


def _bucket(day: date, period: str) -> date:
    if period == "settimana":
        return day - timedelta(days=day.weekday())
    if period == "mese":
        return day.replace(day=1)
    return day


def _bucket_starts(today: date, period: str) -> list[date]:
    count = PERIODS[period]
    if period == "giorno":
        return [today - timedelta(days=n) for n in reversed(range(count))]
    if period == "settimana":
        monday = _bucket(today, period)
        return [monday - timedelta(weeks=n) for n in reversed(range(count))]
    starts = []
    month = today.replace(day=1)
    for _n in range(count):
        starts.append(month)
        month = (month - timedelta(days=1)).replace(day=1)
    return list(reversed(starts))


def _bucket_label(start: date, period: str) -> str:
    if period == "mese":
        return date_format(start, "F Y")
    # Django's "M" capitalises the short month ("Dic") whatever the language; Italian
    # writes it in lower case ("3 dic", the "b" format), English capitalised ("3 Dec").
    day_month = date_format(start, pgettext("date format: day and short month", "j b"))
    if period == "settimana":
        return _("settimana dal %(day)s") % {"day": day_month}
    return day_month


def supervisor_overview(membership: Membership, period: str) -> dict[str, Any]:
    """Volumes of `period` ("giorno" 30 days, "settimana" 12 weeks, "mese" 12 months),
    rates of the last 30 days and the health of sending. `period` must be a PERIODS key."""
    organization = membership.organization
    today = timezone.localdate()
    starts = _bucket_starts(today, period)
    rate_since = today - timedelta(days=29)
    rows = stats.rows_since(organization=organization, since=min(starts[0], rate_since))
    volume: dict[date, dict[str, int]] = {start: dict.fromkeys(CHART_GROUPS, 0) for start in starts}
    for row in rows:
        bucket = volume.get(_bucket(row["day"], period))
        if bucket is not None and row["outcome"] in bucket:
            bucket[row["outcome"]] += row["deliveries"]
    labels = group_labels()
    volume_rows = [
        {"label": _bucket_label(start, period), "counts": [volume[start][g] for g in CHART_GROUPS]}
        for start in starts
    ]
    rates = stats.rates(row for row in rows if row["day"] >= rate_since)
    rate_items = [
        (key, label, rates[key])
        for key, label in (
            ("delivered", _("Consegnati")),
            ("unreachable", _("Non raggiungibili")),
            ("failed", _("Non riusciti")),
            ("reachability", _("Raggiungibilità")),
            ("read", _("Letti (Premium)")),
            ("paid", _("Pagati (Premium)")),
        )
    ]
    charts = {
        "volume": {
            "labels": [row["label"] for row in volume_rows],
            "datasets": [
                {"key": g, "label": labels[g], "data": [row["counts"][i] for row in volume_rows]}
                for i, g in enumerate(CHART_GROUPS)
            ],
        },
        "rates": {
            "labels": [label for _key, label, _value in rate_items],
            "data": [value for _key, _label, value in rate_items],
            "label": _("Percentuale"),
            # The bars are percentages, not counts: the axis says so.
            "axis": _("Percentuale delle consegne (%)"),
        },
    }
    return {
        "period": period,
        "periods": [
            ("giorno", _("Per giorno")),
            ("settimana", _("Per settimana")),
            ("mese", _("Per mese")),
        ],
        "volume_groups": [labels[g] for g in CHART_GROUPS],
        "volume_rows": volume_rows,
        "rates": rates,
        "rate_items": rate_items,
        "charts": charts,
        "health": sending_health(membership),
    }


def sending_health(membership: Membership) -> dict[str, Any]:
    """Calls to IO in the last minute (ApiCall rows) against the account's limit per
    minute, the limiter's state (calls in the current 5-second window against its budget),
    429 answers in the last hour, services paused by a key problem, paused dispatches and
    worker clusters alive (WORKER_HEARTBEAT_STALE_SECONDS)."""
    organization = membership.organization
    now = timezone.now()
    calls = ApiCall.objects.filter(
        organization=organization, created_at__gte=now - timedelta(hours=1)
    ).aggregate(
        last_minute=Count("pk", filter=Q(created_at__gte=now - timedelta(minutes=1))),
        rate_limited=Count("pk", filter=Q(status_code=429)),
    )
    try:
        limiter_state: dict[str, float] | None = limiter.state(
            organization_id=organization.pk, limit=organization.rate_limit
        )
    except Exception:  # noqa: BLE001  (Redis down: the page still shows the rest)
        limiter_state = None
    stale = now - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    return {
        "calls_last_minute": calls["last_minute"],
        "rate_limited_last_hour": calls["rate_limited"],
        # The account's limit is per IO window (limiter.WINDOW, 5 s): per minute here.
        "rate_limit_per_minute": round(organization.rate_limit * 60 / limiter.WINDOW),
        "limiter": limiter_state,
        "key_problem_services": list(ioservices_with_key_problem(organization=organization)),
        "paused_dispatches": list(selectors.paused_dispatches(organization=organization)[:10]),
        "workers_alive": WorkerHeartbeat.objects.filter(seen_at__gte=stale).count(),
    }
