from typing import Any

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
        # Audited without revealing whether the address belongs to anyone.
        audit_log(
            action=Action.PASSWORD_RESET_REQUESTED,
            target_label=form.cleaned_data["email"][:200],
            request=self.request,
        )
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    post_reset_login = False


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
