"""The request type of pages behind sign-in, so views read `request.user` as a `User`."""

from django.http import HttpRequest

from ioportal.accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request of a signed-in user: what `login_required`, `role_required` and
    `superuser_required` let through (the authentication middleware sets `user`)."""

    user: User
