"""The request type of pages behind sign-in, so views read `request.user` as a `User`."""

from django.http import HttpRequest

from ioportal.accounts.models import Membership, Organization, User


class AuthenticatedHttpRequest(HttpRequest):
    """A request of a signed-in user: what `login_required`, `role_required` and
    `superuser_required` let through. The authentication middleware sets `user`;
    accounts.middleware the user's active memberships and the organization selected in the
    header (None when there is none)."""

    user: User
    memberships: list[Membership]
    membership: Membership | None
    organization: Organization | None
