"""The one access rule for dispatches and their deliveries: every view, API and export goes
through these helpers.

Who sees what:
- another organization's dispatch or delivery answers 404 (its existence is not revealed);
- supervisors and admins see every dispatch of the organization (the history is theirs:
  README's role table);
- operators see only the dispatches they created themselves, drafts included (a service
  taken away later does not hide their own work); another user's dispatch answers them 404,
  as another organization's does, so its deliveries, fiscal codes and proofs stay hidden;
- a delivery is seen by whoever sees its dispatch.

What they may do: the author, supervisors and admins pause, resume and cancel (`ACT_OWN`);
supervisors and admins retry failed deliveries, resolve uncertain ones, export the outcomes
and search by fiscal code (`SUPERVISE`); a supervisor other than the author approves or
rejects (`APPROVE`). A visible object with a forbidden action answers 403.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from ioportal.accounts.access import current_membership, parse_public_id
from ioportal.accounts.models import Membership
from ioportal.messaging.models import Delivery, Dispatch

VIEW = ""
ACT_OWN = "act_own"  # pause / resume / cancel
SUPERVISE = "supervise"  # retry failed, resolve uncertain, export, search by fiscal code
APPROVE = "approve"  # approve or reject a dispatch awaiting approval
ACTIONS = (VIEW, ACT_OWN, SUPERVISE, APPROVE)


def dispatches_visible_to(membership: Membership) -> QuerySet[Dispatch]:
    """The dispatches `membership` may see (the rule above): every one of the organization
    for a supervisor or admin, an operator's own, none below operator."""
    dispatches = Dispatch.objects.filter(organization_id=membership.organization_id)
    if membership.has_role(Membership.Role.SUPERVISOR):
        return dispatches
    if not membership.has_role(Membership.Role.OPERATOR):
        return dispatches.none()
    return dispatches.filter(created_by_id=membership.user_id)


def deliveries_visible_to(membership: Membership) -> QuerySet[Delivery]:
    """The deliveries of the dispatches `membership` may see."""
    return Delivery.objects.filter(dispatch__in=dispatches_visible_to(membership).values("pk"))


def can_control(membership: Membership, dispatch: Dispatch) -> bool:
    """Pause, resume, cancel: the author, supervisors and admins."""
    return membership.has_role(Membership.Role.SUPERVISOR) or (
        dispatch.created_by_id == membership.user_id
    )


def can_approve(membership: Membership, dispatch: Dispatch) -> bool:
    """Approve or reject: a supervisor or admin other than the author (four eyes)."""
    return (
        membership.has_role(Membership.Role.SUPERVISOR)
        and dispatch.created_by_id != membership.user_id
    )


def allowed(membership: Membership, dispatch: Dispatch, action: str) -> bool:
    """True when `membership`, which sees `dispatch`, may do `action` on it."""
    if action == VIEW:
        return True
    if action == ACT_OWN:
        return can_control(membership, dispatch)
    if action == SUPERVISE:
        return membership.has_role(Membership.Role.SUPERVISOR)
    if action == APPROVE:
        return can_approve(membership, dispatch)
    raise ValueError(f"unknown action {action!r}")


def get_dispatch_for_user(request: HttpRequest, public_id: Any, action: str = VIEW) -> Dispatch:
    """The dispatch with `public_id` if the current membership sees it (else Http404, also
    for a malformed id or another organization); PermissionDenied (403) when it sees it but
    may not do `action` (one of ACTIONS)."""
    membership = current_membership(request)
    dispatch = get_object_or_404(
        dispatches_visible_to(membership).select_related(
            "service", "template", "created_by", "approved_by"
        ),
        public_id=parse_public_id(public_id),
    )
    if not allowed(membership, dispatch, action):
        raise PermissionDenied
    return dispatch


def get_delivery_for_user(request: HttpRequest, public_id: Any, action: str = VIEW) -> Delivery:
    """The delivery with `public_id` if the current membership sees its dispatch (else
    Http404); PermissionDenied when it may not do `action` on that dispatch."""
    membership = current_membership(request)
    try:
        delivery = (
            deliveries_visible_to(membership)
            .select_related("dispatch__service", "dispatch__template", "dispatch__created_by")
            .get(public_id=parse_public_id(public_id))
        )
    except Delivery.DoesNotExist as exc:
        raise Http404 from exc
    if not allowed(membership, delivery.dispatch, action):
        raise PermissionDenied
    return delivery
