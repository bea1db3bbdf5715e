import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseRedirectBase
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _

from ioportal.accounts.access import active_memberships, has_confirmed_device, is_verified
from ioportal.accounts.audit import Action
from ioportal.core.services import audit_log

SESSION_ORG_KEY = "ioportal_org"
SESSION_AUTH_AT_KEY = "ioportal_auth_at"
# Time (epoch seconds) of the user's last own request: background refreshes leave it alone.
SESSION_ACTIVE_AT_KEY = "ioportal_active_at"
# Set by hx-headers on an element that refreshes itself ("every Ns"), to the element's id.
BACKGROUND_REFRESH_HEADER = "X-Background-Refresh"
# The pages a request without a (complete) sign-in is sent to.
SIGN_IN_NAMES = (settings.LOGIN_URL, "accounts:otp_verify", "accounts:otp_setup")

Handler = Callable[[HttpRequest], HttpResponse]


def is_htmx(request: HttpRequest) -> bool:
    """A request htmx made (`HX-Request: true`): answered with a fragment, not a page."""
    return request.headers.get("HX-Request") == "true"


def is_background_refresh(request: HttpRequest) -> bool:
    """True for a page's own periodic refresh, not for anything the user did.

    The polling element names itself in `X-Background-Refresh`; htmx sends the id of the
    element that triggered the request as `HX-Trigger`. The two match only for the polling
    element's own request: an element inside it inherits the header but triggers with its
    own id (or none), so a click there still counts as activity.
    """
    marker = request.headers.get(BACKGROUND_REFRESH_HEADER)
    return is_htmx(request) and bool(marker) and marker == request.headers.get("HX-Trigger")


def _current_page(request: HttpRequest) -> str | None:
    """Path and query of the page an htmx request comes from (`HX-Current-URL`), if local."""
    parts = urlsplit(request.headers.get("HX-Current-URL", ""))
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def sign_in_redirect_for_htmx(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An htmx request sent to a sign-in page moves the whole window there.

    Following the redirect inside the request would swap the whole login page into a part
    of the page. The answer is instead a 204 with `HX-Redirect` to the sign-in page, its
    `next` being the page the request came from (not the fragment's URL). Other responses
    are returned unchanged.
    """
    if not isinstance(response, HttpResponseRedirectBase):
        return response
    target = urlsplit(response["Location"])
    if target.netloc or target.path not in {resolve_url(name) for name in SIGN_IN_NAMES}:
        return response
    patch_vary_headers(response, ("HX-Request",))
    if not is_htmx(request):
        return response
    page = _current_page(request)
    location = f"{target.path}?{urlencode({'next': page})}" if page else target.path
    answer = HttpResponse(status=204)
    answer["HX-Redirect"] = location
    patch_vary_headers(answer, ("HX-Request",))
    return answer


class SessionLimitsMiddleware:
    """Ends a session idle for `SESSION_IDLE_TIMEOUT` seconds or older than
    `SESSION_ABSOLUTE_TIMEOUT` seconds.

    Idleness counts from the user's last own request: a page's background refresh (see
    `is_background_refresh`) is answered while the session is valid but does not extend it.
    An htmx request sent to sign in moves the whole window (`sign_in_redirect_for_htmx`).
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self._expired(request) or self.get_response(request)
        return sign_in_redirect_for_htmx(request, response)

    def _expired(self, request: HttpRequest) -> HttpResponse | None:
        if not request.user.is_authenticated:
            return None
        now = time.time()
        started = request.session.get(SESSION_AUTH_AT_KEY)
        active = request.session.get(SESSION_ACTIVE_AT_KEY)
        if started is None:
            request.session[SESSION_AUTH_AT_KEY] = now
        if (started is not None and now - float(started) > settings.SESSION_ABSOLUTE_TIMEOUT) or (
            active is not None and now - float(active) > settings.SESSION_COOKIE_AGE
        ):
            audit_log(action=Action.SESSION_EXPIRED, actor=request.user, request=request)
            logout(request)
            messages.info(request, _("La sessione è scaduta: accedi di nuovo."))
            return redirect(settings.LOGIN_URL)
        if active is None or not is_background_refresh(request):
            request.session[SESSION_ACTIVE_AT_KEY] = now
        return None


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
