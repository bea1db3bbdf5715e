"""The account worker: claims small batches of one IO account's deliveries and sends them.

One run lasts at most SENDING_TASK_BUDGET seconds (well under django-q2's `timeout`, so the
queue's own SIGALRM never interrupts an IO call), holds one of the account's worker slots,
and takes every IO call's token from the account's shared limiter first.
"""

import logging
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import TypeVar

from django.db import transaction
from django.db.models import Min, Q

from ioportal.accounts.models import Organization
from ioportal.core import crypto
from ioportal.core.fiscalcode import reveal_fiscal_code
from ioportal.core.io_texts import describe_io_error, field_error_text
from ioportal.ioapi import (
    AmbiguousError,
    IOApiError,
    IOClient,
    KeyRejectedError,
    MessageInfo,
    NewMessage,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    ThirdPartyData,
    TransientError,
    validate_new_message,
)
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ServiceKeyUnavailableError, call_with_key_fallback
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.recipients import testmode
from ioportal.recipients.rendering import delivery_message
from ioportal.remotecontent.services import RemoteContentNotConfigured, third_party_data_for
from ioportal.sending import claims, clock, feed, limiter, outcomes, transitions
from ioportal.sending.conf import sending_settings
from ioportal.sending.models import ApiCall, WorkerSlot

logger = logging.getLogger(__name__)
S = Delivery.State
T = TypeVar("T")
# Sleep at most this long between attempts to take a token, so a pause acts quickly.
MAX_TOKEN_SLEEP = 0.5
# With nothing due, wait for work due within this many seconds instead of exiting.
LOOKAHEAD = 10.0


def _get_message(client: IOClient, *, fiscal_code: str, message_id: str) -> MessageInfo:
    return client.get_message(fiscal_code, message_id)


class OutOfTime(Exception):
    """The run's budget ended while waiting for a token: nothing was sent."""


def build_message(delivery: Delivery, fiscal_code: str) -> NewMessage:
    """IO's message for `delivery`, built by messaging's one builder."""
    # Premium attachments: IO fetches them from the portal's remote-content server. Raises
    # RemoteContentNotConfigured when the service cannot serve them.
    third_party = third_party_data_for(delivery)
    return delivery_message(
        delivery,
        fiscal_code,
        third_party_data=ThirdPartyData(**third_party) if third_party else None,
    )


# -- worker slots -----------------------------------------------------------------------------


def free_slots(*, organization_id: int) -> int:
    """How many more account workers may start now."""
    k = sending_settings().workers_per_account
    busy = WorkerSlot.objects.filter(
        organization_id=organization_id, lease_until__gte=clock.now(), number__lt=k
    ).count()
    return max(0, k - busy)


def take_slot(*, organization_id: int, holder: uuid.UUID) -> int | None:
    conf = sending_settings()
    now = clock.now()
    for number in range(conf.workers_per_account):
        WorkerSlot.objects.get_or_create(organization_id=organization_id, number=number)
        if (
            WorkerSlot.objects.filter(organization_id=organization_id, number=number)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(holder=holder, lease_until=now + timedelta(seconds=conf.lease_seconds))
        ):
            return number
    return None


def renew_slot(*, holder: uuid.UUID) -> None:
    WorkerSlot.objects.filter(holder=holder).update(
        lease_until=clock.now() + timedelta(seconds=sending_settings().lease_seconds)
    )


def release_slot(*, holder: uuid.UUID) -> None:
    WorkerSlot.objects.filter(holder=holder).update(holder=None, lease_until=None)


# -- pausing ----------------------------------------------------------------------------------


def pause_service_dispatches(*, service: IOService, code: str) -> int:
    """Pause every running dispatch of `service` (key refused or unreadable). Audited."""
    from ioportal.sending.services import dispatch_auto_pause

    paused = 0
    for dispatch in Dispatch.objects.filter(service=service, state=Dispatch.State.RUNNING):
        paused += dispatch_auto_pause(dispatch=dispatch, reason=str(outcomes.TEXTS[code]))
    return paused


# -- the run ----------------------------------------------------------------------------------


class AccountRun:
    def __init__(self, organization: Organization, *, budget: float) -> None:
        self.organization = organization
        self.limit = organization.rate_limit
        self.worker = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.deadline = time.monotonic() + budget
        # Waiting for a token may run a little past the budget, never up to the task timeout.
        self.hard_deadline = self.deadline + 30
        self.stats: Counter[str] = Counter()
        self.saw_failure = False

    # IO calls ------------------------------------------------------------------------------

    def wait_token(self, *, low_priority: bool, max_wait: float | None = None) -> None:
        started = time.monotonic()
        while True:
            wait = limiter.take_token(
                organization_id=self.organization.pk, limit=self.limit, low_priority=low_priority
            )
            if wait <= 0:
                return
            now = time.monotonic()
            if now > self.hard_deadline or (max_wait is not None and now - started > max_wait):
                raise OutOfTime
            time.sleep(min(wait, MAX_TOKEN_SLEEP))

    def io_call(
        self,
        *,
        service: IOService,
        delivery: Delivery | None,
        fn: Callable[[IOClient], T],
        low_priority: bool = False,
        max_wait: float | None = None,
        prepaid: bool = False,
    ) -> T:
        """One IO call through the service's key (401 fallback), each HTTP request paid with a
        token (`prepaid`: the first one was taken by the caller); records an ApiCall row and
        feeds the breaker and the limiter."""
        unpaid_first = [prepaid]

        def call(client: IOClient) -> T:
            if unpaid_first and unpaid_first.pop():
                return fn(client)
            self.wait_token(low_priority=low_priority, max_wait=max_wait)
            return fn(client)

        try:
            result = call_with_key_fallback(service=service, call=call)
        except IOApiError as exc:
            self.record(service, delivery, exc.call)
            if isinstance(exc, RateLimitedError):
                self.stats["429"] += 1
                kind = limiter.rate_limited(
                    organization_id=self.organization.pk,
                    limit=self.limit,
                    retry_after=exc.retry_after,
                )
                self.stats[f"429_{kind}"] += 1
            elif isinstance(exc, AmbiguousError | TransientError):
                self.saw_failure = True
                limiter.breaker_failure(organization_id=self.organization.pk)
            raise
        self.record(service, delivery, getattr(result, "call", None))
        if self.saw_failure:
            limiter.breaker_success(organization_id=self.organization.pk)
            self.saw_failure = False
        return result

    def record(self, service: IOService, delivery: Delivery | None, call: object) -> None:
        if call is None:
            return
        self.stats["calls"] += 1
        ApiCall.objects.create(
            organization_id=self.organization.pk,
            service=service,
            delivery=delivery,
            operation=call.operation[:40],  # type: ignore[attr-defined]
            status_code=call.status_code,  # type: ignore[attr-defined]
            duration_ms=max(0, call.duration_ms),  # type: ignore[attr-defined]
            outcome=call.outcome[:40],  # type: ignore[attr-defined]
        )

    # main loop -----------------------------------------------------------------------------

    def run(self) -> dict[str, int]:
        holder = uuid.uuid4()
        if take_slot(organization_id=self.organization.pk, holder=holder) is None:
            return {"no_slot": 1}
        conf = sending_settings()
        try:
            while time.monotonic() < self.deadline:
                renew_slot(holder=holder)
                allowed, probe = limiter.breaker_allows(organization_id=self.organization.pk)
                if not allowed:
                    self.stats["breaker_open"] += 1
                    break
                batch = 1 if probe else conf.batch_size
                token, ids = claims.claim_work(
                    organization_id=self.organization.pk, worker=self.worker, limit=batch
                )
                if ids:
                    self.process_batch(token, ids)
                    continue
                token, ids = claims.claim_polls(
                    organization_id=self.organization.pk, worker=self.worker, limit=batch
                )
                if ids:
                    self.poll_batch(token, ids)
                    continue
                if not self.wait_for_due_work():
                    break
        finally:
            release_slot(holder=holder)
        return dict(self.stats)

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
        moments = [m for m in (next_retry, next_poll) if m is not None]
        if not moments:
            return False
        wait = (min(moments) - clock.now()).total_seconds()
        if wait > LOOKAHEAD or time.monotonic() + wait > self.deadline:
            return False
        time.sleep(max(0.2, wait))
        return True

    def process_batch(self, token: uuid.UUID, ids: list[int]) -> None:
        deliveries = Delivery.objects.filter(pk__in=ids, claim_token=token).select_related(
            "dispatch", "dispatch__service", "dispatch__service__organization"
        )
        for position, delivery in enumerate(deliveries.order_by("id")):
            try:
                if delivery.state == S.CHECKING and not self.check(delivery, token):
                    continue
                self.submit(delivery, token)
            except OutOfTime:
                for rest in ids[position:]:
                    transitions.release(delivery_id=rest, token=token)
                return

    # recipient check -----------------------------------------------------------------------

    def check(self, delivery: Delivery, token: uuid.UUID) -> bool:
        """CHECKING → READY (True) or SKIPPED / RETRY_WAIT / FAILED (False)."""
        service = delivery.dispatch.service
        try:
            fiscal_code = reveal_fiscal_code(delivery.fiscal_code_encrypted)
        except crypto.DecryptionError:
            transitions.fail(
                delivery_id=delivery.pk,
                token=token,
                from_state=S.CHECKING,
                code=outcomes.CF_UNREADABLE,
            )
            return False
        # Test mode: IO would answer 403 for a recipient the service is not authorised for.
        if testmode.skipped_in_test_mode(service, fiscal_code):
            transitions.check_skipped(
                delivery_id=delivery.pk, token=token, reason=outcomes.NOT_AUTHORIZED
            )
            self.stats["skipped"] += 1
            self.stats["test_mode_skipped"] += 1
            return False
        # Services with feed access: consent known from the subscriptions feed saves the call.
        known = feed.known_consent(service=service, fiscal_code=fiscal_code)
        if known is not None:
            self.stats["feed_known"] += 1
            if known:
                return transitions.check_passed(delivery_id=delivery.pk, token=token)
            transitions.check_skipped(delivery_id=delivery.pk, token=token, reason=outcomes.BLOCKED)
            self.stats["skipped"] += 1
            return False
        try:
            profile = self.io_call(
                service=service, delivery=delivery, fn=lambda c: c.get_profile(fiscal_code)
            )
        except (KeyRejectedError, ServiceKeyUnavailableError) as exc:
            self.key_problem(delivery, token, S.CHECKING, exc)
            return False
        except NotFoundError:
            transitions.check_skipped(
                delivery_id=delivery.pk, token=token, reason=outcomes.NOT_ON_IO
            )
            self.stats["skipped"] += 1
            return False
        except PermanentError as exc:
            if exc.is_recipient_forbidden:
                transitions.check_skipped(
                    delivery_id=delivery.pk, token=token, reason=outcomes.NOT_AUTHORIZED
                )
                self.stats["skipped"] += 1
            else:
                self.permanent(delivery, token, S.CHECKING, outcomes.FORBIDDEN, exc)
            return False
        except RateLimitedError as exc:
            transitions.retry_later(
                delivery=delivery,
                token=token,
                from_state=S.CHECKING,
                code=outcomes.RATE_LIMITED,
                retry_after=exc.retry_after,
                count_attempt=False,
            )
            return False
        except IOApiError as exc:  # transient or ambiguous: a profile read is safe to retry
            transitions.retry_later(
                delivery=delivery,
                token=token,
                from_state=S.CHECKING,
                code=outcomes.TRANSIENT,
                detail=describe_io_error(exc),
            )
            self.stats["retry"] += 1
            return False
        if not profile.sender_allowed:
            transitions.check_skipped(delivery_id=delivery.pk, token=token, reason=outcomes.BLOCKED)
            self.stats["skipped"] += 1
            return False
        return transitions.check_passed(delivery_id=delivery.pk, token=token)

    # submission ----------------------------------------------------------------------------

    def submit(self, delivery: Delivery, batch_token: uuid.UUID) -> None:
        service = delivery.dispatch.service
        try:
            fiscal_code = reveal_fiscal_code(delivery.fiscal_code_encrypted)
        except crypto.DecryptionError:
            fiscal_code = ""
        try:
            message = build_message(delivery, fiscal_code) if fiscal_code else None
        except RemoteContentNotConfigured as exc:
            transitions.fail(
                delivery_id=delivery.pk,
                token=batch_token,
                from_state=S.READY,
                code=outcomes.INVALID_CONTENT,
                detail=str(exc),
            )
            self.stats["failed"] += 1
            return
        max_amount = service.effective_max_payment_amount
        errors = (
            validate_new_message(message, max_allowed_payment_amount=max_amount) if message else []
        )
        if message is None or errors:
            code = outcomes.CF_UNREADABLE if message is None else outcomes.INVALID_CONTENT
            if (
                message is not None
                and delivery.payment_amount
                and delivery.payment_amount > max_amount
            ):
                code = outcomes.AMOUNT_OVER_MAX
            detail = " ".join(field_error_text(e) for e in errors)
            # READY is claimed by this worker; fail it through SUBMITTING's sibling guard.
            transitions.fail(
                delivery_id=delivery.pk,
                token=batch_token,
                from_state=S.READY,
                code=code,
                detail=detail,
            )
            self.stats["failed"] += 1
            return
        # Wait for the token before claiming: the claim then precedes the call by milliseconds,
        # and a pause or cancel during the wait stops this submission.
        self.wait_token(low_priority=False)
        token = claims.claim_submission(delivery_id=delivery.pk, token=batch_token)
        if token is None:
            transitions.release(delivery_id=delivery.pk, token=batch_token)
            return
        delivery.refresh_from_db(fields=["attempts", "first_attempt_at", "state"])
        try:
            created = self.io_call(
                service=service,
                delivery=delivery,
                fn=lambda c: c.submit_message(message, max_allowed_payment_amount=max_amount),
                prepaid=True,
            )
        except (KeyRejectedError, ServiceKeyUnavailableError) as exc:
            self.key_problem(delivery, token, S.SUBMITTING, exc)
            return
        except RateLimitedError as exc:
            transitions.retry_later(
                delivery=delivery,
                token=token,
                from_state=S.SUBMITTING,
                code=outcomes.RATE_LIMITED,
                retry_after=exc.retry_after,
                count_attempt=False,
            )
            return
        except AmbiguousError as exc:
            transitions.uncertain(
                delivery_id=delivery.pk, token=token, code=outcomes.AMBIGUOUS, detail=str(exc)[:500]
            )
            self.stats["uncertain"] += 1
            return
        except TransientError as exc:
            if exc.maybe_processed and not sending_settings().lenient_5xx:
                transitions.uncertain(
                    delivery_id=delivery.pk,
                    token=token,
                    code=outcomes.SERVER_ERROR,
                    detail=str(exc)[:500],
                )
                self.stats["uncertain"] += 1
            else:
                transitions.retry_later(
                    delivery=delivery,
                    token=token,
                    from_state=S.SUBMITTING,
                    code=outcomes.TRANSIENT,
                    detail=describe_io_error(exc),
                )
                self.stats["retry"] += 1
            return
        except PermanentError as exc:
            code = outcomes.FORBIDDEN
            if exc.title == "Error while sending payment metadata":
                code = outcomes.AMOUNT_OVER_MAX
            elif exc.status_code == 400:
                code = outcomes.CONTENT_REFUSED
            if exc.is_recipient_forbidden:
                code = outcomes.NOT_AUTHORIZED
            self.permanent(delivery, token, S.SUBMITTING, code, exc)
            return
        if transitions.submitted(delivery_id=delivery.pk, token=token, io_message_id=created.id):
            self.stats["submitted"] += 1

    # outcomes --------------------------------------------------------------------------------

    def permanent(
        self, delivery: Delivery, token: uuid.UUID, from_state: str, code: str, exc: IOApiError
    ) -> None:
        if (
            from_state == S.CHECKING
            and isinstance(exc, PermanentError)
            and exc.is_recipient_forbidden
        ):
            code = outcomes.NOT_AUTHORIZED
        if code == outcomes.NOT_AUTHORIZED:
            Delivery.objects.filter(pk=delivery.pk, state=from_state, claim_token=token).update(
                state=S.SKIPPED,
                skip_reason=code,
                finished_at=clock.now(),
                claim_token=None,
                lease_until=None,
            )
            self.stats["skipped"] += 1
            return
        transitions.fail(
            delivery_id=delivery.pk,
            token=token,
            from_state=from_state,
            code=code,
            detail=describe_io_error(exc),
        )
        self.stats["failed"] += 1
        from ioportal.sending.services import dispatch_check_failure_rate

        dispatch_check_failure_rate(dispatch_id=delivery.dispatch_id)

    def key_problem(
        self, delivery: Delivery, token: uuid.UUID, from_state: str, exc: Exception
    ) -> None:
        """IO refused every key (or none is readable): nothing was processed. The delivery
        waits (not counted as an attempt) and the service's dispatches pause."""
        code = (
            outcomes.KEY_REJECTED if isinstance(exc, KeyRejectedError) else outcomes.KEY_UNAVAILABLE
        )
        with transaction.atomic():
            transitions.retry_later(
                delivery=delivery,
                token=token,
                from_state=from_state,
                code=code,
                count_attempt=False,
            )
            pause_service_dispatches(service=delivery.dispatch.service, code=code)

    # status refresh --------------------------------------------------------------------------

    def poll_batch(self, token: uuid.UUID, ids: list[int]) -> None:
        deliveries = list(
            Delivery.objects.filter(pk__in=ids, claim_token=token)
            .select_related("dispatch", "dispatch__service", "dispatch__service__organization")
            .order_by("id")
        )
        for position, delivery in enumerate(deliveries):
            try:
                fiscal_code = reveal_fiscal_code(delivery.fiscal_code_encrypted)
            except crypto.DecryptionError:
                transitions.poll_failed(delivery=delivery, token=token)
                continue
            message_id = delivery.io_message_id or ""
            try:
                info = self.io_call(
                    service=delivery.dispatch.service,
                    delivery=delivery,
                    fn=partial(_get_message, fiscal_code=fiscal_code, message_id=message_id),
                    low_priority=True,
                    max_wait=5.0,
                )
            except OutOfTime:
                for rest in deliveries[position:]:
                    transitions.release(delivery_id=rest.pk, token=token)
                return
            except RateLimitedError as exc:
                transitions.poll_failed(delivery=delivery, token=token, retry_after=exc.retry_after)
                continue
            except (IOApiError, ServiceKeyUnavailableError):
                transitions.poll_failed(delivery=delivery, token=token)
                continue
            transitions.polled(delivery=delivery, token=token, info=info)
            self.stats["polled"] += 1


def run_account_worker(*, organization_id: int, budget: float | None = None) -> dict[str, int]:
    """Send the due deliveries of one IO account for up to `budget` seconds.

    Side effects: IO calls (profile, submission, status), Delivery transitions, ApiCall rows.
    Safe to run any number of times concurrently and after a crash: every delivery is claimed
    before its call, and at most SENDING_WORKERS_PER_ACCOUNT runs work at once (the others
    return at once). Returns counters of what it did.
    """
    organization = Organization.objects.get(pk=organization_id)
    conf = sending_settings()
    return AccountRun(organization, budget=conf.task_budget if budget is None else budget).run()


def has_due_work(*, organization_id: int) -> bool:
    now = clock.now()
    return (
        claims.work_queryset(organization_id=organization_id, now=now).exists()
        or claims.poll_queryset(organization_id=organization_id, now=now).exists()
    )
