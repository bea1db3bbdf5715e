"""The account run: claims an IO account's due deliveries and keeps up to the gateway's
`concurrency` IO calls in flight for them.

One thread (the run's) owns the database connection: it claims, takes the limiter's tokens,
claims each submission (committed before its request leaves), and writes every outcome with
its ApiCall rows, several outcomes per transaction. The HTTP requests run in a thread pool of
the account (`Gateway.send`, no database access), so with IO answering in 200 ms one run
keeps the account's whole budget busy. A run lasts at most SENDING_TASK_BUDGET seconds (well
under django-q2's `timeout`, so the queue's SIGALRM never interrupts an IO call), holds one
of the account's worker slots (`slots.py`, renewed by heartbeats) and, at its end, waits for
its calls in flight and gives back the claims it did not use.

Guarantees (docs/sending.md): a delivery is claimed before its call and every write is fenced
on its claim token, so no two workers call IO for it; a submission is SUBMITTING (committed)
before its request starts, so a crash leaves it UNCERTAIN, never re-sent automatically.
"""

import contextlib
import itertools
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from django.db import OperationalError, transaction
from django.db.models import Min

from ioportal.accounts.models import Organization
from ioportal.core import crypto
from ioportal.core.fiscalcode import reveal_fiscal_code
from ioportal.core.io_texts import Part
from ioportal.ioapi import NewMessage
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.recipients import testmode
from ioportal.sending import (
    claims,
    clock,
    feed,
    gateway,
    limiter,
    outcomes,
    slots,
    steps,
    transitions,
)
from ioportal.sending.conf import sending_settings
from ioportal.sending.gateway import Attempt, Gateway, executor_for
from ioportal.sending.models import ApiCall, insert_api_calls
from ioportal.sending.services import dispatch_check_failure_rate

logger = logging.getLogger(__name__)
S = Delivery.State
# With nothing due, wait for work due within this many seconds instead of exiting.
LOOKAHEAD = 10.0
# Longest wait for an answer before the loop looks at heartbeat and claims again.
COLLECT_TICK = 0.5
# After a claim found nothing, the next one waits this long (while calls are in flight).
EMPTY_CLAIM_PAUSE = 1.0
# While a dispatch sends, due status refreshes are claimed too, at most this often
# (seconds), up to a POLL_SHARE-th of a claim.
POLLS_WHILE_SENDING_EVERY = 2.0
POLL_SHARE = 4
# Writing outcomes after SQLite's "database is locked": attempts again (each waits up to the
# connection's busy timeout, 20 s) after pauses from LOCK_RETRY_PAUSE doubling up to the max.
LOCK_RETRIES = 10
LOCK_RETRY_PAUSE, LOCK_RETRY_PAUSE_MAX = 0.1, 2.0
# The outcomes of ended calls are written together, in one transaction, once the oldest has
# waited OUTCOME_DELAY seconds (or OUTCOME_BATCH of them wait): a transaction per answer took
# SQLite's write lock several times per call and kept the other runs waiting for it.
OUTCOME_DELAY = 0.2
OUTCOME_BATCH = 32


@dataclass
class Job:
    """One delivery's next IO call: "check", "submit" or "poll"."""

    kind: str
    delivery: Delivery
    token: uuid.UUID
    fiscal_code: str
    message: NewMessage | None = None
    after_switch: bool = False
    claimed: bool = False  # a submission already SUBMITTING (retried after a key switch)
    # `steps.prepare_message`'s answer, when built before the transaction that uses it.
    prepared: tuple[NewMessage | None, str, list[Part]] | None = None
    # ApiCall rows not written yet: they go with the delivery's next write.
    calls: list[ApiCall] = field(default_factory=list)


@dataclass
class Outcome:
    """What a run does in memory once the transaction writing its outcomes has committed."""

    stats: Counter[str] = field(default_factory=Counter)
    written: list[Job] = field(default_factory=list)  # their ApiCall rows are written
    submissions: list[tuple[Job, NewMessage]] = field(default_factory=list)  # to queue
    to_check: set[int] = field(default_factory=set)  # dispatches whose failure rate to check


T = TypeVar("T")


def is_lock_error(exc: OperationalError) -> bool:
    """SQLite's "database is locked" (or "database table is locked"): the busy timeout ran
    out waiting for another writer; the transaction was rolled back, nothing was written."""
    return "locked" in str(exc)


def retry_when_locked(write: Callable[[], T]) -> T:
    """Run `write` (a transaction that changes nothing in memory) again after a lock error,
    with a growing pause, until it commits. Only database writes are repeated, never an IO
    call: the outcome of a submission IO accepted is written, not lost as UNCERTAIN. Should
    the run's slot be reaped meanwhile (its heartbeat needs the same lock),
    `transitions.submitted_many` still records what IO accepted."""
    for attempt in itertools.count():
        try:
            return write()
        except OperationalError as exc:
            if not is_lock_error(exc) or attempt >= LOCK_RETRIES:
                raise
            pause = min(LOCK_RETRY_PAUSE_MAX, LOCK_RETRY_PAUSE * 2**attempt)
            logger.warning("outcomes not written (%s): again in %.1f s", exc, pause)
            time.sleep(pause)
    raise AssertionError("unreachable")


def passed_with_message(job: Job, attempt: Attempt) -> bool:
    """A profile check that passed, its message built (`collect`)."""
    return (
        job.kind == "check"
        and attempt.error is None
        and job.prepared is not None
        and job.prepared[0] is not None
    )


class AccountRun:
    def __init__(
        self, organization: Organization, *, budget: float, holder: uuid.UUID | None = None
    ) -> None:
        """`holder`: the caller has taken a worker slot for the run under this holder."""
        self.organization = organization
        self.gateway = Gateway(organization)
        self.concurrency = self.gateway.concurrency
        self.stats = self.gateway.stats
        self.slot_taken = holder is not None
        self.holder = holder or uuid.uuid4()
        self.worker = slots.worker_name(self.holder)
        self.deadline = time.monotonic() + budget
        self.queue: deque[Job] = deque()
        self.running: dict[futures.Future[Attempt], Job] = {}
        self.executor = executor_for(organization.pk, self.concurrency)
        self.next_heartbeat = time.monotonic() + slots.HEARTBEAT
        self.claim_after = 0.0
        self.polls_after = 0.0
        self.stopping = False
        # Ended calls whose outcomes are not written yet (`collect`, `write_pending`).
        self.unwritten: list[tuple[Job, Attempt]] = []
        self.unwritten_since = 0.0

    @contextlib.contextmanager
    def timed(self, counter: str) -> Iterator[None]:
        """Add the milliseconds the block takes to the run's counter `counter` (logged when
        the run ends): where a run's time goes, for sizing workers (docs/sending.md)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.stats[counter] += round((time.monotonic() - started) * 1000)

    # the loop ------------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        if (
            not self.slot_taken
            and slots.take_slot(organization_id=self.organization.pk, holder=self.holder) is None
        ):
            return {"no_slot": 1}
        try:
            self.loop()
        finally:
            try:
                with transitions.lost_claims_batch():
                    while self.running:
                        self.collect(timeout=None)
                    self.write_pending(force=True)
                    self.give_back()
            finally:
                slots.release_slot(holder=self.holder)
        # One line per run (counters only, no personal data): what the run did, and the calls
        # whose reserved moment had passed ("late": budget lost, nothing sent).
        logger.info(
            "account %s: run ended: %s",
            self.organization.pk,
            " ".join(f"{name}={count}" for name, count in sorted(self.stats.items())),
        )
        return dict(self.stats)

    def loop(self) -> None:
        while True:
            # The claims a cancel took during a turn are logged once (`transitions`).
            with transitions.lost_claims_batch():
                if self.turn():
                    return

    def turn(self) -> bool:
        """One turn of the loop: claim, start calls, collect and write outcomes. True when
        the run is over."""
        now = time.monotonic()
        if now >= self.next_heartbeat:
            self.next_heartbeat = now + slots.HEARTBEAT
            if not slots.heartbeat(organization_id=self.organization.pk, holder=self.holder):
                logger.warning("account %s: worker slot lost", self.organization.pk)
                self.stopping = True
        if now >= self.deadline:
            self.stopping = True
        if self.stopping:
            self.give_back()
            if not self.running:
                return True
        elif len(self.queue) + len(self.running) < self.concurrency and now >= self.claim_after:
            with self.timed("claims_ms"):
                found = self.refill()
            if found is None:  # breaker open
                self.stopping = True
                return False
            if not found:
                self.claim_after = now + EMPTY_CLAIM_PAUSE
        if not self.queue and not self.running:
            self.write_pending(force=True)
            if self.stopping or not self.wait_for_due_work():
                return True
            self.claim_after = 0.0
            return False
        wait = self.launch()
        if self.running:
            full = len(self.running) >= self.concurrency or not self.queue
            tick = min(wait, COLLECT_TICK) if wait else (COLLECT_TICK if full else 0)
            if self.unwritten:
                tick = min(tick, max(0.0, self.unwritten_since + OUTCOME_DELAY - now))
            self.collect(timeout=tick)
        elif wait:
            time.sleep(min(wait, COLLECT_TICK))
        self.write_pending(force=self.stopping)
        return False

    def wait_for_due_work(self) -> bool:
        """Sleep until the next retry or poll if it is due soon and within the budget."""
        org = self.organization.pk
        next_retry = Delivery.objects.filter(
            dispatch__organization_id=org,
            dispatch__state=Dispatch.State.RUNNING,
            state=S.RETRY_WAIT,
        ).aggregate(at=Min("next_attempt_at"))["at"]
        next_poll = Delivery.objects.filter(
            dispatch__organization_id=org, state__in=(S.SUBMITTED, S.PROCESSED)
        ).aggregate(at=Min("next_poll_at"))["at"]
        moments: list[datetime] = [m for m in (next_retry, next_poll) if m is not None]
        if not moments:
            return False
        wait = (min(moments) - clock.now()).total_seconds()
        if wait > LOOKAHEAD or time.monotonic() + wait > self.deadline:
            return False
        time.sleep(max(0.2, wait))
        return True

    # claims --------------------------------------------------------------------------------

    def refill(self) -> bool | None:
        """Claim work and due status polls for the queue (polls only a share while there is
        work). None: the breaker is open."""
        allowed, probe = limiter.breaker_allows(organization_id=self.organization.pk)
        if not allowed:
            self.stats["breaker_open"] += 1
            return None
        conf = sending_settings()
        room = 2 * self.concurrency - len(self.queue) - len(self.running)
        limit = 1 if probe else max(conf.batch_size, room)
        org = self.organization.pk
        token, ids = claims.claim_work(organization_id=org, worker=self.worker, limit=limit)
        found = self.load(token, ids, polls=False)
        now = time.monotonic()
        if not ids or (not probe and now >= self.polls_after):
            # Status refreshes go on while a dispatch sends (a few per claim, every
            # POLLS_WHILE_SENDING_EVERY s, low priority at the limiter): the first "Letti"
            # of a delivery does not wait for the end of a large dispatch.
            self.polls_after = now + POLLS_WHILE_SENDING_EVERY
            share = limit if not ids else max(1, limit // POLL_SHARE)
            token, ids = claims.claim_polls(organization_id=org, worker=self.worker, limit=share)
            found = self.load(token, ids, polls=True) or found
        return found

    def load(self, token: uuid.UUID, ids: list[int], *, polls: bool) -> bool:
        """Queue the claimed deliveries `ids` (claim `token`). False when there are none."""
        if not ids:
            return False
        deliveries = list(Delivery.objects.filter(pk__in=ids, claim_token=token).order_by("id"))
        # The batch's few dispatches once each, not joined into every delivery's row (as
        # select_related would: the dispatch's and its service's columns read and turned
        # into objects again for each delivery); their service is the gateway's instance.
        dispatches = Dispatch.objects.select_related("service").in_bulk(
            {delivery.dispatch_id for delivery in deliveries}
        )
        for dispatch in dispatches.values():
            dispatch.service = self.gateway.service(dispatch.service)
        # No transaction around the batch: on SQLite it would hold the database's write lock
        # (IMMEDIATE) while the fiscal codes are decrypted and messages built; the writes
        # here (a delivery that cannot be sent or is known to be skipped) are rare.
        for delivery in deliveries:
            delivery.dispatch = dispatches[delivery.dispatch_id]
            self.enqueue(delivery, token, polls=polls)
        return True

    def enqueue(self, delivery: Delivery, token: uuid.UUID, *, polls: bool) -> None:
        try:
            fiscal_code = reveal_fiscal_code(delivery.fiscal_code_encrypted)
        except crypto.DecryptionError:
            if polls:
                transitions.poll_failed(delivery=delivery, token=token)
            else:
                transitions.fail(
                    delivery_id=delivery.pk,
                    token=token,
                    from_state=delivery.state,
                    code=outcomes.CF_UNREADABLE,
                )
            return
        job = Job("poll" if polls else "check", delivery, token, fiscal_code)
        if polls:
            self.queue.append(job)
        elif delivery.state == S.READY:
            self.ready_to_submit(job)
        elif testmode.skipped_in_test_mode(delivery.dispatch.service, fiscal_code):
            # Test mode: IO would answer 403 for a recipient the service is not authorised for.
            self.stats["skipped"] += 1
            self.stats["test_mode_skipped"] += 1
            transitions.check_skipped(
                delivery_id=delivery.pk, token=token, reason=outcomes.NOT_AUTHORIZED
            )
        else:
            known = feed.known_consent(service=delivery.dispatch.service, fiscal_code=fiscal_code)
            if known is None:
                self.queue.append(job)
            elif known:
                self.stats["feed_known"] += 1
                self.ready_to_submit(job)
            else:
                self.stats["feed_known"] += 1
                self.stats["skipped"] += 1
                transitions.check_skipped(
                    delivery_id=delivery.pk, token=token, reason=outcomes.BLOCKED
                )

    def ready_to_submit(self, job: Job) -> None:
        """The recipient may get the message: build it and queue its submission (first in
        line, so a delivery started is finished first), or fail it if it cannot be sent."""
        message = self.submission_message(job, self.stats)
        if message is not None:
            self.queue_submission(job, message)

    def submission_message(self, job: Job, stats: Counter[str]) -> NewMessage | None:
        """The message to submit for `job`, or None after failing the delivery (it cannot
        be sent). Changes nothing in memory but `stats`: inside a transaction that may be
        retried, the caller queues the submission once it has committed."""
        delivery = job.delivery
        message, code, detail = job.prepared or steps.prepare_message(
            delivery, job.fiscal_code, delivery.dispatch.service
        )
        if message is None:
            transitions.fail(
                delivery_id=delivery.pk,
                token=job.token,
                from_state=delivery.state,
                code=code,
                detail=detail,
            )
            stats["failed"] += 1
        return message

    def queue_submission(self, job: Job, message: NewMessage) -> None:
        job.prepared = None
        job.kind, job.message = "submit", message
        self.queue.appendleft(job)

    # calls ---------------------------------------------------------------------------------

    def launch(self) -> float:
        """Start calls while there is room and budget. Returns the seconds until the limiter
        has a token for the next queued call, 0.0 when nothing waits for one.

        The submissions at the head of the queue are claimed first (`preclaim`, one
        transaction), then a limiter reservation gives a few calls at moments up to
        `gateway.TOKEN_HORIZON` ahead, and each request is handed to its thread at once,
        to leave at its moment. Nothing but the hand-off lies between the limiter's answer
        and the requests: a transaction there (waiting for a lock on a busy database) made
        calls miss their moment, and a call that misses it is not sent (`Gateway.send`), so
        its share of the budget was lost."""
        self.preclaim()
        wait = 0.0
        while self.queue and len(self.running) < self.concurrency:
            job = self.queue[0]
            if self.waits_for_key(job, ()):
                wait = COLLECT_TICK  # the first answer tells whether the key works
                break
            if not self.gateway.has_reserved() and (
                (job.kind == "submit" and not job.claimed) or self.unwritten
            ):
                # A new reservation for the head: with its submissions' claims and the
                # outcomes waiting, in one transaction (`preclaim`).
                self.preclaim()
                if not self.queue:
                    break
                job = self.queue[0]
            room = self.concurrency - len(self.running)
            at, wait = self.gateway.next_token(
                low_priority=job.kind == "poll", wanted=min(len(self.queue), room)
            )
            if wait > 0:
                break
            self.queue.popleft()
            # A submission not claimed by `preclaim` (rare: queued beyond its head) is
            # claimed now; its moment may pass meanwhile (then it waits for a new token).
            if job.kind == "submit" and not job.claimed and not self.claim_submissions([job]):
                continue
            self.start(job, at)
        return wait

    def waits_for_key(self, job: Job, ahead: Iterable[Job]) -> bool:
        """Until IO has accepted the service's active key in this run, one call per service is
        in flight (or about to be: `ahead`): a revoked key costs one 401, not one per call."""
        service = job.delivery.dispatch.service
        return not self.gateway.key_confirmed(service) and any(
            other.delivery.dispatch.service.pk == service.pk
            for other in itertools.chain(self.running.values(), ahead)
        )

    def preclaim(self) -> None:
        """One transaction for the run's writes before its next calls (on SQLite, one turn of
        the database's write lock instead of three): the outcomes waiting in `unwritten`,
        the claims of the submissions among the calls the next limiter reservation may start
        (the queue's head, up to the room for calls in flight and what one reservation gives,
        while the limiter has announced no wait), and, with the database limiter and no call
        reserved, that reservation, last (the calls' moments count from its answer, a commit
        before their requests).

        A claimed submission waits in the queue for its token (if the process dies meanwhile
        it becomes UNCERTAIN, as one between its token and its request would; at the run's
        end it is given back as READY, `give_back`). Retried after SQLite's "database is
        locked" like `write_pending`: the run's memory changes only once it has committed."""
        room = min(self.concurrency - len(self.running), self.gateway.calls_per_reservation())
        head: list[Job] = []
        if room > 0 and self.queue and self.gateway.may_ask_now():
            for job in itertools.islice(self.queue, room):
                if self.waits_for_key(job, head):
                    break
                head.append(job)
        unclaimed = [job for job in head if job.kind == "submit" and not job.claimed]
        reserve = (
            bool(head)
            and head[0].kind != "poll"  # a poll asks at low priority (`launch`)
            and limiter.backend() == "db"
            and not self.gateway.has_reserved()
        )
        if not unclaimed and not (reserve and self.unwritten):
            return  # a reservation alone is the limiter's own transaction (`launch`)
        finished, self.unwritten = self.unwritten, []

        def write() -> tuple[Outcome, uuid.UUID, set[tuple[int, uuid.UUID]]]:
            with transaction.atomic():
                outcome = self.write_outcomes_now(finished)
                token, won = self.claim_submissions_now(unclaimed)
                if reserve:
                    self.gateway.reserve(wanted=len(head))
            return outcome, token, won

        with self.timed("writes_ms"):
            outcome, token, won = retry_when_locked(write)
        self.committed(outcome)
        claimed = {id(job) for job in self.claimed(unclaimed, token, won)}
        if len(claimed) < len(unclaimed):
            lost = {id(job) for job in unclaimed} - claimed
            self.queue = deque(job for job in self.queue if id(job) not in lost)

    def start(self, job: Job, at: float = 0.0) -> None:
        delivery = job.delivery
        service = delivery.dispatch.service
        if job.kind == "submit":
            assert job.message is not None
            operation = gateway.submit_message(
                job.message, max_amount=service.effective_max_payment_amount
            )
        elif job.kind == "check":
            operation = gateway.get_profile(job.fiscal_code)
        else:
            operation = gateway.get_message(job.fiscal_code, delivery.io_message_id or "")
        future = self.executor.submit(
            self.gateway.send, service, operation, after_switch=job.after_switch, at=at
        )
        self.running[future] = job

    def claim_submissions(self, jobs: list[Job]) -> list[Job]:
        """READY/CHECKING → SUBMITTING for `jobs`, committed in one transaction with the rows
        of their earlier calls before any request starts. Returns the jobs claimed; the
        others (dispatch paused or cancelled) are released as READY."""

        def write() -> tuple[uuid.UUID, set[tuple[int, uuid.UUID]]]:
            with transaction.atomic():
                return self.claim_submissions_now(jobs)

        with self.timed("writes_ms"):
            token, won = retry_when_locked(write)
        return self.claimed(jobs, token, won)

    def claim_submissions_now(
        self, jobs: list[Job]
    ) -> tuple[uuid.UUID, set[tuple[int, uuid.UUID]]]:
        """The writes of `claim_submissions`, in the caller's transaction, changing nothing in
        the run's memory (`claimed` does, after the commit): the rows of the jobs' earlier
        calls, the claims, and READY again for the jobs not claimed."""
        if not jobs:
            return uuid.uuid4(), set()
        insert_api_calls(row for job in jobs for row in job.calls)
        token, won = claims.claim_submissions(
            claimed=[(job.delivery.pk, job.token) for job in jobs]
        )
        for job in jobs:
            # By (id, token): the run may still hold a job of the delivery's expired claim.
            if (job.delivery.pk, job.token) not in won:
                transitions.ready_released(delivery_id=job.delivery.pk, token=job.token)
        return token, won

    def claimed(
        self, jobs: list[Job], token: uuid.UUID, won: set[tuple[int, uuid.UUID]]
    ) -> list[Job]:
        """After the commit of `claim_submissions_now`: the jobs claimed, under `token`."""
        result = []
        for job in jobs:
            job.calls = []
            if (job.delivery.pk, job.token) in won:
                job.token, job.claimed = token, True
                job.delivery.state = S.SUBMITTING
                result.append(job)
        return result

    def collect(self, *, timeout: float | None) -> None:
        """Take the answers of the calls that ended (waiting up to `timeout`): a check that
        passed queues its submission at once, the other outcomes wait in `unwritten` for
        `write_pending`."""
        if not self.running:
            return
        done, _pending = futures.wait(
            self.running, timeout=timeout, return_when=futures.FIRST_COMPLETED
        )
        if not done:
            return
        for future in done:
            job = self.running.pop(future)
            attempt = future.result()
            if attempt.late:
                # Nothing was sent: the call waits for a new token, first in line (a
                # submission stays SUBMITTING under its claim, `job.claimed`).
                self.stats["late"] += 1
                self.queue.appendleft(job)
                continue
            row = self.gateway.api_call(attempt, delivery_id=job.delivery.pk)
            if row is not None:
                job.calls.append(row)
            if self.gateway.settle(attempt):
                # IO refused the key and the service switched: the same call again, first
                # in line (a submission stays SUBMITTING: IO stored nothing on a 401).
                job.after_switch = True
                self.queue.appendleft(job)
                continue
            if (
                job.kind == "check"
                and steps.check_outcome(job.delivery, job.token, attempt.result, attempt.error)[0]
            ):
                # The message is built before the transaction: on SQLite the transaction
                # holds the database's write lock, which the other workers wait for.
                job.prepared = steps.prepare_message(
                    job.delivery, job.fiscal_code, job.delivery.dispatch.service
                )
            if passed_with_message(job, attempt):
                # Nothing to write now (its rows go with the submission's claim): queued at once.
                assert job.prepared is not None and job.prepared[0] is not None
                self.queue_submission(job, job.prepared[0])
                continue
            if not self.unwritten:
                self.unwritten_since = time.monotonic()
            self.unwritten.append((job, attempt))

    def write_pending(self, *, force: bool = False) -> None:
        """Write the outcomes `collect` kept (`unwritten`), all in one transaction with their
        ApiCall rows, once the oldest has waited OUTCOME_DELAY seconds, OUTCOME_BATCH of them
        wait, or `force`. Until then a submission IO accepted stays SUBMITTING in the database
        (after a crash: UNCERTAIN, never sent again)."""
        if not self.unwritten or not (
            force
            or len(self.unwritten) >= OUTCOME_BATCH
            or time.monotonic() >= self.unwritten_since + OUTCOME_DELAY
        ):
            return
        finished, self.unwritten = self.unwritten, []
        with self.timed("writes_ms"):
            outcome = retry_when_locked(lambda: self.write_outcomes(finished))
        self.committed(outcome)

    def committed(self, outcome: Outcome) -> None:
        """The transaction writing outcomes has committed: now the run's memory follows (a
        retried transaction left it unchanged)."""
        self.stats.update(outcome.stats)
        for job in outcome.written:
            job.calls = []
        for job, message in outcome.submissions:
            self.queue_submission(job, message)
        for dispatch_id in outcome.to_check:
            dispatch_check_failure_rate(dispatch_id=dispatch_id)

    def write_outcomes(self, finished: list[tuple[Job, Attempt]]) -> "Outcome":
        """Write the outcomes of `finished` with their ApiCall rows in one transaction.
        Changes nothing in the run's memory, so it may be run again after a rollback
        (`retry_when_locked`): what the run must do once it has committed is returned."""
        with transaction.atomic():
            return self.write_outcomes_now(finished)

    def write_outcomes_now(self, finished: list[tuple[Job, Attempt]]) -> "Outcome":
        """The writes of `write_outcomes`, in the caller's transaction."""
        outcome = Outcome()
        if finished:
            rows: list[ApiCall] = []
            # IO's ids of the submissions it accepted: one UPDATE for all of them.
            accepted: list[tuple[int, uuid.UUID, str]] = []
            for job, attempt in finished:
                if job.kind == "submit" and attempt.error is None:
                    accepted.append((job.delivery.pk, job.token, attempt.result.id))
                elif self.apply(job, attempt, outcome):
                    continue  # its rows go with the submission's claim
                rows.extend(job.calls)
                outcome.written.append(job)
            outcome.stats["submitted"] += len(
                transitions.submitted_many(accepted=accepted, worker=self.worker)
            )
            insert_api_calls(rows)
        return outcome

    def apply(self, job: Job, attempt: Attempt, outcome: "Outcome") -> bool:
        """Write an attempt's outcome (in the caller's transaction; effects on the run's
        memory go into `outcome`). True when the delivery goes on to its submission."""
        delivery, token, stats = job.delivery, job.token, outcome.stats
        if job.kind == "poll":
            steps.apply_poll(delivery, token, attempt.result, attempt.error, stats)
        elif job.kind == "submit":
            if steps.apply_submission(delivery, token, attempt.result, attempt.error, stats):
                outcome.to_check.add(delivery.dispatch_id)
        else:
            passed, reason = steps.check_outcome(delivery, token, attempt.result, attempt.error)
            if passed:
                message = self.submission_message(job, stats)
                if message is None:
                    return False
                outcome.submissions.append((job, message))
                return True
            if reason:
                transitions.check_skipped(delivery_id=delivery.pk, token=token, reason=reason)
                stats["skipped"] += 1
            else:
                assert attempt.error is not None
                if steps.apply_check_failure(delivery, token, attempt.error, stats):
                    outcome.to_check.add(delivery.dispatch_id)
        return False

    def give_back(self) -> None:
        """Release the queued claims (nothing was sent for them) with their pending rows."""
        if not self.queue:
            return
        with transaction.atomic():
            while self.queue:
                job = self.queue.popleft()
                insert_api_calls(job.calls)
                if job.claimed and not job.after_switch:  # its request was never made
                    transitions.submission_released(delivery_id=job.delivery.pk, token=job.token)
                elif job.claimed:  # a retry after a key switch that cannot go out now
                    transitions.retry_later(
                        delivery=job.delivery,
                        token=job.token,
                        from_state=S.SUBMITTING,
                        code=outcomes.KEY_REJECTED,
                        count_attempt=False,
                    )
                elif job.kind == "submit":
                    transitions.ready_released(delivery_id=job.delivery.pk, token=job.token)
                else:
                    transitions.release(delivery_id=job.delivery.pk, token=job.token)


def has_due_work(*, organization_id: int) -> bool:
    now = clock.now()
    return (
        claims.work_queryset(organization_id=organization_id, now=now).exists()
        or claims.poll_queryset(organization_id=organization_id, now=now).exists()
    )
