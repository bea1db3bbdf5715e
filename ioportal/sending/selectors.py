"""Reads for the sending pages and the dashboard."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from ioportal.accounts.models import Organization
from ioportal.core.models import WorkerHeartbeat
from ioportal.messaging.models import Delivery, Dispatch


def delivery_counts(*, dispatch: Dispatch) -> dict[str, int]:
    """Deliveries of the dispatch by state, in one aggregate query."""
    return Delivery.objects.filter(dispatch=dispatch).aggregate(
        total=Count("id"),
        **{state: Count("id", filter=Q(state=state)) for state in Delivery.State.values},
    )


def counts_by_dispatch(*, dispatch_ids: list[int]) -> dict[int, dict[str, int]]:
    """{dispatch id: {state: n}} for a page of dispatches, in one query."""
    result: dict[int, dict[str, int]] = {pk: {} for pk in dispatch_ids}
    rows = (
        Delivery.objects.filter(dispatch_id__in=dispatch_ids)
        .values_list("dispatch_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for dispatch_id, state, n in rows:
        result[dispatch_id][state] = n
    return result


def paused_dispatches(*, organization: Organization) -> QuerySet[Dispatch]:
    return Dispatch.objects.filter(organization=organization, state=Dispatch.State.PAUSED).order_by(
        "-created_at"
    )


def workers_alive() -> bool:
    """True when some worker cluster ran its heartbeat recently."""
    since = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    return WorkerHeartbeat.objects.filter(seen_at__gte=since).exists()
