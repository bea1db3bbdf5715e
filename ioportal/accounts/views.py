import base64
from io import BytesIO
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts import services
from ioportal.accounts.access import (
    get_membership_for_admin,
    get_organization_for_user,
    require_role,
    role_required,
    superuser_required,
)
from ioportal.accounts.forms import (
    InviteForm,
    OrganizationForm,
    OrganizationSettingsForm,
    RoleForm,
    TokenForm,
)
from ioportal.accounts.middleware import SESSION_ORG_KEY
from ioportal.accounts.models import Membership, Organization
from ioportal.core.services import Action, audit_log


def _safe_next(request: HttpRequest, default: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("core:dashboard")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        audit_log(
            action=Action.PASSWORD_CHANGED,
            actor=self.request.user,
            target=self.request.user,  # type: ignore[arg-type]
            request=self.request,
        )
        messages.success(self.request, _("Password cambiata."))
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        # Django's form_valid would look the account up and send the mail here; the
        # service does the same for every address and leaves both to a background task.
        try:
            services.password_reset_request(email=form.cleaned_data["email"], request=self.request)
        except services.PasswordResetLimited:
            form.add_error(
                None,
                _(
                    "Troppe richieste di reimpostazione della password per questo indirizzo o "
                    "da questa rete: riprova tra un'ora."
                ),
            )
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return redirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    post_reset_login = False


def _token_failed(request: HttpRequest, form: TokenForm, throttled: bool) -> None:
    audit_log(action=Action.OTP_FAILED, actor=request.user, target=request.user, request=request)  # type: ignore[arg-type]
    if throttled:
        form.add_error(
            "token", _("Troppi codici errati: attendi qualche secondo prima di riprovare.")
        )
    else:
        form.add_error("token", _("Il codice non è corretto o è scaduto: riprova."))


def _is_throttled(device: TOTPDevice | None) -> bool:
    # django-otp doubles the wait after each wrong code; say so instead of "wrong code".
    return device is not None and not device.verify_is_allowed()[0]


@login_required
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: show the QR code, confirm with a first code."""
    user = request.user
    device = services.otp_device_start(user=user)  # type: ignore[arg-type]
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        throttled = _is_throttled(device)
        if device.verify_token(form.cleaned_data["token"]):
            services.otp_device_confirm(device=device, actor=user, request=request)  # type: ignore[arg-type]
            otp_login(request, device)
            messages.success(request, _("App di autenticazione configurata."))
            return redirect(_safe_next(request, str(reverse_lazy("core:dashboard"))))
        _token_failed(request, form, throttled)
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = BytesIO()
    image.save(buffer)
    secret = base64.b32encode(device.bin_key).decode()
    return render(
        request,
        "accounts/otp_setup.html",
        {
            "form": form,
            "qr_svg_b64": base64.b64encode(buffer.getvalue()).decode(),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "next": _safe_next(request, ""),
        },
    )


@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    """Second step of the login for users with an authenticator app."""
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        throttled = _is_throttled(TOTPDevice.objects.filter(user=request.user).first())
        device = match_token(request.user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            return redirect(_safe_next(request, str(reverse_lazy("core:dashboard"))))
        _token_failed(request, form, throttled)
    return render(
        request, "accounts/otp_verify.html", {"form": form, "next": _safe_next(request, "")}
    )


@require_POST
@login_required
def switch_organization(request: HttpRequest) -> HttpResponse:
    """Choose the organization to work in; someone else's organization answers 404."""
    organization = get_organization_for_user(
        request.user,  # type: ignore[arg-type]
        request.POST.get("organization", ""),
    )
    request.session[SESSION_ORG_KEY] = str(organization.public_id)
    messages.info(request, _("Ora stai lavorando per %(name)s.") % {"name": organization.name})
    return redirect("core:dashboard")


@superuser_required
def organization_list(request: HttpRequest) -> HttpResponse:
    organizations = Organization.objects.order_by("name")
    return render(request, "accounts/organization_list.html", {"organizations": organizations})


@superuser_required
def organization_create(request: HttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organization = services.organization_create(
            actor=request.user,  # type: ignore[arg-type]
            request=request,
            **form.cleaned_data,
        )
        messages.success(request, _("Ente «%(name)s» creato.") % {"name": organization.name})
        return redirect("accounts:organization_list")
    return render(request, "accounts/organization_form.html", {"form": form})


@superuser_required
def organization_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    organization = get_organization_for_user(request.user, public_id)  # type: ignore[arg-type]
    form = OrganizationForm(request.POST or None, instance=organization)
    if request.method == "POST" and form.is_valid():
        services.organization_update(
            organization=Organization.objects.get(pk=organization.pk),
            actor=request.user,  # type: ignore[arg-type]
            request=request,
            **form.cleaned_data,
        )
        messages.success(request, _("Ente aggiornato."))
        return redirect("accounts:organization_list")
    return render(
        request, "accounts/organization_form.html", {"form": form, "organization": organization}
    )


@role_required(Membership.Role.ADMIN)
def organization_settings(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, Membership.Role.ADMIN)
    organization = Organization.objects.get(pk=membership.organization_id)
    form = OrganizationSettingsForm(request.POST or None, instance=organization)
    if request.method == "POST" and form.is_valid():
        services.organization_update(
            organization=Organization.objects.get(pk=organization.pk),
            actor=request.user,  # type: ignore[arg-type]
            request=request,
            **form.cleaned_data,
        )
        messages.success(request, _("Impostazioni dell'ente salvate."))
        return redirect("accounts:organization_settings")
    return render(request, "accounts/organization_settings.html", {"form": form})


@role_required(Membership.Role.ADMIN)
def member_list(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, Membership.Role.ADMIN)
    members = (
        Membership.objects.filter(organization=membership.organization)
        .select_related("user")
        .order_by("-is_active", "user__last_name", "user__username")
    )
    return render(request, "accounts/member_list.html", {"members": members})


@role_required(Membership.Role.ADMIN)
def member_invite(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, Membership.Role.ADMIN)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_invite(
                organization=membership.organization,
                actor=request.user,  # type: ignore[arg-type]
                request=request,
                **form.cleaned_data,
            )
        except ValueError:
            form.add_error("email", _("Questa persona fa già parte dell'ente."))
        except ValidationError as exc:  # a username already taken, from full_clean()
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _("Invito inviato a %(email)s.") % {"email": form.cleaned_data["email"]},
            )
            return redirect("accounts:member_list")
    return render(request, "accounts/member_invite.html", {"form": form})


@role_required(Membership.Role.ADMIN)
def member_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    member = get_membership_for_admin(request, public_id)
    form = RoleForm(request.POST or None, initial={"role": member.role})
    if request.method == "POST":
        try:
            if "remove" in request.POST:
                services.membership_remove(
                    membership=member,
                    actor=request.user,  # type: ignore[arg-type]
                    request=request,
                )
                messages.success(request, _("Accesso revocato."))
                return redirect("accounts:member_list")
            if form.is_valid():
                services.membership_update(
                    membership=member,
                    actor=request.user,  # type: ignore[arg-type]
                    role=form.cleaned_data["role"],
                    request=request,
                )
                messages.success(request, _("Ruolo aggiornato."))
                return redirect("accounts:member_list")
        except services.LastAdminError:
            messages.error(
                request,
                _("L'ente deve avere almeno un amministratore attivo: nomina prima un altro."),
            )
    return render(request, "accounts/member_edit.html", {"form": form, "member": member})
