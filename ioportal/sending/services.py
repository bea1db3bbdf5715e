"""What people (and the pipeline itself) do to dispatches and deliveries once they run.

Every action is a compare-and-set on the current state, audited in the same transaction,
and wakes the account's workers after commit when there is work to do.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Count, DateTimeField, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from ioportal.accounts.models import Organization, User
from ioportal.core.crypto import DecryptionError
from ioportal.core.errors import NotAllowed
from ioportal.core.io_texts import Part, parts_text, said
from ioportal.core.services import audit_log, changed_fields
from ioportal.ioservices.services import SYSTEM_ACTOR
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.messaging.retention import personal_data_expired, personal_data_purge_begun
from ioportal.messaging.windows import schedule_from_hours
from ioportal.recipients import testmode
from ioportal.recipients.models import RecipientList
from ioportal.sending import clock, outcomes
from ioportal.sending.audit import Action
from ioportal.sending.conf import sending_settings
from ioportal.sending.models import SendWindowPolicy, UncertainResolution
from ioportal.sending.triggers import wake_up

logger = logging.getLogger(__name__)
S = Delivery.State
D = Dispatch.State
# Deliveries nothing has been sent for yet: a cancel turns them into CANCELLED.
NOT_STARTED = (S.PENDING, S.CHECKING, S.READY, S.RETRY_WAIT)
OPEN = (*NOT_STARTED, S.SUBMITTING)
# Dispatches a person may still cancel.
CANCELLABLE = (D.PREPARING, D.RUNNING, D.PAUSED, D.SCHEDULED)
STATE_REFUSED = gettext_lazy("L'invio non è in uno stato che consente questa azione.")


def _wake_after_commit(organization_id: int) -> None:
    transaction.on_commit(lambda: wake_up(organization_id=organization_id))


def end_of_sending(now: datetime) -> dict[str, Any]:
    """The fields of a dispatch's UPDATE that ends its sending at `now` (completed or
    cancelled): `finished_at` the first time, never moved after; `resend_finished_at` when a
    resend or a retry had reopened it. Both read the row as it was before the UPDATE."""
    return {
        "finished_at": Coalesce(F("finished_at"), Value(now, output_field=DateTimeField())),
        "resend_finished_at": Case(
            When(finished_at__isnull=False, then=Value(now)),
            default=None,
            output_field=DateTimeField(),
        ),
    }


def _reopen(dispatch: Dispatch) -> str | None:
    """A COMPLETED dispatch → RUNNING again (a resend or a retry); its first end stays.
    Returns when it had last ended (ISO text, for the audit event of the reopening: the end
    of the previous round), None when it was not completed (nothing changed). Call with the
    dispatch row locked (`_lock_fresh`)."""
    previous_end = dispatch.last_finished_at
    if not _set_state(dispatch, (D.COMPLETED,), state=D.RUNNING, resend_finished_at=None):
        return None
    return previous_end.isoformat() if previous_end else None


def _set_state(dispatch: Dispatch, from_states: Iterable[str], **fields: Any) -> bool:
    changed = Dispatch.objects.filter(pk=dispatch.pk, state__in=tuple(from_states)).update(**fields)
    if changed:
        dispatch.refresh_from_db()
    return bool(changed)


@transaction.atomic
def dispatch_pause(*, dispatch: Dispatch, actor: User, request: HttpRequest | None = None) -> None:
    """RUNNING or SCHEDULED → PAUSED. No submission is claimed after the commit (in-flight
    calls finish). Raises NotAllowed (nothing changed) from any other state. Audited."""
    if not _set_state(dispatch, (D.RUNNING, D.SCHEDULED), state=D.PAUSED, pause_parts=[]):
        raise NotAllowed(STATE_REFUSED)
    audit_log(
        action=Action.DISPATCH_PAUSED,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        request=request,
    )


@transaction.atomic
def dispatch_resume(*, dispatch: Dispatch, actor: User, request: HttpRequest | None = None) -> None:
    """PAUSED → RUNNING (or SCHEDULED when its time is still to come); wakes the workers.
    Raises NotAllowed from any other state. Audited."""
    target = (
        D.SCHEDULED if dispatch.scheduled_at and dispatch.scheduled_at > clock.now() else D.RUNNING
    )
    fields: dict[str, Any] = {"state": target, "pause_parts": []}
    if target == D.RUNNING and dispatch.started_at is None:
        fields["started_at"] = clock.now()
    if not _set_state(dispatch, (D.PAUSED,), **fields):
        raise NotAllowed(STATE_REFUSED)
    audit_log(
        action=Action.DISPATCH_RESUMED,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        request=request,
    )
    _wake_after_commit(dispatch.organization_id)


@transaction.atomic
def dispatch_cancel(*, dispatch: Dispatch, actor: User, request: HttpRequest | None = None) -> int:
    """PREPARING / RUNNING / PAUSED / SCHEDULED → CANCELLED; every delivery not yet being
    submitted becomes CANCELLED (a worker holding one loses its claim; a preparation stops
    at its next chunk). Returns the deliveries cancelled; raises NotAllowed when the dispatch
    can no longer be cancelled. Audited."""
    if not _set_state(
        dispatch,
        CANCELLABLE,
        state=D.CANCELLED,
        **end_of_sending(clock.now()),
    ):
        raise NotAllowed(STATE_REFUSED)
    count = Delivery.objects.filter(dispatch=dispatch, state__in=NOT_STARTED).update(
        state=S.CANCELLED, finished_at=clock.now(), claim_token=None, lease_until=None
    )
    audit_log(
        action=Action.DISPATCH_CANCELLED,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        changes={"cancelled_deliveries": count},
        request=request,
    )
    return count


def not_prepared(dispatch: Dispatch) -> int:
    """The rows of a dispatch's list not turned into deliveries (yet, or ever once it was
    cancelled while being prepared)."""
    return max(0, dispatch.deliveries_expected - dispatch.deliveries_prepared)


@dataclass(frozen=True)
class NotStarted:
    """What a cancel of a dispatch would stop (`dispatch_not_started`): `count` messages,
    exactly, or at most when `at_most` (see there)."""

    count: int
    at_most: bool = False


def _authorised_rows(dispatch: Dispatch) -> int | None:
    """How many valid rows of a dispatch's list test mode would not skip (its service's
    authorised recipients now, `testmode.list_test_mode_skips`: the count the list stores,
    or counted again from its rows when the authorised recipients changed); None when that
    is not knowable (the list is gone, or its rows cannot be decrypted)."""
    recipient_list = RecipientList.objects.filter(dispatch=dispatch).first()
    if recipient_list is None:
        return None
    try:
        skips = testmode.list_test_mode_skips(recipient_list)
    except DecryptionError:
        return None
    return max(0, recipient_list.valid_count - skips)


def dispatch_not_started(dispatch: Dispatch) -> NotStarted:
    """How many messages of `dispatch` nothing has been sent for yet, which a cancel would
    stop: its deliveries not started, and while it is being prepared the rows of its list
    not yet turned into deliveries. Test mode skips the citizens the service is not
    authorised for without sending them anything, so only the authorised ones count: the
    deliveries by their keyed hash (`testmode.authorized_hmacs`), the list's rows by the
    same rule (`_authorised_rows`: its authorised rows, less the authorised deliveries
    already made of them). When the rows still to prepare cannot be read, all of them are
    counted and the count is an upper bound (`at_most`). One query, or two while the
    dispatch is being prepared (a few more when the list's count must be made again)."""
    deliveries = Delivery.objects.filter(dispatch=dispatch)
    allowed = testmode.authorized_hmacs(dispatch.service)
    if allowed is not None:
        deliveries = deliveries.filter(fiscal_code_hmac__in=allowed)
    if dispatch.state != D.PREPARING:
        return NotStarted(deliveries.filter(state__in=NOT_STARTED).count())
    # Counted together: the preparation adds deliveries meanwhile.
    counts = deliveries.aggregate(
        made=Count("id"), not_started=Count("id", filter=Q(state__in=NOT_STARTED))
    )
    if allowed is None:
        to_prepare = dispatch.deliveries_expected - counts["made"]
        return NotStarted(counts["not_started"] + max(0, to_prepare))
    authorised = _authorised_rows(dispatch)
    if authorised is None:
        return NotStarted(counts["not_started"] + not_prepared(dispatch), at_most=True)
    return NotStarted(counts["not_started"] + max(0, authorised - counts["made"]))


@transaction.atomic
def dispatch_auto_pause(*, dispatch: Dispatch, reason: Part) -> int:
    """The pipeline pauses a running dispatch by itself (key refused, many failures), with a
    reason shown on its page in the reader's language (`reason` a core.io_texts.Part, stored
    untranslated). Returns 1 when it paused it. Audited as the system."""
    if not _set_state(dispatch, (D.RUNNING,), state=D.PAUSED, pause_parts=[reason]):
        return 0
    logger.warning("dispatch %s paused automatically", dispatch.public_id)
    audit_log(
        action=Action.DISPATCH_AUTO_PAUSED,
        actor=str(SYSTEM_ACTOR),
        organization=dispatch.organization,
        target=dispatch,
        changes={"reason": parts_text([reason])},
    )
    return 1


def dispatch_check_failure_rate(*, dispatch_id: int) -> bool:
    """Pause a dispatch whose first deliveries fail permanently at a high rate (a wrong
    template or service), for a person to look. One aggregate query. Returns True if paused."""
    conf = sending_settings()
    counts = Delivery.objects.filter(dispatch_id=dispatch_id).aggregate(
        failed=Count(
            "id", filter=Q(state=S.FAILED) & ~Q(last_error_code__in=outcomes.TECHNICAL_FAILURES)
        ),
        done=Count("id", filter=Q(state__in=(S.FAILED, S.SUBMITTED, S.PROCESSED, S.REJECTED))),
    )
    done, failed = counts["done"], counts["failed"]
    if (
        done < conf.autopause_min
        or done > conf.autopause_window
        or failed < done * conf.autopause_rate
    ):
        return False
    dispatch = Dispatch.objects.get(pk=dispatch_id)
    reason = said(
        gettext_noop(
            "Sospeso automaticamente: %(failed)s dei primi %(done)s messaggi sono stati "
            "rifiutati da IO. Controlla il testo e il servizio, poi riprendi o annulla."
        ),
        failed=failed,
        done=done,
    )
    return bool(dispatch_auto_pause(dispatch=dispatch, reason=reason))


def _lock_fresh(dispatch: Dispatch) -> None:
    """Lock the dispatch row until the end of the transaction and reload it and its
    organization (its retention may have been shortened meanwhile). The retention purge
    locks the same row for each chunk it blanks: holding it, a reopening either sees the
    purge's work (`_refuse_when_expired`) or makes the purge stop at its next chunk."""
    Dispatch.objects.select_for_update().filter(pk=dispatch.pk).values_list("pk").first()
    dispatch.refresh_from_db()
    dispatch.organization.refresh_from_db()


def _refuse_when_expired(dispatch: Dispatch) -> None:
    """NotAllowed once the dispatch's personal data are purged, due for the retention purge,
    or being purged: its fiscal codes can no longer be used to send. Call with the dispatch
    row locked (`_lock_fresh`)."""
    if personal_data_expired(dispatch, clock.now()) or personal_data_purge_begun(dispatch):
        raise NotAllowed(
            _(
                "I dati personali di questo invio sono stati cancellati (o stanno per esserlo) "
                "secondo la politica di conservazione dell'ente: non può essere inviato di nuovo."
            )
        )


@transaction.atomic
def dispatch_retry_failed(
    *, dispatch: Dispatch, actor: User, request: HttpRequest | None = None
) -> int:
    """Give the technically failed deliveries (IO unreachable until the attempts or the age
    ran out, no IO id) a new round of attempts; reopens a completed dispatch (its first end
    stays; the audit event names when it had ended, `previous_end`). Deliveries IO
    refused, skipped or uncertain ones are left alone. Returns how many; raises NotAllowed
    for a dispatch in another state, or whose personal data are purged, due for the purge or
    being purged (the dispatch row is locked first, so a purge and a retry never overlap).
    Audited."""
    _lock_fresh(dispatch)
    if dispatch.state not in (D.RUNNING, D.PAUSED, D.COMPLETED):
        raise NotAllowed(_("Questo invio non può essere ripreso."))
    _refuse_when_expired(dispatch)
    count = Delivery.objects.filter(
        dispatch=dispatch,
        state=S.FAILED,
        io_message_id__isnull=True,
        last_error_code__in=outcomes.TECHNICAL_FAILURES,
    ).update(
        state=S.RETRY_WAIT,
        attempts=0,
        first_attempt_at=None,
        next_attempt_at=clock.now(),
        finished_at=None,
    )
    if not count:
        return 0
    changes: dict[str, Any] = {"deliveries": count}
    previous_end = _reopen(dispatch)
    if previous_end:
        changes["previous_end"] = previous_end
    audit_log(
        action=Action.DISPATCH_RETRY_FAILED,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        changes=changes,
        request=request,
    )
    _wake_after_commit(dispatch.organization_id)
    return count


@transaction.atomic
def deliveries_resolve_uncertain(
    *,
    dispatch: Dispatch,
    delivery_ids: Iterable[int],
    decision: str,
    actor: User,
    confirmed: bool,
    request: HttpRequest | None = None,
) -> int:
    """A supervisor's decision on uncertain deliveries of `dispatch` (one or many).

    "mark_sent": the delivery is closed as MARKED_SENT (nothing more is sent). "resend":
    back to READY for one new submission, which may duplicate the message if IO had it: it
    needs `confirmed` True (else ValidationError), and reopens a completed dispatch as a
    retry does. Only deliveries still UNCERTAIN and
    without an IO id change. One audit event listing them. Returns how many changed.
    Nothing chosen: ValidationError, nothing changes.
    """
    delivery_ids = list(delivery_ids)
    if not delivery_ids:
        raise ValidationError(_("Scegli almeno un destinatario."))
    if decision not in UncertainResolution.Decision.values:
        raise ValidationError(_("Decisione non valida."))
    if decision == UncertainResolution.Decision.RESEND and not confirmed:
        raise ValidationError(
            _("Conferma di aver verificato che il cittadino non ha ricevuto il messaggio.")
        )
    if decision == UncertainResolution.Decision.RESEND:
        # The dispatch row before the deliveries, in the retention purge's order.
        _lock_fresh(dispatch)
        _refuse_when_expired(dispatch)
    rows = list(
        Delivery.objects.select_for_update()
        .filter(
            dispatch=dispatch,
            pk__in=delivery_ids,
            state=S.UNCERTAIN,
            io_message_id__isnull=True,
        )
        .values_list("pk", "public_id")
    )
    pks = [pk for pk, _public in rows]
    if not pks:
        return 0
    changes: dict[str, Any] = {"deliveries": [str(public) for _pk, public in rows]}
    if decision == UncertainResolution.Decision.MARK_SENT:
        Delivery.objects.filter(pk__in=pks).update(
            state=S.MARKED_SENT, skip_reason=outcomes.MARKED_SENT, finished_at=clock.now()
        )
        action = Action.DELIVERY_MARKED_SENT
    else:
        Delivery.objects.filter(pk__in=pks).update(
            state=S.READY,
            claim_token=None,
            lease_until=None,
            uncertain_since=None,
            last_error_code="",
            last_error_parts=[],
        )
        previous_end = _reopen(dispatch)
        if previous_end:
            changes["previous_end"] = previous_end
        action = Action.DELIVERY_RESENT
        _wake_after_commit(dispatch.organization_id)
    UncertainResolution.objects.bulk_create(
        UncertainResolution(delivery_id=pk, decision=decision, decided_by=actor) for pk in pks
    )
    audit_log(
        action=action,
        actor=actor,
        organization=dispatch.organization,
        target=dispatch,
        changes=changes,
        request=request,
    )
    return len(pks)


# --- send windows ---------------------------------------------------------------------------


def send_windows_update(
    *,
    organization: Organization,
    actor: User,
    enabled: bool,
    hours: dict[str, list[str]],
    skip_holidays: bool,
    request: HttpRequest | None = None,
) -> SendWindowPolicy:
    """Set when the organization's messages may reach citizens (`messaging.windows`): `hours`
    in the stored form {"0": ["08:00", "20:00"], …}. Audited with the changes. Workers read
    it within `gate.POLICY_CACHE_SECONDS`. Raises ValueError on hours no Schedule accepts."""
    schedule_from_hours(hours, skip_holidays=skip_holidays)  # validates
    policy, _created = SendWindowPolicy.objects.get_or_create(organization=organization)
    before = {
        "enabled": policy.enabled,
        "hours": policy.hours,
        "skip_holidays": policy.skip_holidays,
    }
    after = {"enabled": enabled, "hours": hours, "skip_holidays": skip_holidays}
    changed = changed_fields(before, after)
    # Whether the windows are on goes with every change: hours saved while they are off read
    # as such in the log, not as windows switched on.
    changes = {"enabled": enabled, **changed} if changed and "enabled" not in changed else changed
    policy.enabled, policy.hours, policy.skip_holidays = enabled, hours, skip_holidays
    policy.save()
    if changes:
        audit_log(
            action=Action.SEND_WINDOWS_CHANGED,
            actor=actor,
            organization=organization,
            target=organization,
            changes=changes,
            request=request,
        )
        # Work that waited for a window may be due now; the sweeper would find it within a
        # minute anyway.
        _wake_after_commit(organization.pk)
    return policy
