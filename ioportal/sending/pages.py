"""What the supervision pages show: the history rows, the dispatch page, its outcome block and
the delivery page, each built in a fixed, small number of queries (asserted in the tests).
"""

from collections import Counter
from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ioportal.accounts.models import Membership
from ioportal.core.models import AuditEvent
from ioportal.core.numbers import grouped
from ioportal.messaging import availability
from ioportal.messaging.carnet import dispatch_carnet_need
from ioportal.messaging.dispatch_access import ACT_OWN, APPROVE, SUPERVISE, allowed
from ioportal.messaging.followups import follow_up_links
from ioportal.messaging.forms import RejectForm
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.messaging.preview import payment_box, render_preview
from ioportal.messaging.retention import personal_data_purged, personal_data_until
from ioportal.recipients.rendering import delivery_content, placeholder_names
from ioportal.remotecontent.models import RemoteContentAccess
from ioportal.remotecontent.selectors import (
    delivery_has_attachments,
    dispatch_access_counts,
    dispatch_has_attachments,
)
from ioportal.sending import outcomes as outcome_texts
from ioportal.sending import selectors
from ioportal.sending.audit import Action
from ioportal.sending.forms import GROUP_LABELS, DeliveryFilterForm, has_filters
from ioportal.sending.models import ApiCall, UncertainResolution
from ioportal.sending.status import (
    payment_status_text,
    premium_status_rows,
    read_status_text,
)

DELIVERIES_PAGE_SIZE = 50
# Seconds between two refreshes of a page while something is being sent.
REFRESH_SECONDS = 3
# Seconds between two refreshes of a sent dispatch's outcomes, while IO's are still to come
# (the first status read of a message is 30 s after IO accepted it: SENDING_POLL_INTERVALS).
OUTCOMES_REFRESH_SECONDS = 15

OPERATION_LABELS = {
    "get_profile": gettext_lazy("Verifica del destinatario"),
    "submit_message": gettext_lazy("Invio del messaggio"),
    "get_message": gettext_lazy("Lettura dello stato"),
}
UNREACHABLE_REJECTED = "rejected"


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def bar(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    """The segments of a stacked outcome bar: key, label, count, x and width in percent of
    the recipients (an SVG bar: no inline style, which the CSP refuses)."""
    total = outcome["recipients"]
    segments = []
    x = 0.0
    for key, _states in selectors.OUTCOME_GROUPS:
        n = outcome["groups"][key]
        if not n or not total:
            continue
        width = 100.0 * n / total
        segments.append(
            {
                "key": key,
                "label": GROUP_LABELS[key],
                "n": n,
                # Strings: a localized float ("12,5") is not an SVG length.
                "x": f"{x:.3f}",
                "width": f"{width:.3f}",
            }
        )
        x += width
    return segments


def bar_text(outcome: dict[str, Any]) -> str:
    """The bar in words, for screen readers."""
    parts = [
        f"{GROUP_LABELS[key]}: {grouped(outcome['groups'][key])}"
        for key, _s in selectors.OUTCOME_GROUPS
        if outcome["groups"][key]
    ]
    return _("%(total)s destinatari. ") % {"total": grouped(outcome["recipients"])} + "; ".join(
        parts
    )


def history_context(request: HttpRequest, page: Page) -> dict[str, Any]:
    """Rows of the history page: (dispatch, outcomes, bar, bar text), one grouped query."""
    dispatches = list(page.object_list)
    counts = selectors.outcomes_of(dispatches)
    rows = [(d, counts[d.pk], bar(counts[d.pk]), bar_text(counts[d.pk])) for d in dispatches]
    return {
        "page": page,
        "rows": rows,
        "active": selectors.any_active(dispatches),
        "refresh_seconds": REFRESH_SECONDS,
        "query": _query_without_page(request),
        "filtered": has_filters(request.GET),
    }


def dispatch_state_text(dispatch: Dispatch, outcome: dict[str, Any]) -> str:
    """The state of a dispatch as its pages say it, true at every moment: "Completato" only
    once every message has a final outcome; before, with nothing left to send, "Inviato,
    esiti in arrivo" (IO's outcomes come from the status reads that follow). A completed
    dispatch with uncertain outcomes says how many wait for a decision."""
    if selectors.awaiting_outcomes(dispatch, outcome):
        state = _("Inviato, esiti in arrivo")
    else:
        state = str(dispatch.get_state_display())
    uncertain = selectors.uncertain_to_decide(outcome)
    if dispatch.state == Dispatch.State.COMPLETED and uncertain:
        return ngettext(
            "%(state)s: %(count)s esito incerto attende una decisione",
            "%(state)s: %(count)s esiti incerti attendono una decisione",
            uncertain,
        ) % {"state": state, "count": grouped(uncertain)}
    return state


def _rate(part: int, whole: int) -> int | None:
    return round(100 * part / whole) if whole else None


def progress_context(membership: Membership, dispatch: Dispatch) -> dict[str, Any]:
    """The outcome block: counts per group in plain Italian, the bar, rates, the reasons for
    not reachable citizens, Premium read / paid / opened / downloaded."""
    outcome = selectors.outcomes(dispatch=dispatch)
    total = outcome["total"]
    groups = outcome["groups"]
    reasons = [
        (
            str(outcome_texts.TEXTS.get(reason))
            if reason in outcome_texts.TEXTS
            else (
                str(outcome_texts.STATE_TEXTS[Delivery.State.REJECTED])
                if reason == UNREACHABLE_REJECTED
                else _("Motivo non indicato.")
            ),
            n,
        )
        for reason, n in sorted(outcome["unreachable_by_reason"].items(), key=lambda item: -item[1])
    ]
    premium = None
    if dispatch.feature_level == FeatureLevel.ADVANCED:
        accesses = dispatch_access_counts(dispatch=dispatch)
        premium = {
            "read": selectors.read_rate(read=outcome["read"], unread=outcome["unread"]),
            "paid": outcome["paid"],
            "with_payment": outcome["with_payment_status"],
            "paid_rate": _rate(outcome["paid"], outcome["with_payment_status"]),
            **accesses,
            # Opened and downloaded only where IO can fetch files (once the personal data
            # are deleted the files are gone, the accesses stay).
            "with_attachments": bool(accesses["opened"] or accesses["downloaded"])
            or dispatch_has_attachments(dispatch=dispatch),
        }
    finished = total - groups["waiting"] - groups["accepted"]
    awaiting = selectors.awaiting_outcomes(dispatch, outcome)
    # Over every recipient, also those of a list still being turned into deliveries.
    recipients = outcome["recipients"]
    return {
        "dispatch": dispatch,
        "outcome": outcome,
        "recipients": recipients,
        "groups": [
            (key, GROUP_LABELS[key], groups[key], _rate(groups[key], recipients))
            for key, _s in selectors.OUTCOME_GROUPS
        ],
        "bar": bar(outcome),
        "bar_text": bar_text(outcome),
        "finished": finished,
        "finished_rate": _rate(finished, recipients) or 0,
        "reasons": reasons,
        "premium": premium,
        "state_text": dispatch_state_text(dispatch, outcome),
        "awaiting_outcomes": awaiting,
        "uncertain_to_decide": selectors.uncertain_to_decide(outcome),
        # Sending: every few seconds; only IO's outcomes to come: as often as they are read.
        "active": dispatch.state in selectors.ACTIVE_DISPATCH_STATES or bool(awaiting),
        "refresh_seconds": REFRESH_SECONDS if not awaiting else OUTCOMES_REFRESH_SECONDS,
        "is_supervisor": allowed(membership, dispatch, SUPERVISE),
    }


# The uncertain deliveries a page lists (and a decision on them names) at most.
UNCERTAIN_SHOWN = 200

TIMELINE_ACTIONS = {
    Action.DISPATCH_PAUSED: gettext_lazy("Sospeso"),
    Action.DISPATCH_AUTO_PAUSED: gettext_lazy("Sospeso automaticamente"),
    Action.DISPATCH_RESUMED: gettext_lazy("Ripreso"),
    Action.DISPATCH_CANCELLED: gettext_lazy("Annullato"),
}
# People's decisions on some deliveries of a dispatch, shown with how many and by whom.
TIMELINE_DECISIONS = (
    Action.DELIVERY_MARKED_SENT,
    Action.DELIVERY_RESENT,
    Action.DISPATCH_RETRY_FAILED,
)
# The audit events of the timeline of one dispatch, at most (oldest first).
TIMELINE_EVENTS = 100


def _decision_text(event: AuditEvent) -> str:
    changes = event.changes if isinstance(event.changes, dict) else {}
    deliveries = changes.get("deliveries")
    n = len(deliveries) if isinstance(deliveries, list) else int(deliveries or 0)
    count = {"count": grouped(n)}
    if event.action == Action.DELIVERY_MARKED_SENT:
        return (
            ngettext(
                "Esito incerto segnato come inviato da una persona: %(count)s destinatario",
                "Esiti incerti segnati come inviati da una persona: %(count)s destinatari",
                n,
            )
            % count
        )
    if event.action == Action.DELIVERY_RESENT:
        return (
            ngettext(
                "Esito incerto inviato di nuovo: %(count)s destinatario",
                "Esiti incerti inviati di nuovo: %(count)s destinatari",
                n,
            )
            % count
        )
    return (
        ngettext(
            "Nuovo tentativo per %(count)s messaggio non riuscito",
            "Nuovo tentativo per %(count)s messaggi non riusciti",
            n,
        )
        % count
    )


def _reopened(event: AuditEvent) -> bool:
    """Whether the event (a resend or a retry) reopened the completed dispatch: it then
    names when the dispatch had ended (`previous_end`)."""
    return isinstance(event.changes, dict) and bool(event.changes.get("previous_end"))


def timeline(dispatch: Dispatch) -> list[tuple[Any, str, str]]:
    """(when, what, who) of a dispatch, oldest first: created, approved or rejected,
    scheduled, started, paused / resumed / cancelled and people's decisions on deliveries
    (from the audit trail: how many, by whom), the first end of sending, and the rounds of
    a resend or a retry that reopened it, each with its end.

    Ordered by the true order of events: by time, and on equal times (or a start stamped a
    moment before the row's own creation, in the same request) by their logical order, so
    "Creato" always comes first and "Avviato" never before it."""
    # (when, logical rank, what, who)
    events: list[tuple[Any, int, str, str]] = [
        (dispatch.created_at, 0, _("Creato"), str(dispatch.created_by))
    ]
    if dispatch.approved_at:
        events.append((dispatch.approved_at, 1, _("Approvato"), str(dispatch.approved_by or "")))
    if dispatch.scheduled_at:
        # Chosen when the dispatch was created: shown then, with the moment it is due.
        due = localtime(dispatch.scheduled_at)
        scheduled = _("Programmato per il %(date)s alle %(time)s") % {
            "date": date_format(due, "SHORT_DATE_FORMAT"),
            "time": date_format(due, "TIME_FORMAT"),
        }
        events.append((dispatch.created_at, 2, scheduled, str(dispatch.created_by or "")))
    if dispatch.started_at:
        events.append((dispatch.started_at, 3, _("Avviato"), ""))
    changes = list(
        AuditEvent.objects.filter(
            organization_id=dispatch.organization_id,
            target_type="dispatch",
            target_id=str(dispatch.public_id),
            action__in=[*TIMELINE_ACTIONS, *TIMELINE_DECISIONS],
        ).order_by("created_at", "id")[:TIMELINE_EVENTS]
    )
    for event in changes:
        if event.action in TIMELINE_ACTIONS:
            what = str(TIMELINE_ACTIONS[event.action])  # type: ignore[index]
        else:
            what = _decision_text(event)
        events.append((event.created_at, 4, what, event.actor_label))
    # A round reopened by a resend or a retry ends where the next reopening says the
    # dispatch had ended, the last one with the dispatch's `resend_finished_at`.
    # A cancellation ends its round by itself, with who cancelled.
    reopenings = [event for event in changes if _reopened(event)]
    round_ends = [parse_datetime(event.changes["previous_end"]) for event in reopenings[1:]]
    if reopenings and dispatch.state != Dispatch.State.CANCELLED:
        round_ends.append(dispatch.resend_finished_at)
    for end in round_ends:
        if end:
            events.append((end, 5, _("Nuovo invio terminato"), ""))
    if dispatch.finished_at:
        # The end of a dispatch is its state's: a cancelled one ends with its cancellation
        # (the audit trail's, with who did it; `finished_at` is set with the state just
        # before it is audited), never with a "Concluso" before it. The first end of
        # sending stays where it was when a resend or a retry reopened the dispatch.
        if dispatch.state == Dispatch.State.REJECTED:
            events.append((dispatch.finished_at, 5, _("Respinto"), ""))
        elif dispatch.state == Dispatch.State.COMPLETED or reopenings:
            # Nothing left to send; IO's outcomes may still be coming (the progress block).
            events.append((dispatch.finished_at, 5, _("Invio terminato"), ""))
        elif dispatch.state == Dispatch.State.CANCELLED and not any(
            event.action == Action.DISPATCH_CANCELLED for event in changes
        ):
            events.append(
                (dispatch.finished_at, 5, str(TIMELINE_ACTIONS[Action.DISPATCH_CANCELLED]), "")
            )
    created = dispatch.created_at

    def order(event: tuple[Any, int, str, str]) -> tuple[Any, int]:
        # Nothing happens to a dispatch before it exists.
        when = event[0]
        return (max(when, created) if created and when else when, event[1])

    return [(when, what, who) for when, _rank, what, who in sorted(events, key=order)]


def dispatch_context(
    request: HttpRequest, membership: Membership, dispatch: Dispatch
) -> dict[str, Any]:
    """Everything the dispatch page shows."""
    filter_form = DeliveryFilterForm(request.GET or None)
    deliveries = filter_form.apply(
        Delivery.objects.filter(dispatch=dispatch).order_by("row_number", "id")
    )
    page = Paginator(deliveries, DELIVERIES_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)  # read once, shown and looked up
    premium_rows = (
        premium_status_rows(deliveries=page.object_list)
        if dispatch.feature_level == FeatureLevel.ADVANCED
        else {}
    )
    supervisor = allowed(membership, dispatch, SUPERVISE)
    uncertain = (
        list(
            Delivery.objects.filter(dispatch=dispatch, state=Delivery.State.UNCERTAIN)[
                :UNCERTAIN_SHOWN
            ]
        )
        if supervisor
        else []
    )
    return {
        **progress_context(membership, dispatch),
        "content": render_preview(subject=dispatch.subject, markdown=dispatch.markdown),
        # A single citizen's message shows its payment notice and due date with its text (a
        # list's differ from citizen to citizen: each on its delivery's page).
        "content_payment": single_payment(dispatch),
        # "I segnaposto sono riempiti per ogni cittadino" only where there are some to fill:
        # never for a single citizen's message, nor for a text without placeholders.
        "per_citizen_content": dispatch.kind != Dispatch.Kind.SINGLE
        and bool(placeholder_names(dispatch.subject, dispatch.markdown)),
        "timeline": timeline(dispatch),
        "filter_form": filter_form,
        "filtered": bool(filter_form.is_valid() and filter_form.cleaned_data["esito"]),
        # While the list becomes deliveries the actions and the recipients refresh too.
        "preparing": dispatch.state == Dispatch.State.PREPARING,
        "page": page,
        "query": _query_without_page(request),
        "rows": [(d, outcome_texts.describe_delivery(d), premium_rows.get(d.pk)) for d in page],
        "can_control": allowed(membership, dispatch, ACT_OWN),
        "can_approve": allowed(membership, dispatch, APPROVE),
        "own": dispatch.created_by_id == membership.user_id,
        "uncertain": [(d, outcome_texts.describe_delivery(d)) for d in uncertain],
        "reject_form": RejectForm(),
        "personal_data_until": personal_data_until(dispatch),
        # Why each download cannot be had ("": offered), as its endpoint refuses it.
        "refusals": (
            {
                "export": availability.deliveries_export_refusal(dispatch),
                "handoff": availability.handoff_refusal(dispatch),
                "proofs": availability.dispatch_proofs_refusal(dispatch),
            }
            if supervisor
            else {}
        ),
        "carnet_need": (
            dispatch_carnet_need(dispatch) if allowed(membership, dispatch, APPROVE) else None
        ),
        **follow_up_links(membership, dispatch),
    }


# Calls that are attempts at getting the message to the citizen (status reads are not).
ATTEMPT_OPERATIONS = ("get_profile", "submit_message")


def call_rows_of(calls: list[ApiCall]) -> list[dict[str, Any]]:
    """The rows of a delivery's IO calls, oldest first: each call numbered as the attempt of
    its operation (1 for the first profile check, 2 for the second, …), its outcome in
    words."""
    attempts: Counter[str] = Counter()
    rows = []
    for call in calls:
        attempts[call.operation] += 1
        rows.append(
            {
                "call": call,
                "operation": OPERATION_LABELS.get(call.operation, call.operation),
                "attempt": attempts[call.operation],
                "ok": call.outcome == outcome_texts.CALL_OK,
                "outcome": outcome_texts.call_outcome_text(call.outcome),
            }
        )
    return rows


def attempts_made(call_rows: list[dict[str, Any]]) -> int:
    """How many attempts were made for a delivery: the highest attempt number its IO calls
    table shows for a profile check or a submission (0 when IO was never called)."""
    return max(
        (row["attempt"] for row in call_rows if row["call"].operation in ATTEMPT_OPERATIONS),
        default=0,
    )


def delivery_history(
    delivery: Delivery,
    calls: list[ApiCall],
    resolutions: list[UncertainResolution],
    accesses: list[RemoteContentAccess],
) -> list[tuple[Any, str]]:
    """What happened to a delivery, oldest first, each event once: prepared, first attempt
    (the first IO call; a check made without calling IO says so), accepted by IO, uncertain,
    the people's decisions, the final state with its reason, read and paid (Premium), IO's
    reads of the content. What only IO's status tells (delivered, rejected, read, paid) has
    no moment from IO: it is placed and labelled at the moment the portal learned it."""
    history: list[tuple[Any, str]] = [(delivery.created_at, _("Messaggio preparato"))]
    attempts = [call for call in calls if call.operation in ATTEMPT_OPERATIONS]
    if attempts:
        history.append((attempts[0].created_at, _("Primo tentativo")))
    elif delivery.first_attempt_at:
        history.append((delivery.first_attempt_at, _("Destinatario verificato senza chiamare IO")))
    if delivery.submitted_at:
        history.append((delivery.submitted_at, _("Accettato da IO")))
    if delivery.uncertain_since:
        history.append((delivery.uncertain_since, _("Esito incerto")))
    for resolution in resolutions:
        history.append(
            (
                resolution.decided_at,
                f"{resolution.get_decision_display()} ({resolution.decided_by})",
            )
        )
    # A delivery marked as sent ends with the decision above, which names who took it.
    closed_by_decision = delivery.state == Delivery.State.MARKED_SENT and any(
        r.decision == UncertainResolution.Decision.MARK_SENT for r in resolutions
    )
    opened = [a for a in accesses if a.outcome == RemoteContentAccess.Outcome.OK]
    if delivery.finished_at and not closed_by_decision:
        state = str(delivery.get_state_display())
        reason = outcome_texts.describe_delivery(delivery)
        if delivery.state in outcome_texts.WITH_REASON and reason != state:
            state = f"{state}: {reason}"
        when = delivery.finished_at
        if delivery.io_status:
            # IO's message status has no moment (IO-API.md, GetMessage): the portal learns
            # the outcome at a status read, or earlier when IO asks for the message's content
            # for the citizen, which it does only for a delivered message.
            if delivery.state == Delivery.State.PROCESSED and opened:
                when = min(when, opened[0].created_at)
            state = _("%(event)s (rilevato alle %(time)s)") % {
                "event": state,
                "time": date_format(localtime(when), "TIME_FORMAT"),
            }
        history.append((when, state))
    if delivery.read_at:
        # Told by a status read ("READ"), with no moment either.
        history.append(
            (
                delivery.read_at,
                _("Letto dal cittadino (rilevato alle %(time)s)")
                % {"time": date_format(localtime(delivery.read_at), "TIME_FORMAT")},
            )
        )
    if delivery.paid_at:
        history.append(
            (
                delivery.paid_at,
                _("Avviso pagato (rilevato alle %(time)s)")
                % {"time": date_format(localtime(delivery.paid_at), "TIME_FORMAT")},
            )
        )
    for access in opened:
        history.append((access.created_at, str(access.get_operation_display())))
    # Stable: events at the same moment keep the order above (outcome, read, accesses).
    history.sort(key=lambda item: item[0])
    return history


def delivery_payment(delivery: Delivery) -> dict[str, Any] | None:
    """The payment notice and due date of one citizen's message, as the phone shows them."""
    return payment_box(
        amount=delivery.payment_amount,
        notice_number=delivery.notice_number,
        due_date=delivery.due_date,
    )


def single_payment(dispatch: Dispatch) -> dict[str, Any] | None:
    """The payment notice and due date of a single citizen's message (`delivery_payment`),
    None for a list or once the personal data are deleted."""
    if dispatch.kind != Dispatch.Kind.SINGLE or personal_data_purged(dispatch):
        return None
    delivery = Delivery.objects.filter(dispatch=dispatch).first()
    return delivery_payment(delivery) if delivery is not None else None


def delivery_context(delivery: Delivery) -> dict[str, Any]:
    """Everything the delivery page shows."""
    dispatch = delivery.dispatch
    subject, markdown = (
        ("", "") if personal_data_purged(dispatch) else delivery_content(dispatch, delivery)
    )
    calls = list(ApiCall.objects.filter(delivery=delivery).order_by("created_at", "id")[:500])
    call_rows = call_rows_of(calls)
    accesses = list(
        RemoteContentAccess.objects.filter(delivery=delivery)
        .select_related("attachment")
        .order_by("created_at", "id")[:200]
    )
    resolutions = list(
        UncertainResolution.objects.filter(delivery=delivery)
        .select_related("decided_by")
        .order_by("decided_at")
    )
    history = delivery_history(delivery, calls, resolutions, accesses)
    payment = None if personal_data_purged(dispatch) else delivery_payment(delivery)
    return {
        "delivery": delivery,
        "dispatch": dispatch,
        "proof_refusal": availability.delivery_proof_refusal(delivery),
        "purged_at": dispatch.personal_data_purged_at,
        "outcome_text": outcome_texts.describe_delivery(delivery),
        "message": render_preview(subject=subject, markdown=markdown),
        "payment": payment,
        "calls": call_rows,
        "attempts": attempts_made(call_rows),
        "history": history,
        "accesses": accesses,
        "is_premium": dispatch.feature_level == FeatureLevel.ADVANCED,
        # Opened and downloaded only where IO can fetch files (`progress_context`).
        "with_attachments": bool(accesses) or delivery_has_attachments(delivery=delivery),
        "read_text": read_status_text(delivery.read_status),
        "payment_text": payment_status_text(delivery.payment_status),
    }


def search_rows(results: list[Delivery]) -> list[tuple[Delivery, str]]:
    return [(d, outcome_texts.describe_delivery(d)) for d in results]
