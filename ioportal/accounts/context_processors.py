from typing import Any

from django.http import HttpRequest


def organization(request: HttpRequest) -> dict[str, Any]:
    """The current organization and membership, for the header and the navigation."""
    membership = getattr(request, "membership", None)
    return {
        "current_membership": membership,
        "current_organization": getattr(request, "organization", None),
        "user_memberships": getattr(request, "memberships", []),
        "is_org_admin": bool(membership and membership.has_role("admin")),
        "is_org_supervisor": bool(membership and membership.has_role("supervisor")),
    }
