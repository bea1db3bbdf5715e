"""Access to templates and recipient lists: every view goes through these.

Dispatches and deliveries have their one rule in `ioportal.messaging.dispatch_access`.

Another organization's objects answer 404; a role that is too low answers 403.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from ioportal.accounts.access import (
    current_membership,
    parse_public_id,
    require_own_or_supervised,
)
from ioportal.accounts.models import Membership
from ioportal.messaging.models import MessageTemplate
from ioportal.recipients.models import RecipientList


def get_template_for_user(
    request: HttpRequest, public_id: Any, min_role: str = Membership.Role.OPERATOR
) -> MessageTemplate:
    membership = current_membership(request)
    template = get_object_or_404(
        MessageTemplate.objects.select_related("default_service"),
        organization=membership.organization,
        public_id=parse_public_id(public_id),
    )
    if not membership.has_role(min_role):
        raise PermissionDenied
    return template


def get_recipient_list_for_user(request: HttpRequest, public_id: Any) -> RecipientList:
    """A list of the current organization. Operators only reach their own lists (they hold
    personal data); supervisors and admins reach every list of the organization."""
    membership = current_membership(request)
    recipient_list = get_object_or_404(
        RecipientList.objects.select_related("template", "service", "dispatch", "origin"),
        organization=membership.organization,
        public_id=parse_public_id(public_id),
    )
    require_own_or_supervised(membership, recipient_list.created_by_id)
    return recipient_list
