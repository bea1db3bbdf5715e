from typing import Any

from django import template

from ioportal.accounts.models import Membership
from ioportal.messaging.dispatch_access import dispatches_visible_to
from ioportal.messaging.models import Dispatch
from ioportal.messaging.windows import describe_moment
from ioportal.sending import selectors

register = template.Library()

# Dispatches listed on the dashboard; the full history is on the "Invii" page.
RECENT_DISPATCHES = 3


@register.inclusion_tag("sending/_dashboard_cards.html", takes_context=True)
def sending_dashboard_cards(context: dict[str, Any]) -> dict[str, Any]:
    """Dashboard cards: the latest dispatches the member may see, with how many messages
    were delivered (the dispatch page's count, `selectors.outcomes_of`), no worker alive
    and paused dispatches; for supervisors and admins only (an operator's own dispatches
    are in the operator's overview)."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    if membership is None or not membership.has_role(Membership.Role.SUPERVISOR):
        # An operator sees only their own dispatches: the dashboard lists them once, in
        # "I tuoi ultimi invii" (dashboard/_operator.html).
        return {"show": False}
    latest = list(
        dispatches_visible_to(membership)
        .exclude(kind=Dispatch.Kind.TEST)
        .order_by("-created_at")[:RECENT_DISPATCHES]
    )
    outcomes = selectors.outcomes_of(latest)
    recent = [(d, outcomes[d.pk]) for d in latest]
    return {
        "show": True,
        "recent": recent,
        "workers_alive": selectors.workers_alive(),
        "paused": list(selectors.paused_dispatches(organization=membership.organization)[:10]),
    }


@register.simple_tag
def dispatch_state(dispatch: Dispatch, outcome: dict[str, Any]) -> str:
    """`{% dispatch_state dispatch outcome %}`: the state as the dispatch page says it
    (`pages.dispatch_state_text`: "Inviato, esiti in arrivo" until IO's outcomes are in)."""
    from ioportal.sending.pages import dispatch_state_text

    return dispatch_state_text(dispatch, outcome)


@register.filter
def moment(value: Any) -> str:
    """A datetime as `messaging.windows.describe_moment` writes it ("" for None)."""
    return describe_moment(value) if value else ""


@register.filter
def long_day(value: Any) -> str:
    """A date at the start of a line, in the active language: "Martedì 8 dicembre 2026",
    "Tuesday 8 December 2026" (the first letter capitalised, the month as the language
    writes it)."""
    from django.utils.formats import date_format
    from django.utils.text import capfirst

    return capfirst(date_format(value, "l j F Y"))
