"""Two-step verification pages: enrolment, verification, recovery codes, reset by an admin.

The rule of every page here: no step gives more than the person already proved.
Without the second factor only an account that has none may enrol; replacing the
authenticator, renewing recovery codes and seeing them need a verified session.
"""

import base64
import time
from io import BytesIO
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts import services
from ioportal.accounts.access import (
    get_user_for_otp_reset,
    has_confirmed_device,
    is_verified,
    otp_enrolment_allowed,
)
from ioportal.accounts.audit import Action
from ioportal.accounts.forms import RecoveryCodeForm, TokenForm
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Membership
from ioportal.accounts.views import _safe_next
from ioportal.core.services import audit_log

SESSION_PENDING_DEVICE_KEY = "ioportal_otp_pending_device"
SESSION_NEW_CODES_KEY = "ioportal_otp_new_codes"
# New recovery codes stay readable (page and download) this long, then never again.
NEW_CODES_LIFETIME = 10 * 60


def _to_verification(request: HttpRequest) -> HttpResponse:
    return redirect(f"{reverse('accounts:otp_verify')}?{urlencode({'next': request.path})}")


def _to_enrolment(request: HttpRequest) -> HttpResponse:
    """To enrolment, keeping where the person was going: a page asking for a code is no use
    to an account that has no authenticator app (nor recovery codes) yet."""
    target = _safe_next(request, "")
    query = f"?{urlencode({'next': target})}" if target else ""
    return redirect(f"{reverse('accounts:otp_setup')}{query}")


def _dashboard() -> str:
    return reverse("dashboard:dashboard")


def _token_failed(
    request: AuthenticatedHttpRequest, form: TokenForm | RecoveryCodeForm, field: str
) -> None:
    audit_log(action=Action.OTP_FAILED, actor=request.user, target=request.user, request=request)
    form.add_error(field, _("Il codice non è corretto o è scaduto: riprova."))


def _throttled(form: TokenForm | RecoveryCodeForm, field: str) -> None:
    # django-otp doubles the wait after each wrong code; say so instead of "wrong code".
    form.add_error(field, _("Troppi codici errati: attendi qualche secondo prima di riprovare."))


def _stash_codes(request: AuthenticatedHttpRequest, codes: list[str]) -> None:
    request.session[SESSION_NEW_CODES_KEY] = {
        "user": request.user.pk,
        "at": time.time(),
        "codes": [f"{code[:4]}-{code[4:]}" for code in codes],
    }


def _stashed_codes(request: AuthenticatedHttpRequest) -> list[str]:
    stash = request.session.get(SESSION_NEW_CODES_KEY)
    if not isinstance(stash, dict):
        return []
    fresh = time.time() - float(stash.get("at", 0)) <= NEW_CODES_LIFETIME
    if stash.get("user") != request.user.pk or not fresh or not is_verified(request):
        request.session.pop(SESSION_NEW_CODES_KEY, None)
        return []
    return list(stash.get("codes", []))


@never_cache
@login_required
def otp_setup(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Enrol an authenticator app (QR code, then a first code); also replaces one.

    Reachable before the second factor only by an account that has none.
    """
    user = request.user
    verified = is_verified(request)
    if not otp_enrolment_allowed(user=user, verified=verified):
        return _to_verification(request)
    replacing = verified and has_confirmed_device(user)
    device = services.otp_device_start(
        user=user, device_id=request.session.get(SESSION_PENDING_DEVICE_KEY)
    )
    request.session[SESSION_PENDING_DEVICE_KEY] = device.pk
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not device.verify_is_allowed()[0]:
            _throttled(form, "token")
        elif device.verify_token(form.cleaned_data["token"]):
            codes = services.otp_device_confirm(device=device, verified=verified, request=request)
            services.otp_session_verify(request=request, device=device)
            request.session.pop(SESSION_PENDING_DEVICE_KEY, None)
            _stash_codes(request, codes)
            messages.success(
                request,
                _("App di autenticazione sostituita.")
                if replacing
                else _("App di autenticazione configurata."),
            )
            next_url = _safe_next(request, _dashboard())
            return redirect(f"{reverse('accounts:otp_codes')}?{urlencode({'next': next_url})}")
        else:
            _token_failed(request, form, "token")
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = BytesIO()
    image.save(buffer)
    secret = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "accounts/otp_setup.html",
        {
            "form": form,
            "replacing": replacing,
            "qr_svg_b64": base64.b64encode(buffer.getvalue()).decode(),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "next": _safe_next(request, ""),
        },
    )


@never_cache
@login_required
def otp_verify(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Second step of the sign-in: a code of the authenticator app (enrolment for an account
    that has none)."""
    if not has_confirmed_device(request.user):
        return _to_enrolment(request)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.otp_totp_verify(user=request.user, token=form.cleaned_data["token"])
        except services.OtpThrottledError:
            _throttled(form, "token")
        else:
            if device is not None:
                services.otp_session_verify(request=request, device=device)
                return redirect(_safe_next(request, _dashboard()))
            _token_failed(request, form, "token")
    return render(
        request, "accounts/otp_verify.html", {"form": form, "next": _safe_next(request, "")}
    )


@never_cache
@login_required
def otp_recovery(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Second step of the sign-in with a recovery code, when the phone is not at hand
    (enrolment for an account that has no second factor)."""
    if not has_confirmed_device(request.user):
        return _to_enrolment(request)
    form = RecoveryCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.otp_recovery_verify(
                user=request.user, code=form.cleaned_data["code"], request=request
            )
        except services.OtpThrottledError:
            _throttled(form, "code")
        else:
            if device is not None:
                services.otp_session_verify(request=request, device=device)
                left = services.otp_recovery_codes_left(user=request.user)
                messages.warning(
                    request,
                    ngettext(
                        "Hai usato un codice di recupero: te ne resta %(count)d. Se hai perso "
                        "il telefono, configura subito una nuova app di autenticazione.",
                        "Hai usato un codice di recupero: te ne restano %(count)d. Se hai perso "
                        "il telefono, configura subito una nuova app di autenticazione.",
                        left,
                    )
                    % {"count": left},
                )
                return redirect(_safe_next(request, reverse("accounts:otp_account")))
            _token_failed(request, form, "code")
    return render(
        request, "accounts/otp_recovery.html", {"form": form, "next": _safe_next(request, "")}
    )


@never_cache
@login_required
def otp_account(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The person's own security page: authenticator app and recovery codes left."""
    user = request.user
    return render(
        request,
        "accounts/otp_account.html",
        {
            "has_app": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
            "verified": is_verified(request),
            "codes_left": services.otp_recovery_codes_left(user=user),
        },
    )


@require_POST
@login_required
def otp_codes_regenerate(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A new set of recovery codes, after the second factor; the old ones stop working."""
    if not is_verified(request):
        if has_confirmed_device(request.user):
            return _to_verification(request)
        messages.error(request, _("Configura prima un'app di autenticazione."))
        return redirect("accounts:otp_account")
    try:
        codes = services.otp_recovery_codes_regenerate(user=request.user, request=request)
    except services.NoSecondFactorError:
        messages.error(request, _("Configura prima un'app di autenticazione."))
        return redirect("accounts:otp_account")
    _stash_codes(request, codes)
    query = urlencode({"next": reverse("accounts:otp_account")})
    return redirect(f"{reverse('accounts:otp_codes')}?{query}")


@never_cache
@login_required
def otp_codes(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The recovery codes just issued, shown once; "I saved them" forgets them for good."""
    if request.method == "POST":
        request.session.pop(SESSION_NEW_CODES_KEY, None)
        return redirect(_safe_next(request, reverse("accounts:otp_account")))
    codes = _stashed_codes(request)
    if not codes:
        messages.info(
            request,
            _(
                "I codici di recupero si vedono una volta sola: "
                "se non li hai salvati, generane di nuovi."
            ),
        )
        return redirect("accounts:otp_account")
    return render(
        request,
        "accounts/otp_codes.html",
        {"codes": codes, "next": _safe_next(request, reverse("accounts:otp_account"))},
    )


@never_cache
@login_required
def otp_codes_download(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The recovery codes just issued, as a text file (never cached)."""
    codes = _stashed_codes(request)
    if not codes:
        return redirect("accounts:otp_codes")
    user = request.user
    lines = [
        _("Codici di recupero di ioportal per %(username)s") % {"username": user.username},
        _("Ogni codice vale una volta sola, al posto del codice dell'app di autenticazione."),
        "",
        *codes,
        "",
    ]
    response = HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
    name = f"{pgettext('file name', 'ioportal-codici-di-recupero')}.txt"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
def otp_reset(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """An admin resets a member's second factor, after confirming (POST with `confirm`)."""
    target = get_user_for_otp_reset(request, public_id)
    membership = getattr(request, "membership", None)
    back = (
        "accounts:member_list"
        if membership is not None and membership.has_role(Membership.Role.ADMIN)
        else "dashboard:dashboard"
    )
    if not has_confirmed_device(target):
        messages.info(
            request,
            _("%(name)s non ha configurato la verifica in due passaggi: non c'è nulla da azzerare.")
            % {"name": target},
        )
        return redirect(back)
    if request.method == "POST" and request.POST.get("confirm") == "1":
        services.otp_reset(
            user=target,
            actor=request.user,
            organization=getattr(request, "organization", None),
            request=request,
        )
        messages.success(
            request,
            _(
                "Verifica in due passaggi di %(name)s azzerata: al prossimo accesso "
                "configurerà di nuovo l'app di autenticazione."
            )
            % {"name": target},
        )
        return redirect(back)
    return render(request, "accounts/otp_reset_confirm.html", {"target": target})
