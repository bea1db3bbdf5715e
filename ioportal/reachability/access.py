"""Access to reachability checks: every view gets its check through `get_check_for_user`."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from ioportal.accounts.access import (
    current_membership,
    parse_public_id,
    require_own_or_supervised,
)
from ioportal.accounts.models import Membership
from ioportal.reachability.models import ReachabilityCheck


def checks_visible_to(membership: Membership) -> QuerySet[ReachabilityCheck]:
    """The organization's checks for supervisors and admins; an operator's own for operators
    (a check holds personal data, like a recipient list)."""
    checks = ReachabilityCheck.objects.filter(organization=membership.organization)
    if not membership.has_role(Membership.Role.SUPERVISOR):
        checks = checks.filter(created_by=membership.user)
    return checks.select_related("service", "created_by").defer("pending_rows")


def get_check_for_user(request: HttpRequest, public_id: Any) -> ReachabilityCheck:
    """A check of the current organization the member may see. Another organization's check,
    or a malformed id, answers 404; below operator, or an operator's colleague's check, 403."""
    membership = current_membership(request)
    check = get_object_or_404(
        ReachabilityCheck.objects.select_related("service", "created_by", "organization").defer(
            "pending_rows"
        ),
        organization=membership.organization,
        public_id=parse_public_id(public_id),
    )
    require_own_or_supervised(membership, check.created_by_id)
    return check
