"""Access to IO services: every view gets its service through `get_ioservice_for_user`."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from ioportal.accounts.access import current_membership, parse_public_id
from ioportal.ioservices.models import IOService


def get_ioservice_for_user(request: HttpRequest, public_id: Any, min_role: str) -> IOService:
    """A service of the current organization, if the user's role there is `min_role` or higher.

    Another organization's service answers 404 whatever the role (its existence is not
    revealed); a service of one's own organization with too low a role answers 403.
    """
    membership = current_membership(request)
    service = get_object_or_404(
        IOService.objects.select_related("organization"),
        organization=membership.organization,
        public_id=parse_public_id(public_id),
    )
    if not membership.has_role(min_role):
        raise PermissionDenied
    return service
