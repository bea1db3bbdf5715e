"""Reads for the sending pages and the dashboard."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from ioportal.accounts.models import Membership, Organization
from ioportal.core.models import WorkerHeartbeat
from ioportal.messaging.dispatch_access import deliveries_visible_to
from ioportal.messaging.models import Delivery, Dispatch


def deliveries_of_citizen_hash(
    *, membership: Membership, fiscal_code_hmac: str
) -> QuerySet[Delivery]:
    """The search by fiscal code: the deliveries to that citizen in every dispatch
    `membership` sees, newest first, by the code's keyed hash
    (`core.fiscalcode.fiscal_code_hmac`): exact match, the code itself not needed. Used by the
    search page, its exports and a prepared export, so all apply the same filter and scoping."""
    return (
        deliveries_visible_to(membership)
        .filter(fiscal_code_hmac=fiscal_code_hmac)
        .order_by("-created_at", "-id")
    )


def paused_dispatches(*, organization: Organization) -> QuerySet[Dispatch]:
    return Dispatch.objects.filter(organization=organization, state=Dispatch.State.PAUSED).order_by(
        "-created_at"
    )


def workers_alive() -> bool:
    """True when some worker cluster ran its heartbeat recently."""
    since = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    return WorkerHeartbeat.objects.filter(seen_at__gte=since).exists()


# --- outcomes of dispatches, for the history and the dispatch page ----------------------------

S = Delivery.State

# The outcome groups shown to people, in the order of the bar: (key, states). "delivered" is
# what IO confirmed; "marked_sent" an uncertain outcome a person declared as received, which
# IO never confirmed: counted apart, never among the delivered.
OUTCOME_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("delivered", (S.PROCESSED,)),
    ("marked_sent", (S.MARKED_SENT,)),
    ("accepted", (S.SUBMITTED,)),
    ("unreachable", (S.SKIPPED, S.REJECTED)),
    ("failed", (S.FAILED,)),
    ("uncertain", (S.UNCERTAIN,)),
    ("cancelled", (S.CANCELLED,)),
    ("waiting", (S.PENDING, S.CHECKING, S.READY, S.RETRY_WAIT, S.SUBMITTING)),
)
GROUP_OF_STATE = {state: key for key, states in OUTCOME_GROUPS for state in states}
ACTIVE_DISPATCH_STATES = (Dispatch.State.PREPARING, Dispatch.State.RUNNING)


def awaiting_outcomes(dispatch: Dispatch, outcome: dict[str, Any]) -> int:
    """How many messages of a dispatch IO accepted and has not yet given a final outcome of
    (delivered, rejected, failed): the status reads go on after the dispatch is COMPLETED
    ("nothing left to send"). `outcome` as `outcomes_by_dispatch` gives it."""
    if dispatch.state != Dispatch.State.COMPLETED:
        return 0
    return int(outcome["groups"]["accepted"])


def uncertain_to_decide(outcome: dict[str, Any]) -> int:
    """How many outcomes of a dispatch are uncertain: they wait for a supervisor's decision
    (marked as sent or sent again) whatever the dispatch's state, a completed one included.
    `outcome` as `outcomes_by_dispatch` gives it."""
    return int(outcome["groups"]["uncertain"])


def awaiting_outcomes_q() -> Q:
    """The rule of `awaiting_outcomes` as one filter on dispatches (an EXISTS subquery): a
    COMPLETED dispatch with messages IO accepted and has not yet given a final outcome of.
    Negated with the state kept (`completed_with_all_outcomes_q`) it is "Completato"."""
    accepted = dict(OUTCOME_GROUPS)["accepted"]
    return Q(state=Dispatch.State.COMPLETED) & Q(
        Exists(Delivery.objects.filter(dispatch_id=OuterRef("pk"), state__in=accepted))
    )


def uncertain_to_decide_q() -> Q:
    """COMPLETED dispatches with uncertain outcomes (an EXISTS subquery): those the pages call
    "Completato: N esiti incerti attendono una decisione" (`uncertain_to_decide`)."""
    return Q(state=Dispatch.State.COMPLETED) & Q(
        Exists(Delivery.objects.filter(dispatch_id=OuterRef("pk"), state=S.UNCERTAIN))
    )


def completed_with_all_outcomes_q() -> Q:
    """COMPLETED dispatches whose every message has its final outcome: those the pages call
    "Completato" (`awaiting_outcomes` is 0)."""
    accepted = dict(OUTCOME_GROUPS)["accepted"]
    return Q(state=Dispatch.State.COMPLETED) & ~Q(
        Exists(Delivery.objects.filter(dispatch_id=OuterRef("pk"), state__in=accepted))
    )


def read_rate(*, read: int, unread: int) -> dict[str, Any]:
    """THE read rate of Premium messages, for every page: {"read": n, "base": n, "percent":
    0–100 with one decimal, or None without a base}. The base is the messages whose reading
    IO reports (READ or UNREAD): those IO reports as UNAVAILABLE (the citizen does not
    share it) or has not reported yet are in neither count, since they may have been read."""
    base = read + unread
    return {"read": read, "base": base, "percent": round(100 * read / base, 1) if base else None}


def _empty_outcomes() -> dict[str, Any]:
    return {
        "total": 0,
        "recipients": 0,
        "states": {},
        "groups": {key: 0 for key, _states in OUTCOME_GROUPS},
        "unreachable_by_reason": {},
        "read": 0,
        "unread": 0,
        "paid": 0,
        "with_payment_status": 0,
    }


def outcomes_by_dispatch(*, dispatch_ids: list[int]) -> dict[int, dict[str, Any]]:
    """{dispatch id: outcomes} for some dispatches, in ONE grouped query answered from the
    index `delivery_dispatch_outcome_idx` (dispatch, state, skip_reason, read_status,
    payment_status): on PostgreSQL an index-only scan of the dispatches' entries, never a
    scan of all deliveries.

    outcomes = {"total": n, "recipients": n (see outcomes_of), "states": {state: n},
    "groups": {group key: n} (OUTCOME_GROUPS),
    "unreachable_by_reason": {skip_reason or "": n}, "read", "unread", "paid",
    "with_payment_status": n}. "read"/"unread" come from IO's read_status (Premium only);
    "paid" over "with_payment_status" (PAID or NOT_PAID reported by IO).
    """
    result = {pk: _empty_outcomes() for pk in dispatch_ids}
    if not dispatch_ids:
        return result
    rows = (
        Delivery.objects.filter(dispatch_id__in=dispatch_ids)
        .values_list("dispatch_id", "state", "skip_reason", "read_status", "payment_status")
        .annotate(n=Count("*"))
        .order_by()
    )
    for dispatch_id, state, reason, read_status, payment_status, n in rows:
        outcome = result[dispatch_id]
        outcome["total"] += n
        outcome["recipients"] += n
        outcome["states"][state] = outcome["states"].get(state, 0) + n
        group = GROUP_OF_STATE.get(state, "waiting")
        outcome["groups"][group] += n
        if group == "unreachable":
            key = reason or ("rejected" if state == S.REJECTED else "")
            outcome["unreachable_by_reason"][key] = outcome["unreachable_by_reason"].get(key, 0) + n
        if read_status == "READ":
            outcome["read"] += n
        elif read_status == "UNREAD":
            outcome["unread"] += n
        if payment_status:
            outcome["with_payment_status"] += n
            if payment_status == "PAID":
                outcome["paid"] += n
    return result


def outcomes_of(dispatches: list[Dispatch]) -> dict[int, dict[str, Any]]:
    """{dispatch id: outcomes} of some dispatches, in one query: THE counts every page shows
    of a dispatch (history, dispatch page, dashboard cards, the operator's overview).

    As outcomes_by_dispatch, with "recipients": how many citizens the dispatch is for. Its
    deliveries, except while they are being created from the list: then the list's valid
    rows (`deliveries_expected`), known from the launch ("0 consegnati su 3.000").
    """
    result = outcomes_by_dispatch(dispatch_ids=[d.pk for d in dispatches])
    for dispatch in dispatches:
        outcome = result[dispatch.pk]
        if dispatch.state == Dispatch.State.PREPARING:
            outcome["recipients"] = max(outcome["total"], dispatch.deliveries_expected)
    return result


def outcomes(*, dispatch: Dispatch) -> dict[str, Any]:
    """The outcomes of one dispatch (see outcomes_of), in one query."""
    return outcomes_of([dispatch])[dispatch.pk]


def any_active(dispatches: list[Dispatch]) -> bool:
    """True while one of them is being prepared or sent: the pages keep refreshing."""
    return any(d.state in ACTIVE_DISPATCH_STATES for d in dispatches)
