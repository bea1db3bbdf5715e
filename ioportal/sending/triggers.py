"""How the rest of the portal starts the workers. Only ids travel through the broker."""

from django.db import transaction
from django.db.models import F
from django_q.tasks import async_task

from ioportal.sending import clock
from ioportal.sending.models import AccountState
from ioportal.sending.slots import free_slots, unserved

# Queued runs older than this (seconds) no longer count: a broker lost them (Redis without
# persistence, a crash), so waking the account again must enqueue new ones.
STALE_QUEUED_RUNS = 300.0


def wanted_runs(*, free: int, served: bool) -> int:
    """How many runs of an account may wait in the queue: one per free worker slot (at
    least one) for an account no run serves, so several workers start on a new dispatch;
    one for an account a live run serves (it takes over when that run's time is up)."""
    return 1 if served else max(1, free)


def wake_up(*, organization_id: int) -> None:
    """Enqueue account runs for the organization, up to `wanted_runs` waiting in the queue.

    Call it inside `transaction.on_commit` after launching or resuming a dispatch. Safe to
    call any number of times: runs already waiting count (`AccountState.queued_runs`), so
    the sweeper's minute, every run's end and every launch do not pile up runs that make
    every other task (a list's preparation, the sweeper itself) wait. A lost wake-up only
    delays work: the sweeper wakes every account with due work each minute.
    """
    wanted = wanted_runs(
        free=free_slots(organization_id=organization_id),
        served=not unserved(organization_id=organization_id),
    )
    now = clock.time()
    AccountState.objects.get_or_create(organization_id=organization_id)
    with transaction.atomic():
        state = AccountState.objects.select_for_update().get(organization_id=organization_id)
        queued = state.queued_runs if state.queued_runs_at >= now - STALE_QUEUED_RUNS else 0
        more = wanted - queued
        if more <= 0:
            return
        AccountState.objects.filter(organization_id=organization_id).update(
            queued_runs=queued + more, queued_runs_at=now
        )
    for _ in range(more):
        async_task(
            "ioportal.sending.tasks.run_account",
            organization_id,
            task_name=f"sending-account-{organization_id}",
        )


def run_started(*, organization_id: int) -> None:
    """A queued run of the account has started: it no longer waits in the queue."""
    AccountState.objects.filter(organization_id=organization_id, queued_runs__gt=0).update(
        queued_runs=F("queued_runs") - 1
    )
