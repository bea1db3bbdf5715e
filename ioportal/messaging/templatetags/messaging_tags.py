"""Dashboard cards of the compose flow: approvals waiting and the author's notifications."""

from typing import Any

from django import template

from ioportal.accounts.models import Membership
from ioportal.messaging import selectors

register = template.Library()


@register.inclusion_tag("messaging/_dashboard_cards.html", takes_context=True)
def messaging_dashboard_cards(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    membership: Membership | None = getattr(request, "membership", None)
    if membership is None:
        return {"membership": None}
    is_supervisor = membership.has_role(Membership.Role.SUPERVISOR)
    awaiting = (
        list(selectors.dispatches_awaiting_approval(organization=membership.organization)[:10])
        if is_supervisor
        else []
    )
    return {
        "membership": membership,
        "is_supervisor": is_supervisor,
        "is_admin": membership.has_role(Membership.Role.ADMIN),
        "awaiting": [d for d in awaiting if d.created_by_id != request.user.pk],
        "notifications": list(
            selectors.unread_notifications(user=request.user, organization=membership.organization)[
                :10
            ]
        ),
        "csrf_token": context.get("csrf_token"),
    }
