"""Access to dispatches from the sending pages.

Operators see the dispatches of the services they may use, and may pause, resume or cancel
the ones they created; supervisors and admins see and act on every dispatch of the
organization, retry failed deliveries and resolve uncertain ones.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from ioportal.accounts.access import current_membership, parse_public_id
from ioportal.accounts.models import Membership
from ioportal.messaging.models import Dispatch

ACT_OWN = "act_own"  # pause / resume / cancel
SUPERVISE = "supervise"  # retry failed, resolve uncertain


def dispatches_visible_to(membership: Membership) -> QuerySet[Dispatch]:
    dispatches = Dispatch.objects.filter(organization=membership.organization)
    if not membership.has_role(Membership.Role.SUPERVISOR):
        dispatches = dispatches.filter(
            Q(service__all_operators=True) | Q(service__allowed_members=membership)
        ).distinct()
    return dispatches


def can_control(membership: Membership, dispatch: Dispatch) -> bool:
    return membership.has_role(Membership.Role.SUPERVISOR) or (
        dispatch.created_by_id == membership.user_id
    )


def get_dispatch_for_user(request: HttpRequest, public_id: Any, action: str = "") -> Dispatch:
    """A dispatch the current membership may see (404 otherwise, also for other
    organizations); 403 when it may see it but not do `action`."""
    membership = current_membership(request)
    dispatch = get_object_or_404(
        dispatches_visible_to(membership).select_related("service", "created_by"),
        public_id=parse_public_id(public_id),
    )
    if dispatch.state in (Dispatch.State.DRAFT,) and not can_control(membership, dispatch):
        raise Http404
    if action == ACT_OWN and not can_control(membership, dispatch):
        raise PermissionDenied
    if action == SUPERVISE and not membership.has_role(Membership.Role.SUPERVISOR):
        raise PermissionDenied
    return dispatch
