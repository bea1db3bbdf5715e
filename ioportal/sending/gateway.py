"""The IO gateway: one per IO account, the only way the portal calls IO.

Every call of the pipeline (profile check, submission, status refresh), of the subscriptions
feed and of the service check goes through a `Gateway`, which

- takes the call's token from the account's shared limiter (`limiter.take_token`);
- sends it through the account's keep-alive connection pool (one per account and process,
  sized to the calls the account makes at once, `concurrency_for`);
- classifies the outcome with `ioapi`'s errors and feeds the breaker and the limiter (a 429
  pauses the account, timeouts and 5xx count towards the breaker);
- handles the service's two keys: a 401 switches the service to the other key once
  (`ioservice_key_rejected`, compare-and-set) and every later call of the gateway uses the
  new key, since all deliveries of a service share one `IOService` instance per gateway;
- describes each HTTP request as an `ApiCall` row, 401s and 429s included, for the caller
  to write with the transition it belongs to (or writes it at once, in `call`).

`send` makes only the HTTP request (no database access) and is safe to run in several
threads; everything else runs in the caller's thread.
"""

import logging
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.utils import timezone

from ioportal.accounts.models import Organization
from ioportal.ioapi import (
    AmbiguousError,
    CallInfo,
    ConnectionPool,
    IOApiError,
    IOClient,
    KeyRejectedError,
    Profile,
    RateLimitedError,
    TransientError,
)
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import (
    ServiceKeyUnavailableError,
    ioservice_key_problem,
    ioservice_key_rejected,
    ioservice_key_worked,
    service_api_key,
)
from ioportal.sending import limiter
from ioportal.sending.conf import sending_settings
from ioportal.sending.models import ApiCall

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Sleep at most this long between attempts to take a token, so a pause acts quickly.
MAX_TOKEN_SLEEP = 0.5
# Seconds a call holds one of the account's calls in flight, which the automatic concurrency
# allows for (calls in flight = calls/s × this): up to TOKEN_HORIZON waiting for its reserved
# moment, IO's latency (0.5 s allowed), and the wait until the run's thread, busy with its
# database round trips, collects the answer. At 0.5 s (latency only) the accounts at
# 250 calls / 5 s ran out of calls in flight on the 2-core machine and stayed near 60 % of
# their limit (docs/sending.md, "Third round").
LATENCY_ALLOWANCE = 1.0
MIN_CONCURRENCY, MAX_CONCURRENCY = 2, 64
# Seconds a token granted in a batch (`try_token(wanted=n)`) stays usable.
TOKEN_KEEP = 0.05
# How far ahead `next_token` reserves calls (seconds): at 30 calls/s about 9 calls per round
# trip to the limiter, whose submissions a run claims in one transaction. The limiter's pacing
# forgives a late asker only 1.5 calls (`conf.RATE_BURST`), so a run whose round of claims,
# limiter and outcome writes takes longer than this loses the rest of its turn: on a busy
# 2-core machine a round took 0.2–0.3 s, and at 0.15 s the accounts at 250 calls / 5 s got
# about half of their limit (docs/sending.md, "Benchmarks").
TOKEN_HORIZON = 0.3


# The operations callers pass to `send` and `call` (the client stays inside this module).


def get_profile(fiscal_code: str) -> Callable[[IOClient], Any]:
    """The profile check of a citizen (POST /profiles)."""
    return lambda client: client.get_profile(fiscal_code)


def submit_message(message: Any, *, max_amount: int | None) -> Callable[[IOClient], Any]:
    """A submission (POST /messages); `message` is an ioapi.NewMessage."""
    return lambda client: client.submit_message(message, max_allowed_payment_amount=max_amount)


def get_message(fiscal_code: str, message_id: str) -> Callable[[IOClient], Any]:
    """A message's status (GET /messages/{fiscal_code}/{id})."""
    return lambda client: client.get_message(fiscal_code, message_id)


def get_subscriptions_feed(day: Any) -> Callable[[IOClient], Any]:
    """One day of the subscriptions feed (GET /subscriptions-feed/{date})."""
    return lambda client: client.get_subscriptions_feed(day)


class OutOfTime(Exception):
    """No token came within the allowed wait: nothing was sent."""


def concurrency_for(limit: int) -> int:
    """Calls an account worker keeps in flight: SENDING_CONCURRENCY when set, else enough for
    the account's rate at LATENCY_ALLOWANCE seconds per call (30 at 150 calls / 5 s, 50 at
    250), within [2, 64]. One worker process then saturates the account while IO answers
    within about half a second; more latency needs more workers (docs/sending.md)."""
    configured = sending_settings().concurrency
    if configured:
        return configured
    wanted = math.ceil(limit / sending_settings().rate_window * LATENCY_ALLOWANCE)
    return max(MIN_CONCURRENCY, min(MAX_CONCURRENCY, wanted))


_pools: dict[tuple[int, int], ConnectionPool] = {}
_pools_lock = threading.Lock()


def connection_pool(organization_id: int, size: int) -> ConnectionPool:
    """The account's keep-alive pool in this process (a forked child makes its own)."""
    key = (os.getpid(), organization_id)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None or pool.maxsize < size:
            pool = ConnectionPool(maxsize=size)
            _pools[key] = pool
        return pool


_executors: dict[tuple[int, int], futures.ThreadPoolExecutor] = {}
_executors_lock = threading.Lock()


def executor_for(organization_id: int, size: int) -> futures.ThreadPoolExecutor:
    """The account's request threads in this process (created on demand, kept for reuse)."""
    key = (os.getpid(), organization_id)
    with _executors_lock:
        executor = _executors.get(key)
        if executor is None or executor._max_workers < size:
            executor = futures.ThreadPoolExecutor(
                max_workers=size, thread_name_prefix=f"io-{organization_id}"
            )
            _executors[key] = executor
        return executor


@dataclass
class Attempt:
    """One HTTP request and its outcome: `result` or `error` (an IOApiError, or
    ServiceKeyUnavailableError when no request was made). `after_switch`: a retry made
    because the key was switched (a 401 then means both keys are refused)."""

    service: IOService
    slot: str
    result: Any = None
    error: Exception | None = None
    after_switch: bool = False
    late: bool = False  # not sent: its token's moment had passed (`send`)

    @property
    def call(self) -> CallInfo | None:
        if self.error is not None:
            return getattr(self.error, "call", None)
        return getattr(self.result, "call", None)


class Gateway:
    """The IO calls of one account in one run. Not shared between threads, except `send`."""

    def __init__(self, organization: Organization) -> None:
        self.organization_id = organization.pk
        self.limit = organization.rate_limit
        self.concurrency = concurrency_for(self.limit)
        self.pool = connection_pool(self.organization_id, self.concurrency)
        # The run's counters, logged when it ends: calls, 429s, "late" (reserved, not sent),
        # limiter_ms (asking the limiter), asked_late_ms (the account's next call could have
        # been granted this long before the run asked: its budget unused meanwhile).
        self.stats: Counter[str] = Counter()
        self._services: dict[int, IOService] = {}
        self._clients: dict[tuple[int, str], IOClient] = {}
        self._clients_lock = threading.Lock()
        self._saw_failure = False
        self._confirmed: set[tuple[int, str]] = set()
        # Moments (time.monotonic) of calls the limiter reserved for this gateway, ascending.
        self._reserved: list[float] = []
        # The moment (time.monotonic) before which the limiter said it would grant nothing,
        # per priority: asking again before it costs a round trip (a write transaction with
        # the database limiter) and cannot be granted.
        self._no_token_until = {False: 0.0, True: 0.0}
        # Until this moment (time.monotonic) no request leaves: the account is paused for
        # IO's 429s; calls reserved before the pause and waiting for their moment wait more.
        self._hold_until = 0.0
        # The moment (time.monotonic) the limiter could have granted the account's next call
        # (after the last call reserved, or when it said it would grant one): asking later
        # leaves that budget unused (`stats["asked_late_ms"]`).
        self._next_due: float | None = None

    def key_confirmed(self, service: IOService) -> bool:
        """Has IO accepted the service's active key in this run? Until then a caller keeps one
        call in flight per service, so a revoked key costs one 401, not one per call."""
        return (service.pk, service.active_slot) in self._confirmed

    def service(self, service: IOService) -> IOService:
        """The gateway's one instance of `service`: a key switch is seen by every later call."""
        return self._services.setdefault(service.pk, service)

    # tokens ---------------------------------------------------------------------------------

    def try_token(self, *, low_priority: bool = False, wanted: int = 1) -> float:
        """0.0 when a token was taken (exactly one call may be made now), else seconds to wait.

        `wanted`: calls the caller is about to make; the limiter then reserves up to that many
        in one round trip, each at its own moment a few ms apart (`limiter.take_tokens`). A
        reserved call is made at, not before, its moment; one not made within TOKEN_KEEP of
        it is dropped (lost budget rather than calls bunched past the limiter's spread)."""
        now = time.monotonic()
        wait = self._reserve(now, low_priority=low_priority, wanted=wanted, horizon=0.1)
        if wait > 0:
            return wait
        due, now = self._reserved[0], time.monotonic()
        if due > now:
            return due - now
        self._reserved.pop(0)
        return 0.0

    def _reserve(self, now: float, *, low_priority: bool, wanted: int, horizon: float) -> float:
        """Drop the reserved calls whose moment passed; with none left, ask the limiter for up
        to `wanted` calls due within `horizon` s. 0.0 when a call is reserved, else the wait."""
        while self._reserved and now - self._reserved[0] > TOKEN_KEEP:
            self._reserved.pop(0)
        if self._reserved:
            return 0.0
        # A submission's turn comes no later than a poll's, so a poll waits for both.
        until = max(self._no_token_until[False], self._no_token_until[low_priority])
        if until > now:
            return until - now
        delays, wait = limiter.take_tokens(
            organization_id=self.organization_id,
            limit=self.limit,
            count=1 if low_priority else max(1, wanted),
            horizon=horizon,
            low_priority=low_priority,
        )
        # The delays count from the limiter's clock reading, taken after its lock was
        # acquired: from the answer's arrival, not from `now` before the round trip, which
        # (waiting for the lock) would send the calls early by the wait, past the window's
        # margin.
        answered = time.monotonic()
        self.stats["limiter_ms"] += round((answered - now) * 1000)
        if not delays:
            self._no_token_until[low_priority] = answered + wait
            if not low_priority:
                self._next_due = answered + wait
            return wait
        if not low_priority:
            if self._next_due is not None and now > self._next_due:
                self.stats["asked_late_ms"] += round((now - self._next_due) * 1000)
            self._next_due = answered + delays[-1] + sending_settings().rate_window / self.limit
        self._reserved = [answered + delay for delay in delays]
        return 0.0

    def calls_per_reservation(self) -> int:
        """At most how many calls one reservation (`next_token`) gives: TOKEN_HORIZON s of the
        account's rate, and the pacing's tolerance."""
        return math.ceil(TOKEN_HORIZON * self.limit / sending_settings().rate_window) + 2

    def may_ask_now(self, *, low_priority: bool = False) -> bool:
        """Has a call reserved, or may ask the limiter now (it announced no wait still
        running)? False while asking could not be granted (`_no_token_until`)."""
        if self.has_reserved():
            return True
        now = time.monotonic()
        until = max(self._no_token_until[False], self._no_token_until[low_priority])
        return until <= now

    def has_reserved(self) -> bool:
        """Is a call reserved that `next_token` can hand out without asking the limiter?"""
        now = time.monotonic()
        return any(now - moment <= TOKEN_KEEP for moment in self._reserved)

    def reserve(self, *, wanted: int) -> float:
        """Ask the limiter for up to `wanted` calls due within TOKEN_HORIZON now, unless calls
        are reserved already (`next_token` then hands them out). Returns the wait announced
        when none was granted, else 0.0."""
        return self._reserve(
            time.monotonic(), low_priority=False, wanted=wanted, horizon=TOKEN_HORIZON
        )

    def next_token(self, *, low_priority: bool = False, wanted: int = 1) -> tuple[float, float]:
        """(moment, 0.0): a call reserved at `moment` (time.monotonic, at most TOKEN_HORIZON
        ahead), to be made at, not before, it (`send(at=moment)`); or (0.0, seconds to wait)
        when none is reserved. Like `try_token`, but the caller gets the calls of a whole
        reservation at once and can prepare them together (the run claims their submissions
        in one transaction): the limiter is asked for up to `wanted` calls due within
        TOKEN_HORIZON."""
        wait = self._reserve(
            time.monotonic(), low_priority=low_priority, wanted=wanted, horizon=TOKEN_HORIZON
        )
        if wait > 0:
            return 0.0, wait
        return self._reserved.pop(0), 0.0

    def take_token(self, *, low_priority: bool = False, max_wait: float | None = None) -> None:
        """Wait for a token; raises OutOfTime after `max_wait` seconds without one."""
        started = time.monotonic()
        while (wait := self.try_token(low_priority=low_priority)) > 0:
            if max_wait is not None and time.monotonic() - started + wait > max_wait:
                raise OutOfTime
            time.sleep(min(wait, MAX_TOKEN_SLEEP))

    # requests -------------------------------------------------------------------------------

    def _client(self, service: IOService, slot: str) -> IOClient:
        key = (service.pk, slot)
        client = self._clients.get(key)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(key)
                if client is None:
                    client = IOClient(
                        service_api_key(service=service, slot=slot),
                        base_url=service.io_api_base_url,
                        connect_timeout=settings.IO_API_CONNECT_TIMEOUT,
                        read_timeout=settings.IO_API_READ_TIMEOUT,
                        pool=self.pool,
                    )
                    self._clients[key] = client
        return client

    def send(
        self,
        service: IOService,
        operation: Callable[[IOClient], Any],
        *,
        slot: str | None = None,
        after_switch: bool = False,
        at: float = 0.0,
    ) -> Attempt:
        """Make one HTTP request with the service's active key (or `slot`), not before `at`
        (time.monotonic: the moment its token was reserved for); the token must have been
        taken. No database access: safe in any thread. Never raises for IO's answers: they
        are in the Attempt."""
        # A call reserved before a pause for IO's 429s (`settle`) waits for the pause's end.
        while (early := max(at, self._hold_until) - time.monotonic()) > 0:
            time.sleep(min(early, MAX_TOKEN_SLEEP))
        slot = slot or service.active_slot
        attempt = Attempt(service=service, slot=slot, after_switch=after_switch)
        if at and time.monotonic() > at + TOKEN_KEEP:
            # Its moment passed (a busy machine, a pause for IO's 429s): sent now it could
            # bunch with later calls past the limiter's margin. Nothing is sent; the caller
            # asks for a new token.
            attempt.late = True
            return attempt
        try:
            attempt.result = operation(self._client(service, slot))
        except (IOApiError, ServiceKeyUnavailableError) as exc:
            attempt.error = exc
        return attempt

    def api_call(self, attempt: Attempt, *, delivery_id: int | None) -> ApiCall | None:
        """The ApiCall row of an attempt (unsaved), or None when nothing was sent."""
        call = attempt.call
        if call is None:
            return None
        self.stats["calls"] += 1
        return ApiCall(
            # When the answer arrived: the row is written later, with its transition.
            created_at=timezone.now(),
            organization_id=self.organization_id,
            service_id=attempt.service.pk,
            delivery_id=delivery_id,
            operation=call.operation[:40],
            status_code=call.status_code,
            duration_ms=max(0, call.duration_ms),
            outcome=call.outcome[:40],
        )

    def settle(self, attempt: Attempt, *, fallback: bool = True) -> bool:
        """Feed an attempt's outcome to the limiter, the breaker and the service's keys.

        Returns True when the call should be made again with the service's (new) active key:
        IO refused the key (401, nothing processed) and the service has switched to the
        other one, here or in another worker. A 401 after the switch, or with no other key,
        marks the service "key problem". `fallback` False (the service check probes a given
        key): no switch."""
        error = attempt.error
        if isinstance(error, RateLimitedError):
            self.stats["429"] += 1
            # Calls reserved before IO's 429 must not go out during the pause the limiter may
            # now impose: ask the limiter again for the next one.
            self._reserved.clear()
            self._no_token_until = {False: 0.0, True: 0.0}
            verdict = limiter.rate_limited(
                organization_id=self.organization_id,
                limit=self.limit,
                retry_after=error.retry_after,
            )
            self.stats[f"429_{verdict}"] += 1
            if verdict in ("overrun", "foreign"):
                self._hold_until = time.monotonic() + error.retry_after
        elif isinstance(error, AmbiguousError | TransientError):
            self._saw_failure = True
            limiter.breaker_failure(organization_id=self.organization_id)
        elif self._saw_failure and (
            error is None or (isinstance(error, IOApiError) and error.call is not None)
        ):
            # IO answered (a refusal is an answer too): the account is reachable.
            limiter.breaker_success(organization_id=self.organization_id)
            self._saw_failure = False
        if not fallback:
            return False
        service = self.service(attempt.service)
        if isinstance(error, KeyRejectedError):
            return self._key_rejected(service, attempt)
        if error is None or (isinstance(error, IOApiError) and error.call is not None):
            self._confirmed.add((service.pk, attempt.slot))
            ioservice_key_worked(service=service, key_slot=attempt.slot)
        return False

    def _key_rejected(self, service: IOService, attempt: Attempt) -> bool:
        self.stats["401"] += 1
        if attempt.after_switch:
            ioservice_key_problem(service=service)
            return False
        if service.active_slot != attempt.slot:
            return True  # already switched by an earlier call of this batch
        if service.key_problem:
            return False
        other = IOService.other_slot(attempt.slot)
        service.refresh_from_db(fields=[f"{other}_key_encrypted", "active_slot"])
        if service.active_slot != attempt.slot:
            return True  # switched by another worker
        if not service.has_key(other):
            ioservice_key_problem(service=service)
            return False
        ioservice_key_rejected(service=service, key_slot=attempt.slot)
        return service.active_slot != attempt.slot

    # one synchronous call -------------------------------------------------------------------

    def call(
        self,
        service: IOService,
        operation: Callable[[IOClient], T],
        *,
        delivery_id: int | None = None,
        low_priority: bool = False,
        max_wait: float | None = None,
        slot: str | None = None,
    ) -> T:
        """One IO call, start to end: token, request, ApiCall rows (written at once), limiter
        and breaker feedback, one retry with the other key after a 401 (unless `slot` is
        given: then that key only). Returns the operation's result or raises its IOApiError
        (ServiceKeyUnavailableError when the key cannot be read; OutOfTime when no token came
        within `max_wait`)."""
        service = self.service(service)
        after_switch = False
        while True:
            self.take_token(low_priority=low_priority, max_wait=max_wait)
            attempt = self.send(service, operation, slot=slot, after_switch=after_switch)
            row = self.api_call(attempt, delivery_id=delivery_id)
            if row is not None:
                row.save()
            again = self.settle(attempt, fallback=slot is None)
            if attempt.error is None:
                return attempt.result
            if not again:
                raise attempt.error
            after_switch = True


def gateway_for(organization: Organization | int) -> Gateway:
    """A gateway for the account of `organization` (an instance or its id)."""
    if not isinstance(organization, Organization):
        organization = Organization.objects.get(pk=organization)
    return Gateway(organization)


def probe_profile(
    service: IOService, slot: str, fiscal_code: str, max_wait: float
) -> Profile | None:
    """The service check's profile call (`ioservices.services.checks`), through the account's
    gateway with the key of `slot`, no key switch: the profile, or None when no token came
    within `max_wait` seconds. Raises IOApiError as IO answered."""
    try:
        result: Profile = gateway_for(service.organization).call(
            service, get_profile(fiscal_code), slot=slot, max_wait=max_wait
        )
    except OutOfTime:
        return None
    return result
