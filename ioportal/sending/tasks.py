"""django-q2 tasks of the pipeline: thin wrappers that take ids (never personal data)."""

from django.db import close_old_connections
from django_q.tasks import async_task

from ioportal.ioservices.models import IOService
from ioportal.sending.feed import sync_service_feed
from ioportal.sending.runner import run_account_worker
from ioportal.sending.sweeper import sweep
from ioportal.sending.triggers import run_started, wake_up
from ioportal.sending.worker import has_due_work


def run_account(organization_id: int) -> dict[str, int]:
    """Work for one IO account for up to SENDING_TASK_BUDGET seconds, then, when work is left,
    enqueue the next run. Idempotent: see `run_account_worker`."""
    run_started(organization_id=organization_id)
    stats = run_account_worker(organization_id=organization_id)
    close_old_connections()
    if not ({"no_slot", "breaker_open"} & stats.keys()) and has_due_work(
        organization_id=organization_id
    ):
        wake_up(organization_id=organization_id)
    return stats


def sending_sweep() -> dict[str, int]:
    """The sweeper schedule (every minute)."""
    return sweep()


def sync_feed(service_id: int) -> dict[str, int]:
    """Fetch the missing past days of one service's subscriptions feed. Idempotent."""
    return sync_service_feed(service_id=service_id)


def sync_feeds() -> int:
    """The daily schedule: enqueue `sync_feed` for every active service with feed access."""
    ids = list(
        IOService.objects.filter(feed_access=True, is_active=True).values_list("pk", flat=True)
    )
    for service_id in ids:
        async_task(
            "ioportal.sending.tasks.sync_feed", service_id, task_name=f"sending-feed-{service_id}"
        )
    return len(ids)
