"""Every change of a claimed delivery's state: one guarded function per transition.

Each write is an UPDATE fenced on (id, expected state, claim token): a worker whose claim was
taken over (lease expired, reaper, cancel) changes nothing. Each returns True when the row
changed. None of them calls IO; the caller records the IO call it made (ApiCall) in the same
transaction when it has one.

A lost claim is logged: a WARNING per delivery when something else took it (a sweeper reaped
it, another worker holds it), one INFO line per dispatch and batch when a cancel took it
(expected: nothing was sent for those deliveries). Inside `lost_claims_batch` the lost claims
are gathered and told apart with one query at its end; outside, with one query each. A claim
that holds costs nothing more.
"""

import contextlib
import logging
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import F, Field, Value
from django.db.models.functions import Coalesce

from ioportal.core.io_texts import Part
from ioportal.ioapi import MessageInfo, MessageStatus, ReadStatus
from ioportal.messaging.models import Delivery, FeatureLevel
from ioportal.sending import clock, outcomes
from ioportal.sending.conf import sending_settings

logger = logging.getLogger(__name__)
S = Delivery.State

RELEASED = {"claim_token": None, "lease_until": None}

# The lost claims of the current thread's batch (`lost_claims_batch`); None outside one.
_batch = threading.local()


def _report_lost_claims(delivery_ids: Sequence[int]) -> None:
    """Log the claims lost on `delivery_ids` (one query): those a cancel took (the delivery
    is CANCELLED: `services.dispatch_cancel` takes only deliveries nothing was sent for) in
    one INFO line per dispatch; any other as a WARNING per delivery."""
    rows = Delivery.objects.filter(pk__in=delivery_ids).values_list(
        "pk", "state", "dispatch__public_id"
    )
    states = {pk: (state, str(dispatch)) for pk, state, dispatch in rows}
    cancelled: Counter[str] = Counter()
    for pk in delivery_ids:
        state, dispatch_id = states.get(pk, ("", ""))
        if state == S.CANCELLED:
            cancelled[dispatch_id] += 1
        else:
            logger.warning("delivery %s: claim lost, result not written", pk)
    for dispatch_id, count in sorted(cancelled.items()):
        logger.info(
            "dispatch %s cancelled: claims of %s deliveries given up, nothing was sent for them",
            dispatch_id,
            count,
        )


@contextlib.contextmanager
def lost_claims_batch() -> Iterator[None]:
    """Gather the claims lost within the block (this thread) and log them once at its end
    (`_report_lost_claims`, one query). Nested: the outermost block reports. When the block
    raises, the lost claims are logged as WARNINGs without telling them apart (the
    connection may be unusable)."""
    if getattr(_batch, "lost", None) is not None:
        yield
        return
    lost: list[int] = []
    _batch.lost = lost
    try:
        yield
    except BaseException:
        for delivery_id in dict.fromkeys(lost):
            logger.warning("delivery %s: claim lost, result not written", delivery_id)
        raise
    finally:
        _batch.lost = None
    if lost:
        # A write retried after a lock may have lost the same claim twice.
        _report_lost_claims(list(dict.fromkeys(lost)))


def _claim_lost(delivery_id: int) -> None:
    lost: list[int] | None = getattr(_batch, "lost", None)
    if lost is None:
        _report_lost_claims([delivery_id])
    else:
        lost.append(delivery_id)


def _move(
    delivery_id: int, token: uuid.UUID, from_states: tuple[str, ...], **fields: object
) -> bool:
    changed = Delivery.objects.filter(
        pk=delivery_id, state__in=from_states, claim_token=token
    ).update(**fields)
    if not changed:
        _claim_lost(delivery_id)
    return bool(changed)


def backoff_delay(
    *, attempts: int, retry_after: float = 0.0, rng: random.Random | None = None
) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2^attempts)), but never
    shorter than IO's retry-after."""
    conf = sending_settings()
    ceiling = min(conf.backoff_cap, conf.backoff_base * (2 ** max(0, attempts)))
    return max((rng or random).uniform(0, ceiling), retry_after)


def check_passed(*, delivery_id: int, token: uuid.UUID) -> bool:
    """CHECKING → READY: the citizen can receive messages from the service. Keeps the claim
    (the same worker submits next)."""
    return _move(delivery_id, token, (S.CHECKING,), state=S.READY)


def check_skipped(*, delivery_id: int, token: uuid.UUID, reason: str) -> bool:
    """CHECKING → SKIPPED (not on IO, service blocked, not authorised): final, not a failure."""
    return _move(
        delivery_id,
        token,
        (S.CHECKING,),
        state=S.SKIPPED,
        skip_reason=reason,
        finished_at=clock.now(),
        **RELEASED,
    )


def skip_refused(*, delivery_id: int, token: uuid.UUID, from_state: str) -> bool:
    """CHECKING/SUBMITTING → SKIPPED not_authorized: IO answered 403 "Recipient forbidden"
    (service in test mode), so nothing was stored."""
    return _move(
        delivery_id,
        token,
        (from_state,),
        state=S.SKIPPED,
        skip_reason=outcomes.NOT_AUTHORIZED,
        finished_at=clock.now(),
        **RELEASED,
    )


def ready_released(*, delivery_id: int, token: uuid.UUID) -> bool:
    """CHECKING (check passed) or READY → READY with the claim given back: the submission
    was not claimed (dispatch paused or cancelled, run over). No IO call is owed."""
    return _move(delivery_id, token, (S.CHECKING, S.READY), state=S.READY, **RELEASED)


def submission_released(*, delivery_id: int, token: uuid.UUID) -> bool:
    """SUBMITTING → READY with the claim given back, for a submission whose request was
    never made (its token's moment passed before it could leave, and the run ended). No IO
    call was made, so it may be claimed again."""
    return _move(delivery_id, token, (S.SUBMITTING,), state=S.READY, **RELEASED)


def fail(
    *, delivery_id: int, token: uuid.UUID, from_state: str, code: str, detail: Sequence[Part] = ()
) -> bool:
    """CHECKING/SUBMITTING → FAILED with a reason (IO refused; retrying would not help)."""
    return _move(
        delivery_id,
        token,
        (from_state,),
        state=S.FAILED,
        last_error_code=code,
        last_error_parts=list(detail),
        finished_at=clock.now(),
        **RELEASED,
    )


def retry_later(
    *,
    delivery: Delivery,
    token: uuid.UUID,
    from_state: str,
    code: str,
    detail: Sequence[Part] = (),
    retry_after: float = 0.0,
    count_attempt: bool = True,
) -> bool:
    """CHECKING/SUBMITTING → RETRY_WAIT (the request certainly had no effect), or FAILED when
    the attempts or the age are exhausted. `count_attempt` False for 429 and key problems,
    which are not the delivery's fault. RETRY_WAIT goes through the profile check again."""
    conf = sending_settings()
    now = clock.now()
    attempts = delivery.attempts + (1 if count_attempt else 0)
    first = delivery.first_attempt_at or now
    if attempts >= conf.max_attempts or (now - first).total_seconds() > conf.max_age_seconds:
        final_code = (
            outcomes.RETRIES_EXHAUSTED if attempts >= conf.max_attempts else outcomes.TOO_OLD
        )
        return _move(
            delivery.pk,
            token,
            (from_state,),
            state=S.FAILED,
            attempts=attempts,
            last_error_code=final_code,
            last_error_parts=list(detail),
            finished_at=now,
            **RELEASED,
        )
    delay = (
        backoff_delay(attempts=attempts, retry_after=retry_after) if count_attempt else retry_after
    )
    return _move(
        delivery.pk,
        token,
        (from_state,),
        state=S.RETRY_WAIT,
        attempts=attempts,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error_code=code,
        last_error_parts=list(detail),
        **RELEASED,
    )


def release(*, delivery_id: int, token: uuid.UUID) -> bool:
    """Give back a claim without a result: CHECKING → PENDING, READY stays READY. Nothing
    was sent for it."""
    checking = Delivery.objects.filter(pk=delivery_id, state=S.CHECKING, claim_token=token).update(
        state=S.PENDING, **RELEASED
    )
    other = Delivery.objects.filter(
        pk=delivery_id, state__in=(S.READY, S.SUBMITTED, S.PROCESSED), claim_token=token
    ).update(**RELEASED)
    return bool(checking or other)


def submitted(*, delivery_id: int, token: uuid.UUID, io_message_id: str) -> bool:
    """SUBMITTING → SUBMITTED with IO's id; the first status poll is scheduled."""
    now = clock.now()
    first_poll = sending_settings().poll_intervals[0]
    return _move(
        delivery_id,
        token,
        (S.SUBMITTING,),
        state=S.SUBMITTED,
        io_message_id=io_message_id,
        io_status=MessageStatus.ACCEPTED.value,
        submitted_at=now,
        next_poll_at=now + timedelta(seconds=first_poll),
        last_error_code="",
        last_error_parts=[],
        **RELEASED,
    )


def submitted_many(*, accepted: list[tuple[int, uuid.UUID, str]], worker: str = "") -> set[int]:
    """`submitted` for several deliveries in one round trip: `accepted` holds (delivery id,
    claim token, IO's message id). Each row changes only if it is still SUBMITTING under its
    token. Returns the ids that changed (one more SELECT only when some claim was lost).

    `worker`: the run's `claimed_by`. A submission of its own that was made UNCERTAIN
    (`lease_expired`) because the run's slot was reaped while the run waited (SQLite's write
    lock under load) is written SUBMITTED after all: IO's 201 is proof it has the message,
    once. Nothing else changes it (a person's resolution has already moved it on).

    One statement executed for every row (`executemany`: compiled once, sent in one call),
    where the ORM would compile a CASE expression per row, the larger part of a
    submission's CPU in the worker."""
    if not accepted:
        return set()
    now = clock.now()
    first_poll = sending_settings().poll_intervals[0]
    quote = connection.ops.quote_name

    def field(name: str) -> Field:
        found = Delivery._meta.get_field(name)
        assert isinstance(found, Field)
        return found

    def column(name: str) -> str:
        return quote(str(field(name).column))

    def value(name: str, raw: object) -> Any:
        return field(name).get_db_prep_save(raw, connection)

    # Identifiers from the model's metadata, every value a parameter.
    sql = (
        f"UPDATE {quote(Delivery._meta.db_table)} SET {column('state')} = %s, "  # noqa: S608
        f"{column('io_message_id')} = %s, {column('io_status')} = %s, "
        f"{column('submitted_at')} = %s, {column('next_poll_at')} = %s, "
        f"{column('last_error_code')} = '', {column('last_error_parts')} = '[]', "
        f"{column('claim_token')} = NULL, {column('lease_until')} = NULL "
        f"WHERE {column('id')} = %s AND {column('state')} = %s AND {column('claim_token')} = %s"
    )
    submitted_at = value("submitted_at", now)
    next_poll_at = value("next_poll_at", now + timedelta(seconds=first_poll))
    status = MessageStatus.ACCEPTED.value
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                (
                    S.SUBMITTED,
                    io_id,
                    status,
                    submitted_at,
                    next_poll_at,
                    delivery_id,
                    S.SUBMITTING,
                    value("claim_token", token),
                )
                for delivery_id, token, io_id in accepted
            ],
        )
        changed = cursor.rowcount
    ids = [delivery_id for delivery_id, _token, _io_id in accepted]
    if changed == len(ids):
        return set(ids)
    ours = {delivery_id: io_id for delivery_id, _token, io_id in accepted}
    done = {
        pk
        for pk, io_id in Delivery.objects.filter(pk__in=ids, state=S.SUBMITTED).values_list(
            "pk", "io_message_id"
        )
        if io_id == ours[pk]
    }
    for delivery_id in sorted(set(ids) - done):
        if worker and Delivery.objects.filter(
            pk=delivery_id,
            state=S.UNCERTAIN,
            last_error_code=outcomes.LEASE_EXPIRED,
            claimed_by=worker[:100],
            io_message_id__isnull=True,
        ).update(
            state=S.SUBMITTED,
            io_message_id=ours[delivery_id],
            io_status=status,
            submitted_at=now,
            next_poll_at=now + timedelta(seconds=first_poll),
            uncertain_since=None,
            last_error_code="",
            last_error_parts=[],
        ):
            logger.warning("delivery %s: reaped as uncertain, IO's 201 written", delivery_id)
            done.add(delivery_id)
        else:
            logger.warning("delivery %s: claim lost, result not written", delivery_id)
    return done


def uncertain(
    *, delivery_id: int, token: uuid.UUID, code: str, detail: Sequence[Part] = ()
) -> bool:
    """SUBMITTING → UNCERTAIN: IO may have the message. Never re-sent without a person."""
    return _move(
        delivery_id,
        token,
        (S.SUBMITTING,),
        state=S.UNCERTAIN,
        uncertain_since=clock.now(),
        last_error_code=code,
        last_error_parts=list(detail),
        **RELEASED,
    )


def _poll_delay(polls: int) -> float:
    intervals = sending_settings().poll_intervals
    return float(intervals[min(polls, len(intervals) - 1)])


def premium_poll_delay(age: float) -> float:
    """Seconds until the next read/payment status poll of a PROCESSED Premium message
    `age` seconds after its submission: `SENDING_PREMIUM_POLL_SCHEDULE` (often in the first
    hours, when citizens read, then rarely), capped by `SENDING_PREMIUM_POLL_SECONDS` > 0."""
    conf = sending_settings()
    interval = next(i for up_to, i in conf.premium_poll_schedule if age < up_to)
    if conf.premium_poll_seconds > 0:
        interval = min(interval, conf.premium_poll_seconds)
    return interval


def polled(*, delivery: Delivery, token: uuid.UUID, info: MessageInfo) -> bool:
    """Record a status read: SUBMITTED → PROCESSED / REJECTED / FAILED at a final IO status,
    else the next poll with a growing interval until the horizon. Premium messages keep a
    slower refresh of read and payment status after PROCESSED."""
    conf = sending_settings()
    now = clock.now()
    status = info.status
    fields: dict[str, object] = {
        "io_status": info.status_raw or "",
        "polls": F("polls") + 1,
        **RELEASED,
    }
    if info.read_status_raw:
        fields["read_status"] = info.read_status_raw
        if info.read_status == ReadStatus.READ:
            fields["read_at"] = Coalesce(F("read_at"), Value(now))
    if info.payment_status_raw:
        fields["payment_status"] = info.payment_status_raw
        if info.payment_status_raw == "PAID":
            fields["paid_at"] = Coalesce(F("paid_at"), Value(now))
    age = (now - (delivery.submitted_at or now)).total_seconds()
    within_horizon = age < conf.poll_horizon_seconds
    next_poll = None
    if status == MessageStatus.PROCESSED:
        fields["state"] = S.PROCESSED
        if delivery.state == S.SUBMITTED:
            fields["finished_at"] = now
        premium = delivery.dispatch.feature_level == FeatureLevel.ADVANCED
        settled = info.read_status in (ReadStatus.READ, ReadStatus.UNAVAILABLE) and (
            not delivery.payment_amount or info.payment_status_raw == "PAID"
        )
        if premium and within_horizon and not settled:
            next_poll = now + timedelta(seconds=premium_poll_delay(age))
    elif status == MessageStatus.REJECTED:
        fields.update(state=S.REJECTED, finished_at=now)
    elif status == MessageStatus.FAILED:
        fields.update(state=S.FAILED, finished_at=now, last_error_code=outcomes.IO_FAILED)
    elif within_horizon:
        next_poll = now + timedelta(seconds=_poll_delay(delivery.polls + 1))
    fields["next_poll_at"] = next_poll
    return _move(delivery.pk, token, (S.SUBMITTED, S.PROCESSED), **fields)


def poll_failed(*, delivery: Delivery, token: uuid.UUID, retry_after: float = 0.0) -> bool:
    """A status read failed (IO unavailable, 429, not found yet): try again later."""
    conf = sending_settings()
    now = clock.now()
    age = (now - (delivery.submitted_at or now)).total_seconds()
    delay = max(_poll_delay(delivery.polls + 1), retry_after)
    return _move(
        delivery.pk,
        token,
        (S.SUBMITTED, S.PROCESSED),
        polls=F("polls") + 1,
        next_poll_at=now + timedelta(seconds=delay) if age < conf.poll_horizon_seconds else None,
        **RELEASED,
    )
