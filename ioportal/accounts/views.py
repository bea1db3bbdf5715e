from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ioportal.accounts import services
from ioportal.accounts.access import (
    get_invitation_by_token,
    get_invitation_for_invitee,
    get_invitation_for_manager,
    get_membership_for_admin,
    get_organization_for_user,
    pending_invitations,
    require_role,
    role_required,
    superuser_required,
)
from ioportal.accounts.audit import Action
from ioportal.accounts.forms import (
    AdminInviteForm,
    InviteForm,
    OrganizationForm,
    OrganizationSettingsForm,
    RoleForm,
)
from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.middleware import SESSION_ORG_KEY
from ioportal.accounts.models import Invitation, Membership, Organization
from ioportal.core.durations import duration_words
from ioportal.core.services import audit_log


def _safe_next(request: HttpRequest, default: str = "/") -> str:
    """The `next` path of the request when it is a path of this site, else `default`.

    Only absolute paths: `redirect()` would read any other string as a view name.
    """
    target = request.POST.get("next") or request.GET.get("next") or default
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    request: AuthenticatedHttpRequest
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("dashboard:dashboard")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        audit_log(
            action=Action.PASSWORD_CHANGED,
            actor=self.request.user,
            target=self.request.user,
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
                    "da questa rete: riprova tra %(wait)s."
                )
                % {"wait": duration_words(services.PASSWORD_RESET_WINDOW)},
            )
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return redirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    post_reset_login = False

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        services.password_reset_completed(user=form.user, request=self.request)
        return response


@require_POST
@login_required
def switch_organization(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Choose the organization to work in; someone else's organization answers 404."""
    organization = get_organization_for_user(
        request.user,
        request.POST.get("organization", ""),
    )
    request.session[SESSION_ORG_KEY] = str(organization.public_id)
    services.organization_remember(user=request.user, organization=organization)
    messages.info(request, _("Ora stai lavorando per %(name)s.") % {"name": organization.name})
    return redirect("dashboard:dashboard")


@superuser_required
def organization_list(request: HttpRequest) -> HttpResponse:
    organizations = Organization.objects.order_by("name")
    return render(request, "accounts/organization_list.html", {"organizations": organizations})


@superuser_required
def organization_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        organization = services.organization_create(
            actor=request.user,
            request=request,
            **form.cleaned_data,
        )
        messages.success(request, _("Ente «%(name)s» creato.") % {"name": organization.name})
        return redirect("accounts:organization_list")
    return render(request, "accounts/organization_form.html", {"form": form})


@superuser_required
def organization_edit(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    organization = get_organization_for_user(request.user, public_id)
    form = OrganizationForm(request.POST or None, instance=organization)
    if request.method == "POST" and form.is_valid():
        services.organization_update(
            organization=Organization.objects.get(pk=organization.pk),
            actor=request.user,
            request=request,
            **form.cleaned_data,
        )
        messages.success(request, _("Ente aggiornato."))
        return redirect("accounts:organization_list")
    return render(
        request,
        "accounts/organization_form.html",
        {
            "form": form,
            "organization": organization,
            "admins": Membership.objects.filter(
                organization=organization, role=Membership.Role.ADMIN, is_active=True
            ).select_related("user"),
            "invitations": _pending_for_organization(organization),
        },
    )


@superuser_required
def organization_admin_invite(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Installation superusers appoint an organization's admin, by invitation."""
    organization = get_organization_for_user(request.user, public_id)
    form = AdminInviteForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and _invite(request, form, organization, Membership.Role.ADMIN)
    ):
        return redirect("accounts:organization_edit", public_id=organization.public_id)
    return render(
        request,
        "accounts/organization_admin_invite.html",
        {"form": form, "organization": organization},
    )


@role_required(Membership.Role.ADMIN)
def organization_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    membership = require_role(request, Membership.Role.ADMIN)
    organization = Organization.objects.get(pk=membership.organization_id)
    form = OrganizationSettingsForm(request.POST or None, instance=organization)
    if request.method == "POST" and form.is_valid():
        services.organization_update(
            organization=Organization.objects.get(pk=organization.pk),
            actor=request.user,
            request=request,
            **form.cleaned_data,
        )
        messages.success(request, _("Impostazioni dell'ente salvate."))
        return redirect("accounts:organization_settings")
    return render(request, "accounts/organization_settings.html", {"form": form})


def _pending_for_organization(organization: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        organization=organization, status=Invitation.Status.PENDING
    ).order_by("email")


@role_required(Membership.Role.ADMIN)
def member_list(request: HttpRequest) -> HttpResponse:
    membership = require_role(request, Membership.Role.ADMIN)
    members = (
        Membership.objects.filter(organization=membership.organization)
        .select_related("user")
        .order_by("-is_active", "user__last_name", "user__username")
    )
    return render(
        request,
        "accounts/member_list.html",
        {"members": members, "invitations": _pending_for_organization(membership.organization)},
    )


_EMAIL_FAILED = gettext_lazy(
    "Invito a %(email)s registrato, ma l'e-mail non è partita: controlla la configurazione "
    "della posta e usa «Invia di nuovo»."
)


def _invite(
    request: AuthenticatedHttpRequest, form: InviteForm, organization: Organization, role: str
) -> bool:
    """Create the invitation from a valid form; False (with the form's errors) when refused."""
    data = {k: v for k, v in form.cleaned_data.items() if k != "role"}
    try:
        services.invitation_create(
            organization=organization,
            actor=request.user,
            role=role,
            request=request,
            **data,
        )
    except (services.AlreadyMemberError, services.InvitationPendingError) as exc:
        form.add_error("email", exc.message)
    except ValidationError as exc:  # a username already taken, from full_clean()
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    except services.InvitationEmailError:
        messages.warning(request, _EMAIL_FAILED % {"email": data["email"]})
        return True
    else:
        messages.success(request, _("Invito inviato a %(email)s.") % {"email": data["email"]})
        return True
    return False


@role_required(Membership.Role.ADMIN)
def member_invite(request: AuthenticatedHttpRequest) -> HttpResponse:
    membership = require_role(request, Membership.Role.ADMIN)
    form = InviteForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and _invite(request, form, membership.organization, form.cleaned_data["role"])
    ):
        return redirect("accounts:member_list")
    return render(
        request,
        "accounts/member_invite.html",
        {"form": form, "timeout_days": settings.INVITATION_TIMEOUT // 86400},
    )


def _manager_next(request: AuthenticatedHttpRequest, invitation: Invitation) -> str:
    if request.user.is_superuser and not (
        request.organization and request.organization.pk == invitation.organization_id
    ):
        return reverse("accounts:organization_edit", args=[invitation.organization.public_id])
    return reverse("accounts:member_list")


@require_POST
@login_required
def invitation_resend(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """An admin (or a superuser) sends a pending invitation again, with a new link."""
    invitation = get_invitation_for_manager(request, public_id)
    try:
        services.invitation_resend(
            invitation=invitation,
            actor=request.user,
            request=request,
        )
    except services.InvitationUnavailableError as exc:
        messages.error(request, exc.message)
    except services.InvitationEmailError:
        messages.warning(request, _EMAIL_FAILED % {"email": invitation.email})
    else:
        messages.success(request, _("Invito inviato a %(email)s.") % {"email": invitation.email})
    return redirect(_manager_next(request, invitation))


@require_POST
@login_required
def invitation_withdraw(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """An admin (or a superuser) withdraws a pending invitation; its link stops working."""
    invitation = get_invitation_for_manager(request, public_id)
    try:
        services.invitation_withdraw(
            invitation=invitation,
            actor=request.user,
            request=request,
        )
    except services.InvitationUnavailableError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invito a %(email)s ritirato.") % {"email": invitation.email})
    return redirect(_manager_next(request, invitation))


# The session key holding the token of the invitation link opened last (see invitation_open).
INVITATION_TOKEN_SESSION_KEY = "invitation_token"


def invitation_open(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the invitation e-mail: any method keeps `token` in the session and
    redirects to `invitation_continue`, whose URL holds no token, as Django's password reset
    does: the token then appears in no further request line or Referer (access log, browser
    history, the static files of the page)."""
    request.session[INVITATION_TOKEN_SESSION_KEY] = token
    return redirect("accounts:invitation_continue")


def _invitation_of_session(request: HttpRequest) -> tuple[str, Any, HttpResponse]:
    """(token, invitation, None) for the usable invitation whose link this session opened;
    (token, None, the page saying why) when there is none: unknown or answered (404, the
    token leaves the session), expired or for a disabled account (410), for another account
    than the signed-in one (403)."""
    token = request.session.get(INVITATION_TOKEN_SESSION_KEY, "")
    invitation = get_invitation_by_token(token) if token else None
    context: dict[str, Any] = {"invitation": invitation}
    if invitation is None or invitation.status != Invitation.Status.PENDING:
        request.session.pop(INVITATION_TOKEN_SESSION_KEY, None)
        context["problem"] = _("Il collegamento non è valido o è già stato usato.")
        return token, None, render(request, "accounts/invitation_open.html", context, status=404)
    problem, status = "", 200
    if invitation.is_expired:
        problem, status = (
            _("L'invito è scaduto: chiedi all'amministratore dell'ente di inviarlo di nuovo."),
            410,
        )
    elif not invitation.user.is_active:
        problem, status = _("L'account invitato è disattivato."), 410
    elif request.user.is_authenticated and request.user.pk != invitation.user_id:
        problem, status = (
            _("Questo invito è per un altro account: esci e apri di nuovo il collegamento."),
            403,
        )
    if problem:
        context["problem"] = problem
        return (
            token,
            None,
            render(request, "accounts/invitation_open.html", context, status=status),
        )
    return token, invitation, HttpResponse()


def invitation_continue(request: HttpRequest) -> HttpResponse:
    """The invitation of the link opened in this session (`invitation_open`).

    An account without a password chooses it here, which accepts the invitation; an account
    with one is sent to sign in and answer from "Inviti". The link never signs anyone in.
    The token leaves the session once the invitation is accepted, or is found unusable.
    """
    token, invitation, refused = _invitation_of_session(request)
    if invitation is None:
        return refused
    context: dict[str, Any] = {"invitation": invitation}
    invited = invitation.user
    if invited.has_usable_password():
        if request.user.is_authenticated:
            return redirect("accounts:my_invitations")
        messages.info(request, _("Accedi con il tuo account per accettare o rifiutare l'invito."))
        query = urlencode({"next": reverse("accounts:my_invitations")})
        return redirect(f"{reverse('accounts:login')}?{query}")
    form = SetPasswordForm(invited, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_accept_with_password(
                invitation=invitation,
                token=token,
                password=form.cleaned_data["new_password1"],
                request=request,
            )
        except services.InvitationUnavailableError as exc:
            request.session.pop(INVITATION_TOKEN_SESSION_KEY, None)
            messages.error(request, exc.message)
            return redirect("accounts:login")
        request.session.pop(INVITATION_TOKEN_SESSION_KEY, None)
        messages.success(
            request,
            _("Password impostata e invito accettato: ora accedi con il nome utente %(u)s.")
            % {"u": invited.get_username()},
        )
        return redirect("accounts:login")
    context["form"] = form
    return render(request, "accounts/invitation_open.html", context)


@require_POST
def invitation_decline(request: HttpRequest) -> HttpResponse:
    """ "Rifiuta l'invito" on the page of the link opened in this session, for an account
    still without a password (one with a password answers from "Inviti" once signed in):
    the invitation is refused as `services.invitation_refuse` does (closed, audited
    "Invito rifiutato"), the token leaves the session, a page confirms it."""
    _token, invitation, refused = _invitation_of_session(request)
    if invitation is None:
        return refused
    if invitation.user.has_usable_password():
        return redirect("accounts:invitation_continue")
    try:
        services.invitation_refuse(invitation=invitation, user=invitation.user, request=request)
    except services.InvitationUnavailableError as exc:
        request.session.pop(INVITATION_TOKEN_SESSION_KEY, None)
        return render(
            request,
            "accounts/invitation_open.html",
            {"invitation": invitation, "problem": exc.message},
            status=409,
        )
    request.session.pop(INVITATION_TOKEN_SESSION_KEY, None)
    return render(request, "accounts/invitation_declined.html", {"invitation": invitation})


@login_required
def my_invitations(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The invitations waiting for the signed-in person's answer."""
    invitations = pending_invitations(request.user)
    return render(request, "accounts/my_invitations.html", {"invitations": invitations})


@require_POST
@login_required
def invitation_accept(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    invitation = get_invitation_for_invitee(request, public_id)
    try:
        services.invitation_accept(
            invitation=invitation,
            user=request.user,
            request=request,
        )
    except services.InvitationUnavailableError as exc:
        messages.error(request, exc.message)
        return redirect("accounts:my_invitations")
    request.session[SESSION_ORG_KEY] = str(invitation.organization.public_id)
    messages.success(
        request,
        _("Ora fai parte di %(name)s e stai lavorando per questo ente.")
        % {"name": invitation.organization.name},
    )
    return redirect("dashboard:dashboard")


@require_POST
@login_required
def invitation_refuse(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    invitation = get_invitation_for_invitee(request, public_id)
    try:
        services.invitation_refuse(
            invitation=invitation,
            user=request.user,
            request=request,
        )
    except services.InvitationUnavailableError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Invito di %(name)s rifiutato.") % {"name": invitation.organization.name},
        )
    return redirect("accounts:my_invitations")


@role_required(Membership.Role.ADMIN)
def member_edit(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    member = get_membership_for_admin(request, public_id)
    if request.method == "POST" and "remove" in request.POST:
        try:
            services.membership_remove(membership=member, actor=request.user, request=request)
        except services.LastAdminError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Accesso revocato."))
            return redirect("accounts:member_list")
        # The refusal is the only message: the role form was not what was sent.
        form = RoleForm(initial={"role": member.role})
    else:
        form = RoleForm(request.POST or None, initial={"role": member.role})
        if form.is_valid():
            try:
                services.membership_update(
                    membership=member,
                    actor=request.user,
                    role=form.cleaned_data["role"],
                    request=request,
                )
            except services.LastAdminError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("Ruolo aggiornato."))
                return redirect("accounts:member_list")
    return render(request, "accounts/member_edit.html", {"form": form, "member": member})
