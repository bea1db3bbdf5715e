"""Access to remote-content configurations: every view gets one through
`get_rc_configuration_for_user`.

Attachments have no page of their own: operators reach them through their recipient list or
dispatch (messaging and sending access), IO through the signed remote-content endpoints
(io_views).
"""

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from ioportal.accounts.access import current_membership, parse_public_id, require_role
from ioportal.accounts.models import Membership
from ioportal.remotecontent.models import RemoteContentConfiguration


def get_rc_configuration_for_user(
    request: HttpRequest, public_id: object, min_role: str = Membership.Role.ADMIN
) -> RemoteContentConfiguration:
    """A configuration of the current organization: another organization's is a 404, a
    role below `min_role` a 403."""
    membership = current_membership(request)
    configuration = get_object_or_404(
        RemoteContentConfiguration.objects.select_related("organization"),
        organization=membership.organization,
        public_id=parse_public_id(public_id),
    )
    require_role(request, min_role)
    return configuration
