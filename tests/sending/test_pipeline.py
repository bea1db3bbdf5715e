"""The account worker against a mocked IO (`responses`): classification and transitions."""

import json
import logging
import re
import uuid
from typing import Any

import pytest
import requests
import responses
from django.core.checks import Error
from django.test import override_settings
from django.utils import timezone

from ioportal.accounts.models import Membership, Organization
from ioportal.core.errors import NotAllowed
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.sending import checks, claims, limiter, outcomes, services, transitions
from ioportal.sending.conf import sending_settings
from ioportal.sending.models import AccountState, ApiCall
from ioportal.sending.runner import run_account_worker
from ioportal.sending.sweeper import reap_expired_claims, sweep
from ioportal.sending.worker import AccountRun
from tests import builders
from tests.sending.support import fiscal_codes, simulated_service

IO = "https://api.io.pagopa.it/api/v1"
PROFILES = f"{IO}/profiles"
MESSAGES = f"{IO}/messages"


@pytest.fixture(autouse=True)
def _db_limiter(settings: Any) -> None:
    settings.SENDING_LIMITER = "db"
    settings.SENDING_AUTOPAUSE_MIN = 1000


class _LongestJitter:
    @staticmethod
    def uniform(low: float, high: float) -> float:
        return high


@pytest.fixture(autouse=True)
def _longest_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff at its ceiling: a retry never falls inside a test's short worker run (full
    jitter could draw a delay near zero and make the counts of attempts random)."""
    monkeypatch.setattr(transitions, "random", _LongestJitter)


@pytest.fixture
def dispatch(organization: Organization) -> Dispatch:
    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(organization, **simulated_service(""))
    return builders.dispatch(service, user, fiscal_codes(1))


def run(dispatch: Dispatch) -> Delivery:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
        run_account_worker(organization_id=dispatch.organization_id, budget=2)
    return Delivery.objects.get(dispatch=dispatch)


def profile_ok(rsps: responses.RequestsMock, allowed: bool = True) -> None:
    rsps.post(PROFILES, json={"sender_allowed": allowed}, status=200)


@responses.activate
def test_reachable_citizen_is_submitted(dispatch: Dispatch) -> None:
    profile_ok(responses.mock)
    responses.post(MESSAGES, json={"id": "01JABCDEFGHJKMNPQRSTVWXYZ0"}, status=201)
    delivery = run(dispatch)
    assert delivery.state == "submitted"
    assert delivery.io_message_id == "01JABCDEFGHJKMNPQRSTVWXYZ0"
    assert delivery.next_poll_at is not None
    body = responses.calls[1].request.body
    assert b"Cittadino 1" in body and b"{{" not in body
    assert ApiCall.objects.filter(delivery=delivery).count() == 2
    # Never submitted again: nothing is claimable.
    assert not claims.work_queryset(organization_id=dispatch.organization_id).exists()


@pytest.mark.parametrize(
    ("profile", "reason"),
    [
        (
            {"status": 404, "json": {"title": "Profile not found", "status": 404}},
            outcomes.NOT_ON_IO,
        ),
        ({"status": 200, "json": {"sender_allowed": False}}, outcomes.BLOCKED),
        (
            {"status": 403, "json": {"title": "Recipient forbidden", "status": 403}},
            outcomes.NOT_AUTHORIZED,
        ),
    ],
)
@responses.activate
def test_not_reachable_is_skipped_with_reason(
    dispatch: Dispatch, profile: dict, reason: str
) -> None:
    responses.post(PROFILES, **profile)
    delivery = run(dispatch)
    assert (delivery.state, delivery.skip_reason) == ("skipped", reason)
    assert outcomes.describe_delivery(delivery) == str(outcomes.TEXTS[reason])


@pytest.mark.parametrize(
    ("submission", "state", "code"),
    [
        (
            {"body": requests.exceptions.ReadTimeout("read timed out")},
            "uncertain",
            outcomes.AMBIGUOUS,
        ),
        (
            {"status": 500, "json": {"title": "Internal server error"}},
            "uncertain",
            outcomes.SERVER_ERROR,
        ),
        ({"body": requests.exceptions.ConnectTimeout("connect")}, "retry_wait", outcomes.TRANSIENT),
        (
            {
                "status": 400,
                "json": {"title": "Error while sending payment metadata", "status": 400},
            },
            "failed",
            outcomes.AMOUNT_OVER_MAX,
        ),
        (
            {"status": 400, "json": {"title": "Invalid message structure"}},
            "failed",
            outcomes.CONTENT_REFUSED,
        ),
    ],
)
@responses.activate
def test_submission_outcomes(dispatch: Dispatch, submission: dict, state: str, code: str) -> None:
    profile_ok(responses.mock)
    responses.post(MESSAGES, **submission)
    delivery = run(dispatch)
    assert (delivery.state, delivery.last_error_code) == (state, code)
    assert delivery.io_message_id is None
    if state == "uncertain":
        assert delivery.uncertain_since is not None
        assert len([c for c in responses.calls if c.request.url == MESSAGES]) == 1


@responses.activate
def test_lenient_5xx_policy_retries(dispatch: Dispatch, settings: Any) -> None:
    settings.SENDING_SUBMIT_5XX_POLICY = "lenient"
    profile_ok(responses.mock)
    responses.post(MESSAGES, status=503, json={"statusCode": 503, "message": "busy"})
    delivery = run(dispatch)
    assert (delivery.state, delivery.attempts) == ("retry_wait", 1)


@responses.activate
def test_an_isolated_429_delays_its_delivery_only(dispatch: Dispatch) -> None:
    profile_ok(responses.mock)
    responses.post(
        MESSAGES, status=429, json={"statusCode": 429}, headers={"x-rate-limit-retry-after": "7"}
    )
    before = timezone.now()
    delivery = run(dispatch)
    # The refused call waits IO's retry-after and is not an attempt ...
    assert (delivery.state, delivery.attempts) == ("retry_wait", 0)
    assert delivery.last_error_code == outcomes.RATE_LIMITED
    assert (delivery.next_attempt_at - before).total_seconds() >= 7
    # ... and the account goes on: no pause, the budget intact.
    state = AccountState.objects.get(organization_id=dispatch.organization_id)
    assert state.paused_until == 0 and state.rate_factor == 1
    assert state.last_429_at is not None
    assert limiter.take_token(organization_id=dispatch.organization_id, limit=150) < 0.1


@responses.activate
def test_repeated_429s_pause_the_account_and_slow_it_down(
    organization: Organization,
) -> None:
    user = builders.user(Membership.Role.OPERATOR, organization)
    dispatch = builders.dispatch(
        builders.service(organization, **simulated_service("")), user, fiscal_codes(4)
    )
    responses.post(PROFILES, json={"sender_allowed": True}, status=200)
    answers = iter(
        [(429, {"x-rate-limit-retry-after": "1"}, '{"statusCode": 429}')] * 2
        + [(201, {}, f'{{"id": "01JABCDEFGHJKMNPQRSTVWXY{n:02d}"}}') for n in range(10)]
    )
    responses.add_callback(responses.POST, MESSAGES, callback=lambda request: next(answers))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
        stats = run_account_worker(organization_id=organization.pk, budget=3)
    # The second 429 among 4 calls of ours is not isolated: IO counts calls we did not make.
    assert stats["429_isolated"] == 1 and stats["429_foreign"] == 1
    state = AccountState.objects.get(organization_id=organization.pk)
    assert state.paused_until > 0
    assert state.rate_factor == limiter.MIN_FACTOR  # IO accepted 2 of our 147-call budget
    # Every worker waited IO's wait before the next call.
    calls = list(
        ApiCall.objects.filter(organization=organization)
        .order_by("id")
        .values_list("status_code", "created_at")
    )
    after = [i for i, (status, _at) in enumerate(calls) if status == 429][-1]
    assert (calls[after + 1][1] - calls[after][1]).total_seconds() >= 0.9
    # The two refused ones wait their turn (or were sent after it), not counted as attempts.
    deliveries = Delivery.objects.filter(dispatch=dispatch)
    assert {d.state for d in deliveries} <= {"retry_wait", "submitted"}
    assert sum(d.state == "submitted" for d in deliveries) >= 2
    assert {d.attempts for d in deliveries if d.state == "retry_wait"} <= {0}


@responses.activate
def test_test_mode_skips_unauthorised_recipients_without_calling_io(
    organization: Organization,
) -> None:
    user = builders.user(Membership.Role.OPERATOR, organization)
    codes = fiscal_codes(3)
    service = builders.service(
        organization,
        **{**simulated_service(""), "test_mode": True, "authorized_recipients": [codes[0]]},
    )
    dispatch = builders.dispatch(service, user, [*codes, "AAAAAA00A00A000A"])
    profile_ok(responses.mock)
    ids = iter(f'{{"id": "01JABCDEFGHJKMNPQRSTVWXY{n:02d}"}}' for n in range(10))
    responses.add_callback(responses.POST, MESSAGES, callback=lambda r: (201, {}, next(ids)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
        stats = run_account_worker(organization_id=organization.pk, budget=2)
    states = {
        d.fiscal_code_masked: (d.state, d.skip_reason)
        for d in Delivery.objects.filter(dispatch=dispatch)
    }
    assert sorted(states.values()) == [
        ("skipped", outcomes.NOT_AUTHORIZED),
        ("skipped", outcomes.NOT_AUTHORIZED),
        ("submitted", ""),
        ("submitted", ""),  # the sandbox citizen: authorised for every service
    ]
    assert stats["test_mode_skipped"] == 2
    # Two profile calls and two submissions: none for the unauthorised citizens.
    assert len(responses.calls) == 4
    assert ApiCall.objects.filter(organization=organization).count() == 4


@responses.activate
def test_401_on_both_keys_pauses_the_service_dispatches(dispatch: Dispatch) -> None:
    responses.post(PROFILES, status=401, json={"statusCode": 401, "message": "Access denied"})
    delivery = run(dispatch)
    dispatch.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("retry_wait", 0)
    assert dispatch.state == "paused" and dispatch.pause_parts
    assert len(responses.calls) == 2  # the active key, then the other one


def test_retries_stop_at_max_attempts(dispatch: Dispatch, settings: Any) -> None:
    settings.SENDING_MAX_ATTEMPTS = 2
    delivery = Delivery.objects.get(dispatch=dispatch)
    for expected in ("retry_wait", "failed"):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
        token, ids = claims.claim_work(
            organization_id=dispatch.organization_id, worker="t", limit=5
        )
        assert ids == [delivery.pk]
        delivery.refresh_from_db()
        transitions.retry_later(
            delivery=delivery, token=token, from_state="checking", code="transient"
        )
        delivery.refresh_from_db()
        assert delivery.state == expected
    assert delivery.last_error_code == outcomes.RETRIES_EXHAUSTED


def test_backoff_has_full_jitter_and_honours_retry_after() -> None:
    import random

    rng = random.Random(1)
    delays = [transitions.backoff_delay(attempts=3, rng=rng) for _ in range(200)]
    assert 0 <= min(delays) < 5 and max(delays) <= 40
    assert transitions.backoff_delay(attempts=0, retry_after=30, rng=rng) >= 30


def test_writes_are_fenced_on_the_claim(dispatch: Dispatch) -> None:
    token, ids = claims.claim_work(organization_id=dispatch.organization_id, worker="t", limit=5)
    assert not transitions.check_passed(delivery_id=ids[0], token=uuid.uuid4())
    assert transitions.check_passed(delivery_id=ids[0], token=token)
    # A second claim finds nothing: the READY row is leased by the first.
    assert claims.claim_work(organization_id=dispatch.organization_id, worker="u", limit=5)[1] == []
    new = claims.claim_submission(delivery_id=ids[0], token=token)
    assert new is not None and claims.claim_submission(delivery_id=ids[0], token=token) is None


def test_paused_dispatch_is_not_claimed_and_expired_submission_becomes_uncertain(
    dispatch: Dispatch, supervisor_user: Any
) -> None:
    token, ids = claims.claim_work(organization_id=dispatch.organization_id, worker="t", limit=5)
    transitions.check_passed(delivery_id=ids[0], token=token)
    services.dispatch_pause(dispatch=dispatch, actor=supervisor_user)
    assert claims.claim_submission(delivery_id=ids[0], token=token) is None
    services.dispatch_resume(dispatch=dispatch, actor=supervisor_user)
    assert claims.claim_submission(delivery_id=ids[0], token=token) is not None
    Delivery.objects.filter(pk=ids[0]).update(lease_until="2000-01-01T00:00:00Z")
    assert reap_expired_claims()["uncertain"] == 1
    delivery = Delivery.objects.get(pk=ids[0])
    assert (delivery.state, delivery.last_error_code) == ("uncertain", outcomes.LEASE_EXPIRED)


def test_uncertain_resolution_needs_confirmation_to_resend(
    dispatch: Dispatch, supervisor_user: Any
) -> None:
    from django.core.exceptions import ValidationError

    delivery = Delivery.objects.get(dispatch=dispatch)
    Delivery.objects.filter(pk=delivery.pk).update(state="uncertain")
    with pytest.raises(ValidationError):
        services.deliveries_resolve_uncertain(
            dispatch=dispatch,
            delivery_ids=[delivery.pk],
            decision="resend",
            actor=supervisor_user,
            confirmed=False,
        )
    assert (
        services.deliveries_resolve_uncertain(
            dispatch=dispatch,
            delivery_ids=[delivery.pk],
            decision="resend",
            actor=supervisor_user,
            confirmed=True,
        )
        == 1
    )
    assert Delivery.objects.get(pk=delivery.pk).state == "ready"


def test_sweep_completes_and_starts_dispatches(dispatch: Dispatch) -> None:
    from django.utils import timezone

    Delivery.objects.filter(dispatch=dispatch).update(state="skipped")
    scheduled = Dispatch.objects.create(
        organization=dispatch.organization,
        service=dispatch.service,
        title="dopo",
        subject="x" * 10,
        markdown="y" * 80,
        state="scheduled",
        scheduled_at=timezone.now(),
        created_by=dispatch.created_by,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
        result = sweep()
    assert result["completed"] >= 1 and result["started"] == 1
    dispatch.refresh_from_db()
    scheduled.refresh_from_db()
    assert dispatch.state == "completed"
    assert scheduled.state in ("running", "completed")


def test_cancel_cancels_what_was_not_started(dispatch: Dispatch, supervisor_user: Any) -> None:
    assert services.dispatch_cancel(dispatch=dispatch, actor=supervisor_user) == 1
    with pytest.raises(NotAllowed):
        services.dispatch_cancel(dispatch=dispatch, actor=supervisor_user)


@pytest.mark.parametrize(
    ("q_cluster", "ids"),
    [
        ({"timeout": 300, "retry": 600, "max_attempts": 1, "ack_failures": True}, []),
        ({"timeout": 300, "retry": 300, "max_attempts": 1, "ack_failures": True}, ["sending.E001"]),
        ({"timeout": 300, "retry": 600, "max_attempts": 0, "ack_failures": True}, ["sending.E002"]),
        ({"timeout": 300, "retry": 600, "max_attempts": 1}, ["sending.E003"]),
        ({"timeout": 90, "retry": 600, "max_attempts": 1, "ack_failures": True}, ["sending.E004"]),
    ],
)
def test_system_check_refuses_dangerous_q_cluster(q_cluster: dict, ids: list[str]) -> None:
    with override_settings(Q_CLUSTER=q_cluster, SENDING_TASK_BUDGET=60):
        errors = checks.check_q_cluster()
    assert [e.id for e in errors] == ids
    assert all(isinstance(e, Error) for e in errors)


@responses.activate
def test_key_switch_happens_once_and_the_batch_uses_the_new_key(
    organization: Organization,
) -> None:
    """Ten claimed deliveries, primary key revoked: one 401, every later call with the
    secondary key, and the refused call is an ApiCall row too."""
    from tests.sending.support import PRIMARY_KEY, SECONDARY_KEY

    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(organization, **simulated_service(""))
    dispatch = builders.dispatch(service, user, fiscal_codes(10))
    primary = responses.matchers.header_matcher({"Ocp-Apim-Subscription-Key": PRIMARY_KEY})
    responses.post(PROFILES, status=401, json={"message": "Access denied"}, match=[primary])
    responses.post(PROFILES, json={"sender_allowed": True})
    ids = iter(range(100))
    responses.add_callback(
        responses.POST,
        MESSAGES,
        callback=lambda request: (201, {}, f'{{"id": "01JABCDEFGHJKMNPQRSTVW{next(ids):04d}"}}'),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
        run_account_worker(organization_id=organization.pk, budget=5)
    keys = [c.request.headers["Ocp-Apim-Subscription-Key"] for c in responses.calls]
    assert keys.count(PRIMARY_KEY) == 1, keys
    assert keys.count(SECONDARY_KEY) == 20
    assert Delivery.objects.filter(dispatch=dispatch, state="submitted").count() == 10
    assert ApiCall.objects.filter(organization=organization, status_code=401).count() == 1
    assert ApiCall.objects.filter(organization=organization).count() == 21


@pytest.mark.django_db(transaction=True)
def test_dead_worker_slot_and_claims_are_released_by_the_heartbeat(
    organization: Organization,
) -> None:
    """A run killed mid-batch: once its slot's heartbeat lapses, the next look (a live run's
    heartbeat, a new run taking a slot, the sweeper) frees the slot, makes its submission
    UNCERTAIN (never re-sent) and its checks due again — long before the claims' lease."""
    from datetime import timedelta

    from django.utils import timezone

    from ioportal.sending import slots
    from ioportal.sending.models import WorkerSlot

    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(organization, **simulated_service(""))
    dispatch = builders.dispatch(service, user, fiscal_codes(3))
    dead = uuid.uuid4()
    assert slots.take_slot(organization_id=organization.pk, holder=dead) == 0
    token, ids = claims.claim_work(
        organization_id=organization.pk, worker=slots.worker_name(dead), limit=3
    )
    assert len(ids) == 3
    Delivery.objects.filter(pk=ids[0]).update(state="ready")
    assert claims.claim_submission(delivery_id=ids[0], token=token)
    # The heartbeat is still fresh: nothing is reaped.
    assert sweep()["dead_slots"] == 0
    WorkerSlot.objects.filter(holder=dead).update(lease_until=timezone.now() - timedelta(seconds=1))
    live = uuid.uuid4()
    assert slots.take_slot(organization_id=organization.pk, holder=live) is not None
    states = dict(Delivery.objects.filter(dispatch=dispatch).values_list("id", "state"))
    assert states == {ids[0]: "uncertain", ids[1]: "retry_wait", ids[2]: "retry_wait"}
    assert not Delivery.objects.filter(dispatch=dispatch, claim_token__isnull=False).exists()
    assert not WorkerSlot.objects.filter(holder=dead).exists()
    assert slots.heartbeat(organization_id=organization.pk, holder=live)
    assert not slots.heartbeat(organization_id=organization.pk, holder=dead)


def test_concurrency_follows_the_account_limit(settings: Any) -> None:
    from ioportal.sending.gateway import concurrency_for

    settings.SENDING_CONCURRENCY = 0
    assert (concurrency_for(150), concurrency_for(250), concurrency_for(5)) == (30, 50, 2)
    assert concurrency_for(100_000) == 64
    settings.SENDING_CONCURRENCY = 7
    assert concurrency_for(150) == 7


@responses.activate
def test_a_locked_database_while_writing_outcomes_is_written_again_without_resending(
    dispatch: Dispatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite under load: "database is locked" on the first write of the accepted
    submission's outcome. The transaction is written again (nothing in the run's memory
    changed with the rolled-back one): the delivery is SUBMITTED with IO's id, not
    UNCERTAIN, and IO got one submission."""
    from django.db import OperationalError

    from ioportal.sending import worker

    monkeypatch.setattr(worker, "LOCK_RETRY_PAUSE", 0.0)
    real = transitions.submitted_many
    locked: list[str] = []

    def locked_once(*, accepted: list, worker: str = "") -> set[int]:
        if accepted and not locked:
            locked.append("submission")
            raise OperationalError("database is locked")
        return real(accepted=accepted, worker=worker)

    monkeypatch.setattr(transitions, "submitted_many", locked_once)
    profile_ok(responses.mock)
    responses.post(MESSAGES, json={"id": "01JABCDEFGHJKMNPQRSTVWXYZ0"}, status=201)
    delivery = run(dispatch)
    assert locked == ["submission"]
    assert (delivery.state, delivery.io_message_id) == ("submitted", "01JABCDEFGHJKMNPQRSTVWXYZ0")
    assert [call.request.url for call in responses.calls] == [PROFILES, MESSAGES]
    assert ApiCall.objects.filter(delivery=delivery).count() == 2


def test_another_operational_error_is_not_retried(
    dispatch: Dispatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    from ioportal.sending import worker

    attempts: list[int] = []

    def broken() -> None:
        attempts.append(1)
        raise OperationalError("disk I/O error")

    with pytest.raises(OperationalError):
        worker.retry_when_locked(broken)
    assert attempts == [1]


def test_a_201_reaped_as_uncertain_is_written_submitted_for_its_own_run_only(
    dispatch: Dispatch,
) -> None:
    """The run waited on the lock past its heartbeat; another run reaped its slot and made
    the submission UNCERTAIN (lease_expired). IO's 201 the run holds proves IO has the
    message once: it is written SUBMITTED. Another run's 201 changes nothing."""
    from ioportal.sending import slots

    holder = uuid.uuid4()
    name = slots.worker_name(holder)
    token, ids = claims.claim_work(organization_id=dispatch.organization_id, worker=name, limit=1)
    new = claims.claim_submission(delivery_id=ids[0], token=token)
    assert new is not None
    slots.release_claims(holder=holder)
    assert Delivery.objects.get(pk=ids[0]).state == "uncertain"
    accepted = [(ids[0], new, "01JABCDEFGHJKMNPQRSTVWXYZ0")]
    assert transitions.submitted_many(accepted=accepted, worker="other:" + "0" * 32) == set()
    assert Delivery.objects.get(pk=ids[0]).state == "uncertain"
    assert transitions.submitted_many(accepted=accepted, worker=name) == {ids[0]}
    delivery = Delivery.objects.get(pk=ids[0])
    assert (delivery.state, delivery.io_message_id) == ("submitted", "01JABCDEFGHJKMNPQRSTVWXYZ0")
    assert delivery.uncertain_since is None


def test_a_call_whose_moment_has_passed_is_not_sent(organization: Organization) -> None:
    """A reserved call whose thread woke too late is not sent (it could bunch with later
    calls past the limiter's margin): the run asks for a new token."""
    import time

    from ioportal.sending.gateway import TOKEN_KEEP, Gateway, get_profile

    gateway = Gateway(organization)
    service = builders.service(organization, **simulated_service(""))
    with responses.RequestsMock() as rsps:
        rsps.post(PROFILES, json={"sender_allowed": True}, status=200)
        late = gateway.send(service, get_profile("RSSMRA80A01H501U"), at=time.monotonic() - 1)
        assert late.late and late.call is None and len(rsps.calls) == 0
        due = gateway.send(
            service, get_profile("RSSMRA80A01H501U"), at=time.monotonic() + TOKEN_KEEP / 2
        )
        assert not due.late and due.result.sender_allowed and len(rsps.calls) == 1


def test_reserved_moments_count_from_the_limiters_answer_not_from_the_question(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limiter's delays count from its own clock reading, taken once its lock is held.
    A round trip that waited 0.2 s for the lock must not make the calls leave 0.2 s early
    (they would bunch with the calls of the window before, past its margin: IO's 429)."""
    import time

    from ioportal.sending.gateway import Gateway

    clock = {"now": 100.0}
    monkeypatch.setattr(time, "monotonic", lambda: clock["now"])

    def slow_take(**kwargs: Any) -> tuple[list[float], float]:
        clock["now"] += 0.2  # waiting for the limiter's lock
        return [0.0, 0.04], 0.0

    monkeypatch.setattr(limiter, "take_tokens", slow_take)
    gateway = Gateway(organization)
    first, wait = gateway.next_token(wanted=2)
    second, _ = gateway.next_token(wanted=2)
    assert wait == 0.0
    assert (first, second) == (pytest.approx(100.2), pytest.approx(100.24))

    def no_token(**kwargs: Any) -> tuple[list[float], float]:
        clock["now"] += 0.2
        return [], 0.5

    monkeypatch.setattr(limiter, "take_tokens", no_token)
    clock["now"] = 101.0
    assert gateway.next_token()[1] == 0.5
    # Not asked again before the wait it announced, counted from its answer.
    clock["now"] = 101.6
    assert gateway.next_token()[1] == pytest.approx(0.1)


def test_a_run_counts_the_budget_it_left_unused_by_asking_the_limiter_late(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`asked_late_ms`: how long after the moment the limiter could have granted the
    account's next call the run asked for it (its budget unused meanwhile). Not counted
    while the limiter itself said to wait."""
    import time

    from ioportal.sending.gateway import Gateway

    clock = {"now": 100.0}
    monkeypatch.setattr(time, "monotonic", lambda: clock["now"])
    answers: list[tuple[list[float], float]] = [
        ([0.0, 0.1], 0.0),  # two calls, the next one due at 100.1 + 5 s / limit
        ([0.0], 0.0),
        ([], 0.5),  # at the budget: nothing before 0.5 s
        ([0.0], 0.0),
    ]
    monkeypatch.setattr(limiter, "take_tokens", lambda **kwargs: answers.pop(0))
    gateway = Gateway(organization)
    interval = 5.0 / gateway.limit
    gateway.next_token(wanted=2)
    gateway.next_token(wanted=2)
    assert gateway.stats["asked_late_ms"] == 0
    clock["now"] = 100.1 + interval + 0.25  # asked 250 ms after the next call was due
    gateway.next_token()
    assert gateway.stats["asked_late_ms"] == 250
    clock["now"] += 1.0
    assert gateway.next_token()[1] == 0.5  # waiting for the limiter is not lateness
    clock["now"] += 0.5
    gateway.next_token()
    assert gateway.stats["asked_late_ms"] == 250


def test_a_submission_claim_names_the_job_of_the_current_claim_only(dispatch: Dispatch) -> None:
    """A run may still hold a job of a delivery's expired claim (the sweeper made it
    RETRY_WAIT) next to the job of its new claim: claimed together, only the pair with the
    row's token is claimed, so the delivery is sent once."""
    org = dispatch.organization_id
    old, ids = claims.claim_work(organization_id=org, worker="t", limit=1)
    Delivery.objects.filter(pk=ids[0]).update(lease_until="2000-01-01T00:00:00Z")
    assert reap_expired_claims()["rechecked"] == 1
    new, again = claims.claim_work(organization_id=org, worker="t", limit=1)
    assert again == ids
    token, won = claims.claim_submissions(claimed=[(ids[0], old), (ids[0], new)])
    assert won == {(ids[0], new)}
    assert Delivery.objects.get(pk=ids[0]).claim_token == token
    # One id per row: the same answer without the per-row path.
    assert claims.claim_submissions(claimed=[(ids[0], new)])[1] == set()


@responses.activate
def test_a_claimed_submission_never_sent_is_given_back_as_ready(
    dispatch: Dispatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every submission's moment has passed when its thread gets to it (a starved machine):
    nothing is sent, it waits for a new token again and again, and at the end of the run its
    claim is given back as READY (not UNCERTAIN: no request was made)."""
    import time

    from ioportal.sending import worker

    original = worker.AccountRun.start

    def always_late(self: worker.AccountRun, job: worker.Job, at: float = 0.0) -> None:
        original(self, job, time.monotonic() - 1 if job.kind == "submit" else at)

    monkeypatch.setattr(worker.AccountRun, "start", always_late)
    profile_ok(responses.mock)
    delivery = run(dispatch)
    assert [call.request.url for call in responses.calls] == [PROFILES]
    assert (delivery.state, delivery.claim_token, delivery.io_message_id) == ("ready", None, None)


def test_each_worker_process_adopts_its_share_of_the_accounts() -> None:
    """20 accounts with due work and 2 worker processes: each process serves 11 (its task's
    account included, which the other process may serve too), not all 20; never more than
    SENDING_ACCOUNTS_PER_WORKER."""
    from ioportal.sending.runner import adoption_room

    assert adoption_room(serving=1, due=20, processes=2, per_process=32) == 10
    assert adoption_room(serving=11, due=20, processes=2, per_process=32) == 0
    assert adoption_room(serving=1, due=21, processes=2, per_process=32) == 11
    assert adoption_room(serving=1, due=20, processes=1, per_process=8) == 7
    assert adoption_room(serving=1, due=1, processes=2, per_process=32) == 1
    assert adoption_room(serving=3, due=2, processes=4, per_process=32) == 0


def test_an_account_is_unserved_when_no_live_run_holds_its_slot(
    organization: Organization,
) -> None:
    """Adoption takes accounts that no live run serves; a dead run's lapsed slot does not
    count as serving."""
    from datetime import timedelta

    from ioportal.sending import clock, slots
    from ioportal.sending.models import WorkerSlot

    holder = uuid.uuid4()
    assert slots.unserved(organization_id=organization.pk)
    assert slots.take_slot(organization_id=organization.pk, holder=holder) is not None
    assert not slots.unserved(organization_id=organization.pk)
    WorkerSlot.objects.filter(holder=holder).update(lease_until=clock.now() - timedelta(seconds=1))
    assert slots.unserved(organization_id=organization.pk)
    slots.release_slot(holder=holder)
    assert slots.unserved(organization_id=organization.pk)


def test_waking_an_account_again_does_not_pile_up_runs_in_the_queue(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweeper wakes every account with due work each minute, and every run wakes its
    account at its end: runs already waiting count, so the queue holds at most one per
    free worker slot (one when a live run serves the account), not a new batch each time,
    which made a list's preparation wait minutes behind redundant runs."""
    from ioportal.sending import clock, slots, triggers

    enqueued: list[int] = []
    monkeypatch.setattr(triggers, "async_task", lambda *args, **kwargs: enqueued.append(args[1]))
    free = sending_settings().workers_per_account
    triggers.wake_up(organization_id=organization.pk)
    assert len(enqueued) == free
    for _ in range(5):
        triggers.wake_up(organization_id=organization.pk)
    assert len(enqueued) == free
    # One run starts: one place is free again in the queue.
    triggers.run_started(organization_id=organization.pk)
    triggers.wake_up(organization_id=organization.pk)
    assert len(enqueued) == free + 1
    # A live run serves the account: one queued run is enough (it takes over at the end).
    for _ in range(free):
        triggers.run_started(organization_id=organization.pk)
    holder = uuid.uuid4()
    assert slots.take_slot(organization_id=organization.pk, holder=holder) is not None
    triggers.wake_up(organization_id=organization.pk)
    triggers.wake_up(organization_id=organization.pk)
    assert len(enqueued) == free + 2
    # Runs queued long ago were lost by the broker: they no longer count.
    AccountState.objects.filter(organization=organization).update(
        queued_runs_at=clock.time() - triggers.STALE_QUEUED_RUNS - 1
    )
    triggers.wake_up(organization_id=organization.pk)
    assert len(enqueued) == free + 3
    assert set(enqueued) == {organization.pk}


@responses.activate
def test_status_refresh_goes_on_while_a_dispatch_sends(
    organization: Organization, settings: Any
) -> None:
    """A delivery of an earlier dispatch is due for its status refresh while a large
    dispatch sends: the run refreshes it during the sending, not after the last submission
    (the first "Letti" waited for the end of the dispatch)."""
    # A queue of 2 × 10 claimed deliveries ahead of the refresh: it comes within the run's
    # 3 s (the automatic concurrency would queue 2 × 20, whose checks and submissions take
    # the whole 3 s at 20 calls/s).
    settings.SENDING_CONCURRENCY = 10
    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(organization, **simulated_service(""))
    earlier = builders.dispatch(service, user, fiscal_codes(1))
    Delivery.objects.filter(dispatch=earlier).update(
        state="submitted",
        io_message_id="01JABCDEFGHJKMNPQRSTVWXYZ0",
        submitted_at=timezone.now(),
        next_poll_at=timezone.now() - timezone.timedelta(seconds=1),
    )
    large = builders.dispatch(service, user, fiscal_codes(200)[1:])
    # 20 calls/s: the run's 3 s end long before the dispatch does.
    Organization.objects.filter(pk=organization.pk).update(rate_tier=0, custom_rate_limit=100)
    order: list[str] = []

    def answer(kind: str, status: int, body: dict[str, Any]) -> Any:
        def reply(request: Any) -> tuple[int, dict[str, str], str]:
            order.append(kind)
            if kind == "submit":  # IO's ids are unique
                return status, {}, json.dumps({"id": f"01JABCDEFGHJKMNPQRST{len(order):06d}"})
            return status, {}, json.dumps(body)

        return reply

    responses.add_callback(
        responses.POST, PROFILES, callback=answer("check", 200, {"sender_allowed": True})
    )
    responses.add_callback(
        responses.POST,
        MESSAGES,
        callback=answer("submit", 201, {}),
    )
    responses.add_callback(
        responses.GET,
        re.compile(f"{MESSAGES}/.*"),
        callback=answer("poll", 200, {"status": "PROCESSED", "message": {"id": "x"}}),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
        run_account_worker(organization_id=organization.pk, budget=3)
    assert "poll" in order, order
    assert Delivery.objects.filter(dispatch=large, state="pending").exists()
    assert Delivery.objects.get(dispatch=earlier).state == "processed"


def test_an_api_call_row_keeps_the_moment_its_answer_arrived(organization: Organization) -> None:
    """A run writes a call's row with the transition it belongs to, a round later: the row
    says when the answer came, not when it was written."""
    from datetime import timedelta

    from ioportal.sending.models import insert_api_calls

    answered = timezone.now() - timedelta(seconds=3)
    rows = [
        ApiCall(created_at=answered, organization=organization, operation="submit_message"),
        ApiCall(organization=organization, operation="get_profile"),
    ]
    before = timezone.now()
    assert insert_api_calls(rows) == 2
    stored = dict(
        ApiCall.objects.filter(organization=organization).values_list("operation", "created_at")
    )
    assert stored["submit_message"] == answered
    assert stored["get_profile"] >= before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_sweeper_skips_a_row_a_run_holds_instead_of_waiting_for_it(
    organization: Organization,
) -> None:
    """The reap of expired claims locks its rows in id order and skips those another
    transaction holds (a run claiming submissions): its multi-row UPDATE waited for such a
    row while the run waited for one it held, and PostgreSQL aborted one of the two."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks between transactions need PostgreSQL")
    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(organization, **simulated_service(""))
    builders.dispatch(service, user, fiscal_codes(2))
    _token, ids = claims.claim_work(organization_id=organization.pk, worker="t", limit=2)
    assert len(ids) == 2
    Delivery.objects.filter(pk__in=ids).update(lease_until="2000-01-01T00:00:00Z")
    held, release = threading.Event(), threading.Event()

    def run_holding_the_first() -> None:
        try:
            with transaction.atomic():
                Delivery.objects.select_for_update().get(pk=ids[0])
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run_holding_the_first)
    thread.start()
    try:
        assert held.wait(10)
        with transaction.atomic():
            assert reap_expired_claims()["rechecked"] == 1  # at once, not after the run
        assert Delivery.objects.get(pk=ids[1]).state == "retry_wait"
        assert Delivery.objects.get(pk=ids[0]).state == "checking"
    finally:
        release.set()
        thread.join()
    with transaction.atomic():
        assert reap_expired_claims()["rechecked"] == 1  # the next sweep


CLAIM_LOST = "claim lost, result not written"


def lost_claim_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and CLAIM_LOST in r.message]


@responses.activate
def test_cancel_during_a_run_logs_once_not_a_warning_per_delivery(
    organization: Organization, supervisor_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A cancel takes the claims of the deliveries a run holds (checks in flight, submissions
    queued): nothing was sent for them, so the run says so once, not with a WARNING each."""
    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(organization, **simulated_service(""))
    dispatch = builders.dispatch(service, user, fiscal_codes(12))
    profile_ok(responses.mock)
    responses.post(MESSAGES, json={"id": "01JABCDEFGHJKMNPQRSTVWXYZ0"}, status=201)
    collect = AccountRun.collect

    def cancel_then_collect(run: AccountRun, *, timeout: float | None) -> None:
        if Dispatch.objects.filter(pk=dispatch.pk, state="running").exists():
            services.dispatch_cancel(dispatch=dispatch, actor=supervisor_user)
        collect(run, timeout=timeout)

    caplog.set_level(logging.INFO, logger="ioportal.sending")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
        mp.setattr(AccountRun, "collect", cancel_then_collect)
        run_account_worker(organization_id=organization.pk, budget=2)

    cancelled = Delivery.objects.filter(dispatch=dispatch, state="cancelled").count()
    assert cancelled == 12
    assert not [c for c in responses.calls if c.request.url == MESSAGES]
    assert lost_claim_warnings(caplog) == []
    told = [r.message for r in caplog.records if "given up" in r.message]
    assert told and len(told) < cancelled
    assert all(r.levelno == logging.INFO for r in caplog.records if "given up" in r.message)
    assert str(dispatch.public_id) in told[0]


@responses.activate
def test_a_pause_during_a_run_loses_no_claim(
    organization: Organization, supervisor_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A pause takes no claim: the run gives its checked deliveries back as READY."""
    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(organization, **simulated_service(""))
    dispatch = builders.dispatch(service, user, fiscal_codes(6))
    profile_ok(responses.mock)
    collect = AccountRun.collect

    def pause_then_collect(run: AccountRun, *, timeout: float | None) -> None:
        if Dispatch.objects.filter(pk=dispatch.pk, state="running").exists():
            services.dispatch_pause(dispatch=dispatch, actor=supervisor_user)
        collect(run, timeout=timeout)

    caplog.set_level(logging.INFO, logger="ioportal.sending")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
        mp.setattr(AccountRun, "collect", pause_then_collect)
        run_account_worker(organization_id=organization.pk, budget=2)

    states = set(Delivery.objects.filter(dispatch=dispatch).values_list("state", flat=True))
    assert states == {"ready"}
    assert not [c for c in responses.calls if c.request.url == MESSAGES]
    assert lost_claim_warnings(caplog) == []
    assert not [r for r in caplog.records if "given up" in r.message]


def claimed(dispatch: Dispatch, state: str = "checking") -> tuple[Delivery, uuid.UUID]:
    token = uuid.uuid4()
    delivery = Delivery.objects.get(dispatch=dispatch)
    Delivery.objects.filter(pk=delivery.pk).update(state=state, claim_token=token)
    return delivery, token


def test_a_claim_the_cancel_took_is_told_once_per_batch(
    organization: Organization, supervisor_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(organization, **simulated_service(""))
    dispatch = builders.dispatch(service, user, fiscal_codes(5))
    token = uuid.uuid4()
    Delivery.objects.filter(dispatch=dispatch).update(state="checking", claim_token=token)
    services.dispatch_cancel(dispatch=dispatch, actor=supervisor_user)
    caplog.set_level(logging.DEBUG, logger="ioportal.sending")
    with transitions.lost_claims_batch():
        for delivery in Delivery.objects.filter(dispatch=dispatch):
            assert not transitions.check_passed(delivery_id=delivery.pk, token=token)
    assert lost_claim_warnings(caplog) == []
    lines = [r for r in caplog.records if r.name == "ioportal.sending.transitions"]
    assert [(r.levelno, r.message) for r in lines] == [
        (
            logging.INFO,
            f"dispatch {dispatch.public_id} cancelled: claims of 5 deliveries given up, "
            "nothing was sent for them",
        )
    ]


def test_a_claim_taken_otherwise_stays_a_warning(
    dispatch: Dispatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Reaped by a sweeper or held by another worker: a WARNING per delivery, in a batch
    or outside one."""
    delivery, _token = claimed(dispatch)
    stale = uuid.uuid4()  # the claim another worker has now
    caplog.set_level(logging.INFO, logger="ioportal.sending")
    with transitions.lost_claims_batch():
        assert not transitions.check_passed(delivery_id=delivery.pk, token=stale)
    assert not transitions.ready_released(delivery_id=delivery.pk, token=stale)
    warnings = lost_claim_warnings(caplog)
    assert [r.message for r in warnings] == [f"delivery {delivery.pk}: {CLAIM_LOST}"] * 2


def test_a_claim_that_holds_costs_one_query(
    dispatch: Dispatch, django_assert_num_queries: Any
) -> None:
    delivery, token = claimed(dispatch)
    with transitions.lost_claims_batch(), django_assert_num_queries(1):
        assert transitions.check_passed(delivery_id=delivery.pk, token=token)
