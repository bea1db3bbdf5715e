"""What a worker task runs: the account it was started for and, in the same process, the
other accounts that have due work and a free worker slot, each in its own thread.

django-q2 runs one task per worker process at a time. Were a task to serve one account, a
deployment with 2 worker processes would serve 2 accounts at once and the others would wait
in the queue for minutes. Here a task adopts up to SENDING_ACCOUNTS_PER_WORKER accounts, so
the default deployment serves every account at once, each at its own limit, for as long as
the machine's CPU allows (docs/sending.md, "Sizing").
"""

import logging
import math
import threading
import time
import uuid

from django.db import connection, connections

from ioportal.accounts.models import Organization
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.sending import clock, slots
from ioportal.sending.conf import sending_settings
from ioportal.sending.triggers import wake_up
from ioportal.sending.worker import AccountRun, has_due_work

logger = logging.getLogger(__name__)
ADOPT_EVERY = 2.0  # seconds between two looks for accounts to adopt
ADOPT_MARGIN = 5.0  # no adoption in the last seconds of the budget


def accounts_with_due_work() -> list[int]:
    """Accounts with a running dispatch or a due status poll (cheap first filter)."""
    running = set(
        Dispatch.objects.filter(state=Dispatch.State.RUNNING).values_list(
            "organization_id", flat=True
        )
    )
    polls = set(
        Delivery.objects.filter(
            state__in=(Delivery.State.SUBMITTED, Delivery.State.PROCESSED),
            next_poll_at__lte=clock.now(),
        )
        .values_list("dispatch__organization_id", flat=True)
        .distinct()
    )
    return sorted(running | polls)


def adoption_room(*, serving: int, due: int, processes: int, per_process: int) -> int:
    """How many more accounts a worker process may adopt: its share of the `due` accounts
    with due work, ceil(due / processes) + 1 for the cluster's worker `processes` (one more:
    its task's own account may be served by another process too), at most
    SENDING_ACCOUNTS_PER_WORKER (`per_process`), less the accounts it is `serving`.

    Each process then serves its own part of the accounts, one run per account, instead of
    every process serving every account: an account's calls are not split between two runs
    that each claim, reserve and write half-sized batches (twice the transactions and thread
    wake-ups per call, docs/sending.md "Sizing"), and the processes share the CPU."""
    share = min(per_process, math.ceil(due / max(1, processes)) + 1)
    return max(0, share - serving)


class Host:
    """The account runs of one task, each in a thread with its own database connection."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.deadline = time.monotonic() + budget
        self.threads: dict[int, threading.Thread] = {}
        self.results: dict[int, dict[str, int]] = {}
        self.first = 0

    def _serve(self, organization_id: int, budget: float, holder: uuid.UUID) -> None:
        try:
            organization = Organization.objects.get(pk=organization_id)
            run = AccountRun(organization, budget=budget, holder=holder)
            self.results[organization_id] = run.run()
        except Exception:
            logger.exception("account %s: run failed", organization_id)
            self.results[organization_id] = {"error": 1}
            slots.release_slot(holder=holder)
        finally:
            connections.close_all()  # this thread's connections only

    def start(self, organization_id: int, holder: uuid.UUID) -> None:
        """Serve the account in a thread, under the worker slot `holder` has taken."""
        budget = max(1.0, self.deadline - time.monotonic())
        thread = threading.Thread(
            target=self._serve,
            args=(organization_id, budget, holder),
            name=f"account-{organization_id}",
            daemon=True,
        )
        self.threads[organization_id] = thread
        thread.start()

    def adopt(self) -> None:
        """Start runs for accounts with due work that no live run serves, up to this
        process's share (`adoption_room`)."""
        conf = sending_settings()
        due = accounts_with_due_work()
        # The task's own account counts as one.
        room = adoption_room(
            serving=1 + sum(t.is_alive() for t in self.threads.values()),
            due=len(due),
            processes=conf.worker_processes,
            per_process=conf.accounts_per_worker,
        )
        for organization_id in due:
            if room <= 0:
                break
            thread = self.threads.get(organization_id)
            if organization_id == self.first or (thread is not None and thread.is_alive()):
                continue
            holder = uuid.uuid4()
            if (
                slots.unserved(organization_id=organization_id)
                and has_due_work(organization_id=organization_id)
                # Another process adopting the same account at once: one of them wins.
                and slots.take_slot(organization_id=organization_id, holder=holder, first_only=True)
                is not None
            ):
                self.start(organization_id, holder)
                room -= 1

    def watch(self, stop: threading.Event) -> None:
        """Adopt accounts at once, then every ADOPT_EVERY seconds until `stop` or the
        budget's end."""
        try:
            while time.monotonic() < self.deadline - ADOPT_MARGIN:
                try:
                    self.adopt()
                except Exception:
                    logger.exception("looking for accounts to adopt failed")
                if stop.wait(ADOPT_EVERY):
                    break
        finally:
            connections.close_all()

    def run(self, first: int) -> dict[str, int]:
        """Serve `first` in the calling thread; adopt others while it runs. Inside a
        transaction (a test's), other threads could not see its rows: no adoption."""
        self.first = first
        stop = threading.Event()
        watcher = None
        if sending_settings().accounts_per_worker > 1 and not connection.in_atomic_block:
            watcher = threading.Thread(target=self.watch, args=(stop,), daemon=True)
            watcher.start()
        try:
            organization = Organization.objects.get(pk=first)
            self.results[first] = AccountRun(organization, budget=self.budget).run()
        finally:
            stop.set()
            if watcher is not None:
                watcher.join()
            for thread in list(self.threads.values()):
                thread.join()
        return self.results[first]


def run_account_worker(*, organization_id: int, budget: float | None = None) -> dict[str, int]:
    """Send the due deliveries of one IO account (and of the accounts this process adopts)
    for up to `budget` seconds.

    Side effects: IO calls (profile, submission, status), Delivery transitions, ApiCall rows.
    Safe to run any number of times concurrently and after a crash: every delivery is claimed
    before its call, and at most SENDING_WORKERS_PER_ACCOUNT runs work on an account at once
    (the others return at once). Returns counters of what the first account's run did; the
    adopted accounts with work left are woken up again.
    """
    conf = sending_settings()
    host = Host(conf.task_budget if budget is None else budget)
    stats = host.run(organization_id)
    for other, result in host.results.items():
        if other == organization_id or {"no_slot", "breaker_open", "error"} & result.keys():
            continue
        if has_due_work(organization_id=other):
            wake_up(organization_id=other)
    return stats
