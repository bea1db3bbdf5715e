from typing import Any

from django import template

from ioportal.accounts.models import Membership
from ioportal.sending import selectors

register = template.Library()


@register.inclusion_tag("sending/_dashboard_cards.html", takes_context=True)
def sending_dashboard_cards(context: dict[str, Any]) -> dict[str, Any]:
    """Dashboard cards for supervisors: no worker alive, paused dispatches."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    if membership is None or not membership.has_role(Membership.Role.SUPERVISOR):
        return {"show": False}
    return {
        "show": True,
        "workers_alive": selectors.workers_alive(),
        "paused": list(selectors.paused_dispatches(organization=membership.organization)[:10]),
    }
