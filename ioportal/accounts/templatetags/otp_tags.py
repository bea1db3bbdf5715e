"""Template helpers of two-step verification."""

from typing import Any

from django import template

from ioportal.accounts.access import otp_reset_allowed
from ioportal.accounts.models import User

register = template.Library()


@register.simple_tag(takes_context=True)
def otp_can_reset(context: dict[str, Any], target: User) -> bool:
    """Whether the signed-in user may reset `target`'s second factor (the access rule)."""
    request = context.get("request")
    actor = getattr(request, "user", None)
    if not isinstance(actor, User):
        return False
    return otp_reset_allowed(actor=actor, target=target)
