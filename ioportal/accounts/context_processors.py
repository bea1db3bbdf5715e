from typing import Any

from django.http import HttpRequest

from ioportal.accounts.access import pending_invitations
from ioportal.accounts.middleware import two_factor_required


def organization(request: HttpRequest) -> dict[str, Any]:
    """The current organization and membership, for the header and the navigation."""
    membership = getattr(request, "membership", None)
    user = request.user
    verified = bool(getattr(user, "is_verified", lambda: False)())
    return {
        # Until the second factor is passed, the navigation would only lead back to it.
        "show_navigation": user.is_authenticated and (verified or not two_factor_required(request)),
        "current_membership": membership,
        "current_organization": getattr(request, "organization", None),
        "user_memberships": getattr(request, "memberships", []),
        "is_org_admin": bool(membership and membership.has_role("admin")),
        "is_org_supervisor": bool(membership and membership.has_role("supervisor")),
        # Called only when a template reads it (the header, for signed-in people).
        "pending_invitation_count": lambda: (
            pending_invitations(user).count() if user.is_authenticated else 0
        ),
    }
