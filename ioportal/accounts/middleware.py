import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from ioportal.accounts.access import active_memberships, has_confirmed_device, is_verified
from ioportal.accounts.audit import Action
from ioportal.core.services import audit_log

SESSION_ORG_KEY = "ioportal_org"
SESSION_AUTH_AT_KEY = "ioportal_auth_at"

Handler = Callable[[HttpRequest], HttpResponse]


class SessionLimitsMiddleware:
    """Ends a session past its absolute lifetime (the idle limit is the cookie age)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            started = request.session.get(SESSION_AUTH_AT_KEY)
            if started is None:
                request.session[SESSION_AUTH_AT_KEY] = time.time()
            elif time.time() - float(started) > settings.SESSION_ABSOLUTE_TIMEOUT:
                audit_log(action=Action.SESSION_EXPIRED, actor=request.user, request=request)
                logout(request)
                messages.info(request, _("La sessione è scaduta: accedi di nuovo."))
                return redirect(settings.LOGIN_URL)
        return self.get_response(request)


class OrganizationMiddleware:
    """Sets `request.membership` and `request.organization` from the header's selector.

    Only accepted, active memberships count: a pending invitation gives no organization.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.memberships = []  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        request.organization = None  # type: ignore[attr-defined]
        if request.user.is_authenticated:
            memberships = active_memberships(request.user)
            chosen = request.session.get(SESSION_ORG_KEY)
            last_used = getattr(request.user, "last_organization_id", None)
            # The header's choice in this session, else the one used last time, else the first.
            current = next(
                (m for m in memberships if str(m.organization.public_id) == chosen),
                next(
                    (m for m in memberships if m.organization_id == last_used),
                    memberships[0] if memberships else None,
                ),
            )
            request.memberships = memberships  # type: ignore[attr-defined]
            request.membership = current  # type: ignore[attr-defined]
            request.organization = current.organization if current else None  # type: ignore[attr-defined]
        return self.get_response(request)


OTP_EXEMPT_PREFIXES = ("/static/", "/i18n/", "/favicon.ico")
# Reachable between the password and the second factor. Enrolment is added only for an
# account that has no confirmed device: otherwise the password alone would replace it.
OTP_EXEMPT_NAMES = (
    "accounts:login",
    "accounts:logout",
    "accounts:otp_verify",
    "accounts:otp_recovery",
)
OTP_ENROLMENT_NAME = "accounts:otp_setup"


def two_factor_required(request: HttpRequest) -> bool:
    user = request.user
    if user.is_superuser:
        return True
    return any(m.requires_2fa for m in getattr(request, "memberships", []))


class TwoFactorMiddleware:
    """Sends a signed-in user who must use TOTP to verification (or enrolment) first.

    An account with a confirmed device goes to verification from every page but the
    exempt ones, enrolment included; one without goes to enrolment when its role needs it.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.exempt_paths: tuple[str, ...] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not is_verified(request):
            if self.exempt_paths is None:
                self.exempt_paths = tuple(reverse(name) for name in OTP_EXEMPT_NAMES)
            path = request.path
            exempt = path.startswith(OTP_EXEMPT_PREFIXES) or path in self.exempt_paths
            if not exempt:
                query = urlencode({"next": path})
                if has_confirmed_device(user):
                    return redirect(f"{reverse('accounts:otp_verify')}?{query}")
                enrolment = reverse(OTP_ENROLMENT_NAME)
                if path != enrolment and two_factor_required(request):
                    return redirect(f"{enrolment}?{query}")
        return self.get_response(request)
