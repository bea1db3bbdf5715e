"""What one delivery's IO call means: the message to submit, and the transition each outcome
of a profile check, a submission or a status read leads to.

The `apply_*` functions run in the worker's thread that owns the database connection, inside
the transaction that also writes the call's ApiCall row. Error classification comes from
`ioapi` (`PermanentError.refusal`, `TransientError.maybe_processed`); only the decisions of
the delivery state machine are here.
"""

import uuid
from collections import Counter

from ioportal.core.io_texts import Part, as_is, field_error_parts, io_error_parts, said
from ioportal.ioapi import (
    AmbiguousError,
    IOApiError,
    KeyRejectedError,
    MessageInfo,
    NewMessage,
    NotFoundError,
    PermanentError,
    Profile,
    RateLimitedError,
    ThirdPartyData,
    TransientError,
    validate_new_message,
)
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ServiceKeyUnavailableError
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.recipients.rendering import delivery_message
from ioportal.remotecontent.services import RemoteContentNotConfigured, third_party_data_for
from ioportal.sending import outcomes, transitions
from ioportal.sending.conf import sending_settings
from ioportal.sending.services import dispatch_auto_pause

S = Delivery.State


def build_message(delivery: Delivery, fiscal_code: str) -> NewMessage:
    """The message IO gets, built by messaging's one builder. Raises
    RemoteContentNotConfigured for a Premium attachment the service cannot serve."""
    third_party = third_party_data_for(delivery)
    return delivery_message(
        delivery,
        fiscal_code,
        third_party_data=ThirdPartyData(**third_party) if third_party else None,
    )


def prepare_message(
    delivery: Delivery, fiscal_code: str, service: IOService
) -> tuple[NewMessage | None, str, list[Part]]:
    """(message, failure code, detail): the message when it may be submitted, else why not
    (nothing is sent: cf_unreadable, invalid_content, amount_over_max), the detail as
    sentences translated when shown (core.io_texts.Part)."""
    if not fiscal_code:
        return None, outcomes.CF_UNREADABLE, []
    try:
        message = build_message(delivery, fiscal_code)
    except RemoteContentNotConfigured as exc:
        # Its message is an untranslated msgid, whatever the worker's language: translated
        # when shown.
        return None, outcomes.INVALID_CONTENT, [said(str(exc))]
    max_amount = service.effective_max_payment_amount
    errors = validate_new_message(message, max_allowed_payment_amount=max_amount)
    if errors:
        code = outcomes.INVALID_CONTENT
        if delivery.payment_amount and delivery.payment_amount > max_amount:
            code = outcomes.AMOUNT_OVER_MAX
        return None, code, field_error_parts(errors)
    return message, "", []


def pause_service_dispatches(*, service: IOService, code: str) -> int:
    """Pause every running dispatch of `service` (key refused or unreadable). Audited."""
    paused = 0
    for dispatch in Dispatch.objects.filter(service=service, state=Dispatch.State.RUNNING):
        paused += dispatch_auto_pause(dispatch=dispatch, reason=said(outcomes.outcome_msgid(code)))
    return paused


def key_problem(delivery: Delivery, token: uuid.UUID, from_state: str, exc: Exception) -> None:
    """IO refused every key (or none is readable): nothing was processed. The delivery waits
    (not counted as an attempt) and the service's dispatches pause."""
    code = outcomes.KEY_REJECTED if isinstance(exc, KeyRejectedError) else outcomes.KEY_UNAVAILABLE
    transitions.retry_later(
        delivery=delivery, token=token, from_state=from_state, code=code, count_attempt=False
    )
    pause_service_dispatches(service=delivery.dispatch.service, code=code)


def rate_limited(
    delivery: Delivery, token: uuid.UUID, from_state: str, exc: RateLimitedError
) -> None:
    """IO answered 429: nothing was processed. The delivery waits what IO asked (Retry-After),
    not counted as an attempt."""
    transitions.retry_later(
        delivery=delivery,
        token=token,
        from_state=from_state,
        code=outcomes.RATE_LIMITED,
        retry_after=exc.retry_after,
        count_attempt=False,
    )


def _refusal_code(exc: PermanentError, *, submission: bool) -> str:
    refusal = exc.refusal
    if refusal == "recipient_forbidden":
        return outcomes.NOT_AUTHORIZED
    if submission and refusal == "amount_over_max":
        return outcomes.AMOUNT_OVER_MAX
    if submission and refusal == "content":
        return outcomes.CONTENT_REFUSED
    return outcomes.FORBIDDEN


def permanent(
    delivery: Delivery, token: uuid.UUID, from_state: str, exc: PermanentError, stats: Counter
) -> bool:
    """IO refused: SKIPPED not_authorized (test mode), else FAILED with the reason. Returns
    True when the dispatch's failure rate should be checked."""
    code = _refusal_code(exc, submission=from_state == S.SUBMITTING)
    if code == outcomes.NOT_AUTHORIZED:
        transitions.skip_refused(delivery_id=delivery.pk, token=token, from_state=from_state)
        stats["skipped"] += 1
        return False
    transitions.fail(
        delivery_id=delivery.pk,
        token=token,
        from_state=from_state,
        code=code,
        detail=io_error_parts(exc),
    )
    stats["failed"] += 1
    return True


def check_outcome(
    delivery: Delivery, token: uuid.UUID, result: Profile | None, error: Exception | None
) -> tuple[bool, str]:
    """Classify a profile check: (passed, skip reason). A passed check leaves the delivery
    CHECKING for the caller to claim the submission; every other outcome is written here
    and returns (False, "") or (False, reason)."""
    if error is None:
        assert result is not None
        if result.sender_allowed:
            return True, ""
        return False, outcomes.BLOCKED
    if isinstance(error, NotFoundError):
        return False, outcomes.NOT_ON_IO
    if isinstance(error, PermanentError) and error.is_recipient_forbidden:
        return False, outcomes.NOT_AUTHORIZED
    return False, ""


def apply_check_failure(
    delivery: Delivery, token: uuid.UUID, error: Exception, stats: Counter
) -> bool:
    """Write a failed (not skipped) profile check. True when the dispatch's failure rate
    should be checked."""
    if isinstance(error, KeyRejectedError | ServiceKeyUnavailableError):
        key_problem(delivery, token, S.CHECKING, error)
        return False
    if isinstance(error, PermanentError):
        return permanent(delivery, token, S.CHECKING, error, stats)
    if isinstance(error, RateLimitedError):
        rate_limited(delivery, token, S.CHECKING, error)
        return False
    # Transient or ambiguous: a profile read is safe to retry.
    detail = io_error_parts(error) if isinstance(error, IOApiError) else [as_is(str(error))]
    transitions.retry_later(
        delivery=delivery,
        token=token,
        from_state=S.CHECKING,
        code=outcomes.TRANSIENT,
        detail=detail,
    )
    stats["retry"] += 1
    return False


def apply_submission(
    delivery: Delivery, token: uuid.UUID, result: object, error: Exception | None, stats: Counter
) -> bool:
    """Write a submission's outcome (SUBMITTING → SUBMITTED / RETRY_WAIT / UNCERTAIN /
    FAILED). Never retries a call that may have reached IO. True when the dispatch's
    failure rate should be checked."""
    if error is None:
        if transitions.submitted(
            delivery_id=delivery.pk,
            token=token,
            io_message_id=result.id,  # type: ignore[attr-defined]
        ):
            stats["submitted"] += 1
        return False
    if isinstance(error, KeyRejectedError | ServiceKeyUnavailableError):
        key_problem(delivery, token, S.SUBMITTING, error)
        return False
    if isinstance(error, RateLimitedError):
        rate_limited(delivery, token, S.SUBMITTING, error)
        return False
    if isinstance(error, AmbiguousError):
        transitions.uncertain(
            delivery_id=delivery.pk,
            token=token,
            code=outcomes.AMBIGUOUS,
            detail=[as_is(str(error)[:500])],
        )
        stats["uncertain"] += 1
        return False
    if isinstance(error, TransientError):
        if error.maybe_processed and not sending_settings().lenient_5xx:
            transitions.uncertain(
                delivery_id=delivery.pk,
                token=token,
                code=outcomes.SERVER_ERROR,
                detail=[as_is(str(error)[:500])],
            )
            stats["uncertain"] += 1
        else:
            transitions.retry_later(
                delivery=delivery,
                token=token,
                from_state=S.SUBMITTING,
                code=outcomes.TRANSIENT,
                detail=io_error_parts(error),
            )
            stats["retry"] += 1
        return False
    if isinstance(error, PermanentError):
        return permanent(delivery, token, S.SUBMITTING, error, stats)
    # Anything else (a bug): the call may have gone out; never resend blindly.
    transitions.uncertain(
        delivery_id=delivery.pk,
        token=token,
        code=outcomes.AMBIGUOUS,
        detail=[as_is(str(error)[:500])],
    )
    stats["uncertain"] += 1
    return False


def apply_poll(
    delivery: Delivery, token: uuid.UUID, result: object, error: Exception | None, stats: Counter
) -> None:
    """Write a status read."""
    if error is None:
        assert isinstance(result, MessageInfo)
        transitions.polled(delivery=delivery, token=token, info=result)
        stats["polled"] += 1
    elif isinstance(error, RateLimitedError):
        transitions.poll_failed(delivery=delivery, token=token, retry_after=error.retry_after)
    else:
        transitions.poll_failed(delivery=delivery, token=token)
