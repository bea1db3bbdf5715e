"""Template helpers of two-step verification."""

from typing import Any

from django import template

from ioportal.accounts.access import has_confirmed_device, otp_reset_allowed
from ioportal.accounts.models import User

register = template.Library()


@register.simple_tag(takes_context=True)
def otp_can_reset(context: dict[str, Any], target: User) -> bool:
    """Whether to offer the signed-in user to reset `target`'s second factor: the access rule
    allows it and `target` has one to reset (someone who never enrolled has nothing)."""
    request = context.get("request")
    actor = getattr(request, "user", None)
    if not isinstance(actor, User):
        return False
    return otp_reset_allowed(actor=actor, target=target) and has_confirmed_device(target)
