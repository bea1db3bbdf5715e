"""Business logic of users, organizations and memberships. Each change is audited."""

import logging
import secrets
import smtplib
import time
from datetime import timedelta
from typing import Any

from axes.helpers import get_client_ip_address
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_q.tasks import async_task

from ioportal.accounts.access import is_verified, otp_enrolment_allowed
from ioportal.accounts.audit import Action
from ioportal.accounts.middleware import SESSION_ACTIVE_AT_KEY, SESSION_AUTH_AT_KEY
from ioportal.accounts.models import (
    Invitation,
    Membership,
    Organization,
    PasswordResetRequest,
    User,
    UserSession,
)
from ioportal.core.durations import duration_words
from ioportal.core.errors import NotAllowed
from ioportal.core.services import audit_log, changed_fields

logger = logging.getLogger(__name__)

ORG_FIELDS = (
    "name",
    "fiscal_code",
    "rate_tier",
    "custom_rate_limit",
    "require_2fa_for_all",
    "retention_days",
)


def session_started(*, user: User, request: HttpRequest) -> None:
    """Remember the session of a fresh login, so deactivation can end it."""
    request.session[SESSION_AUTH_AT_KEY] = request.session[SESSION_ACTIVE_AT_KEY] = time.time()
    if request.session.session_key is None:
        request.session.save()
    UserSession.objects.update_or_create(
        session_key=request.session.session_key, defaults={"user": user}
    )


def end_sessions(*, user: User) -> int:
    """Delete every session the user holds. Returns how many were ended."""
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(user=user).delete()
    return len(keys)


def _org_values(organization: Organization) -> dict[str, Any]:
    return {field: getattr(organization, field) for field in ORG_FIELDS}


@transaction.atomic
def organization_create(
    *, actor: User, request: HttpRequest | None = None, **fields: Any
) -> Organization:
    """Create an organization (installation superusers only, checked by the view)."""
    organization = Organization(**fields)
    organization.full_clean()
    organization.save()
    audit_log(
        action=Action.ORG_CREATED,
        actor=actor,
        organization=organization,
        target=organization,
        changes=_org_values(organization),
        request=request,
    )
    return organization


@transaction.atomic
def organization_update(
    *,
    organization: Organization,
    actor: User,
    request: HttpRequest | None = None,
    **fields: Any,
) -> Organization:
    """Change an organization's settings; the audit event lists the fields that changed."""
    before = _org_values(organization)
    for field, value in fields.items():
        setattr(organization, field, value)
    organization.full_clean()
    organization.save()
    changes = changed_fields(before, _org_values(organization))
    if changes:
        audit_log(
            action=Action.ORG_UPDATED,
            actor=actor,
            organization=organization,
            target=organization,
            changes=changes,
            request=request,
        )
    return organization


class AlreadyMemberError(NotAllowed):
    """Raised when the person invited already has an active role in the organization."""

    default_message = gettext_lazy("Questa persona fa già parte dell'ente.")


class InvitationPendingError(NotAllowed):
    """Raised when an unexpired invitation to the same person is still waiting for an answer."""

    default_message = gettext_lazy(
        "Un invito a questo indirizzo è già in attesa: puoi inviarlo di nuovo dall'elenco."
    )


class InvitationEmailError(Exception):
    """Raised when the invitation e-mail could not be handed to the mail server."""


class InvitationUnavailableError(NotAllowed):
    """Raised when an invitation can no longer be answered; `message` says why, in Italian."""


def invitation_create(
    *,
    organization: Organization,
    actor: User,
    email: str,
    role: str,
    username: str = "",
    first_name: str = "",
    last_name: str = "",
    request: HttpRequest,
) -> Invitation:
    """Invite a person to a role in the organization and e-mail them the link.

    The invitation grants nothing until the person accepts it (`invitation_accept`). An
    address without an account gets one, without a usable password: the link sets it. An
    address with an account (the oldest, when several share it) is invited as that account,
    which accepts or refuses after signing in. An expired invitation to the same person is
    renewed with the new role.

    Raises AlreadyMemberError, InvitationPendingError, ValidationError (a username already
    taken) before anything is saved; InvitationEmailError after the invitation is saved,
    when the e-mail could not leave (the admin can send it again).
    """
    try:
        invitation = _invitation_record(
            organization=organization,
            actor=actor,
            email=email,
            role=role,
            new_user=User(
                username=username or email,
                email=email,
                first_name=first_name,
                last_name=last_name,
            ),
            request=request,
        )
    except IntegrityError as exc:  # the same person invited twice at the same moment
        raise InvitationPendingError from exc
    invitation_send(invitation=invitation, request=request)
    return invitation


@transaction.atomic
def _invitation_record(
    *,
    organization: Organization,
    actor: User,
    email: str,
    role: str,
    new_user: User,
    request: HttpRequest,
) -> Invitation:
    user = User.objects.filter(email__iexact=email).order_by("pk").first()
    if user is None:
        user = new_user
        user.set_unusable_password()
        user.full_clean()
        user.save()
    elif Membership.objects.filter(user=user, organization=organization, is_active=True).exists():
        raise AlreadyMemberError
    invitation = (
        Invitation.objects.select_for_update()
        .filter(organization=organization, user=user, status=Invitation.Status.PENDING)
        .first()
    )
    if invitation is not None and not invitation.is_expired:
        raise InvitationPendingError
    if invitation is None:
        invitation = Invitation(organization=organization, user=user)
    invitation.email = email
    invitation.role = role
    invitation.invited_by = actor
    invitation.expires_at = timezone.now()  # until `invitation_send` gives it a link
    invitation.save()
    audit_log(
        action=Action.USER_INVITED,
        actor=actor,
        organization=organization,
        target=invitation,
        target_label=email,
        changes={"email": email, "role": role},
        request=request,
    )
    return invitation


def invitation_send(*, invitation: Invitation, request: HttpRequest) -> None:
    """Give the invitation a new link, valid for settings.INVITATION_TIMEOUT seconds, and
    e-mail it. Any earlier link stops working.

    Sets `sent_at` only once the mail server took the message; raises InvitationEmailError
    when it did not (SMTP error or unreachable server).
    """
    token = secrets.token_urlsafe(32)
    invitation.token_digest = Invitation.digest(token)
    invitation.expires_at = timezone.now() + timedelta(seconds=settings.INVITATION_TIMEOUT)
    invitation.sent_at = None
    invitation.save(update_fields=["token_digest", "expires_at", "sent_at"])
    user = invitation.user
    context = {
        "organization": invitation.organization,
        "role": invitation.get_role_display(),
        "username": user.get_username(),
        "needs_password": not user.has_usable_password(),
        "link": request.build_absolute_uri(reverse("accounts:invitation_open", args=[token])),
        "expires_at": invitation.expires_at,
    }
    subject = render_to_string("registration/invite_subject.txt", context).strip()
    body = render_to_string("registration/invite_email.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("invitation %s: e-mail not sent: %s", invitation.public_id, exc)
        raise InvitationEmailError from exc
    invitation.sent_at = timezone.now()
    invitation.save(update_fields=["sent_at"])


def invitation_resend(*, invitation: Invitation, actor: User, request: HttpRequest) -> None:
    """Send a pending invitation again with a new link (also renews an expired one).

    Raises InvitationUnavailableError when it was answered or withdrawn meanwhile,
    InvitationEmailError as `invitation_send`.
    """
    with transaction.atomic():
        locked = _lock_pending(invitation)
        audit_log(
            action=Action.INVITATION_RESENT,
            actor=actor,
            organization=locked.organization,
            target=locked,
            target_label=locked.email,
            request=request,
        )
    invitation_send(invitation=locked, request=request)


@transaction.atomic
def invitation_withdraw(
    *, invitation: Invitation, actor: User, request: HttpRequest | None = None
) -> None:
    """Withdraw a pending invitation: its link stops working and it can no longer be accepted.

    Raises InvitationUnavailableError when it was answered or withdrawn meanwhile.
    """
    locked = _lock_pending(invitation)
    _close(locked, Invitation.Status.WITHDRAWN)
    audit_log(
        action=Action.INVITATION_WITHDRAWN,
        actor=actor,
        organization=locked.organization,
        target=locked,
        target_label=locked.email,
        request=request,
    )


@transaction.atomic
def invitation_accept(
    *, invitation: Invitation, user: User, request: HttpRequest | None = None
) -> Membership:
    """The invited person accepts: from now on they have the role in the organization.

    `user` must be the invited account, already signed in or just proved by the link (the
    caller checks which). The organization becomes the one the portal opens for them.
    Raises InvitationUnavailableError when the invitation was answered, withdrawn, has
    expired or is for someone else, or when the person is already an active member.
    """
    locked = _lock_pending(invitation)
    if locked.user_id != user.pk or not user.is_active:
        raise InvitationUnavailableError(_("Questo invito non è per il tuo account."))
    if locked.is_expired:
        raise InvitationUnavailableError(
            _("L'invito è scaduto: chiedi all'amministratore dell'ente di inviarlo di nuovo.")
        )
    membership, made = Membership.objects.select_for_update().get_or_create(
        user=user, organization=locked.organization, defaults={"role": locked.role}
    )
    if not made:
        if membership.is_active:
            raise InvitationUnavailableError(_("Fai già parte di questo ente."))
        membership.is_active = True
        membership.role = locked.role
        membership.save(update_fields=["is_active", "role"])
    _close(locked, Invitation.Status.ACCEPTED)
    user.last_organization = locked.organization
    user.save(update_fields=["last_organization"])
    audit_log(
        action=Action.INVITATION_ACCEPTED,
        actor=user,
        organization=locked.organization,
        target=locked,
        target_label=locked.email,
        changes={"role": locked.role},
        request=request,
    )
    return membership


@transaction.atomic
def invitation_accept_with_password(
    *, invitation: Invitation, token: str, password: str, request: HttpRequest | None = None
) -> Membership:
    """Accept through the e-mailed link for an account that has no password yet, setting it.

    Only the link (`token`) proves the person here, so it works only while the account has
    no usable password; an account with one must sign in and accept (`invitation_accept`).
    `password` must already be validated (SetPasswordForm). Raises InvitationUnavailableError.
    """
    user = User.objects.select_for_update().get(pk=invitation.user_id)
    if not Invitation.objects.filter(
        pk=invitation.pk, token_digest=Invitation.digest(token)
    ).exists():
        raise InvitationUnavailableError(
            _("L'invito non è più valido: è già stato usato, rifiutato o ritirato.")
        )
    if user.has_usable_password():
        raise InvitationUnavailableError(
            _("Questo account ha già una password: accedi e accetta l'invito.")
        )
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_log(action=Action.PASSWORD_CHANGED, actor=user, target=user, request=request)
    return invitation_accept(invitation=invitation, user=user, request=request)


@transaction.atomic
def invitation_refuse(
    *, invitation: Invitation, user: User, request: HttpRequest | None = None
) -> None:
    """The invited person declines: the invitation is closed and grants nothing.

    Raises InvitationUnavailableError when it was answered or withdrawn meanwhile, or is
    for someone else.
    """
    locked = _lock_pending(invitation)
    if locked.user_id != user.pk:
        raise InvitationUnavailableError(_("Questo invito non è per il tuo account."))
    _close(locked, Invitation.Status.REFUSED)
    audit_log(
        action=Action.INVITATION_REFUSED,
        actor=user,
        organization=locked.organization,
        target=locked,
        target_label=locked.email,
        request=request,
    )


def _lock_pending(invitation: Invitation) -> Invitation:
    locked = (
        Invitation.objects.select_for_update()
        .select_related("organization", "user")
        .get(pk=invitation.pk)
    )
    if locked.status != Invitation.Status.PENDING:
        raise InvitationUnavailableError(
            _("L'invito non è più valido: è già stato usato, rifiutato o ritirato.")
        )
    return locked


def _close(invitation: Invitation, status: str) -> None:
    invitation.status = status
    invitation.token_digest = ""
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "token_digest", "answered_at"])


def organization_remember(*, user: User, organization: Organization) -> None:
    """Remember the organization the user chose, so the next sign-in opens it."""
    if user.last_organization_id != organization.pk:
        user.last_organization = organization
        user.save(update_fields=["last_organization"])


@transaction.atomic
def membership_update(
    *, membership: Membership, actor: User, role: str, request: HttpRequest | None = None
) -> Membership:
    """Change a member's role. An organization always keeps at least one admin."""
    if role == membership.role:
        return membership
    if membership.role == Membership.Role.ADMIN:
        _ensure_another_admin(membership)
    before = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_log(
        action=Action.MEMBERSHIP_CHANGED,
        actor=actor,
        organization=membership.organization,
        target=membership.user,
        changes={"role": [before, role]},
        request=request,
    )
    return membership


@transaction.atomic
def membership_remove(
    *, membership: Membership, actor: User, request: HttpRequest | None = None
) -> None:
    """Revoke a member's access to the organization; takes effect on their next request."""
    if membership.role == Membership.Role.ADMIN:
        _ensure_another_admin(membership)
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    audit_log(
        action=Action.MEMBERSHIP_REMOVED,
        actor=actor,
        organization=membership.organization,
        target=membership.user,
        changes={"role": membership.role},
        request=request,
    )


class LastAdminError(NotAllowed):
    """Raised when a change would leave an organization without an active admin."""

    default_message = gettext_lazy(
        "L'ente deve avere almeno un amministratore attivo: nomina prima un altro."
    )


def _ensure_another_admin(membership: Membership) -> None:
    others = (
        Membership.objects.select_for_update()
        .filter(
            organization=membership.organization,
            role=Membership.Role.ADMIN,
            is_active=True,
            user__is_active=True,
        )
        .exclude(pk=membership.pk)
    )
    if not others.exists():
        raise LastAdminError


# Two-step verification. Every change is audited and e-mailed to the person.

RECOVERY_CODE_COUNT = 10
RECOVERY_DEVICE_NAME = "recovery"


class OtpThrottledError(Exception):
    """Too many wrong codes: django-otp makes the device wait (doubling) before the next try."""


class NoSecondFactorError(Exception):
    """The account has no confirmed authenticator app, so recovery codes make no sense."""


def otp_device_start(*, user: User, device_id: int | None) -> TOTPDevice:
    """The pending TOTP device of this enrolment, kept by id in the enrolling session.

    A pending device is never shared between sessions: one started elsewhere (perhaps by
    someone who knew only the password) is deleted, so its secret can never be confirmed
    by the real person.
    """
    device = None
    if device_id is not None:
        device = TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()
    if device is None:
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name="default", confirmed=False)
    return device


@transaction.atomic
def otp_device_confirm(*, device: TOTPDevice, verified: bool, request: HttpRequest) -> list[str]:
    """Confirm an enrolled device, replacing any earlier one; issue new recovery codes.

    `verified` says whether the session has passed the second factor: replacing a
    confirmed device requires it (PermissionDenied otherwise). Returns the new recovery
    codes, to be shown once. Audited (enrolled or replaced) and e-mailed to the person.
    """
    user: User = device.user
    if not otp_enrolment_allowed(user=user, verified=verified):
        raise PermissionDenied
    earlier = TOTPDevice.objects.filter(user=user).exclude(pk=device.pk)
    replacing = earlier.filter(confirmed=True).exists()
    earlier.delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _recovery_codes_issue(user=user)
    action = Action.OTP_REPLACED if replacing else Action.OTP_ENROLLED
    audit_log(action=action, actor=user, target=user, request=request)
    _otp_notify(user=user, action=action)
    return codes


def otp_session_verify(*, request: HttpRequest, device: Device) -> None:
    """Mark the session as verified with `device` and give it a new key.

    The key rotates as at the password step, so a session id seen before the second
    factor is worthless afterwards; the tracked session follows the new key. For a session
    not verified before, this completes the sign-in: audited as `LOGIN` (the password step
    was `LOGIN_PASSWORD`, see `signals.on_login`).
    """
    completes_sign_in = not is_verified(request)
    otp_login(request, device)
    old_key = request.session.session_key
    request.session.cycle_key()
    if old_key:
        UserSession.objects.filter(session_key=old_key).update(
            session_key=request.session.session_key
        )
    if completes_sign_in:
        audit_log(action=Action.LOGIN, actor=device.user, target=device.user, request=request)


def otp_totp_verify(*, user: User, token: str) -> TOTPDevice | None:
    """The confirmed authenticator app that accepts `token`, or None.

    Raises OtpThrottledError, without trying, while django-otp's wait after wrong codes runs.
    """
    with transaction.atomic():
        devices = list(TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True))
        if devices and not any(d.verify_is_allowed()[0] for d in devices):
            raise OtpThrottledError
        for device in devices:
            if device.verify_token(token):
                return device
    return None


def otp_recovery_verify(*, user: User, code: str, request: HttpRequest) -> StaticDevice | None:
    """Spend one recovery code in place of the authenticator app; None when it is not valid.

    A code works once (django-otp deletes it). Audited and e-mailed with the count left.
    Raises OtpThrottledError, without trying, while the wait after wrong codes runs.
    """
    with transaction.atomic():
        device = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            return None
        if not device.verify_is_allowed()[0]:
            raise OtpThrottledError
        if not device.verify_token(code):
            return None
    left = device.token_set.count()
    audit_log(
        action=Action.OTP_RECOVERY_USED,
        actor=user,
        target=user,
        changes={"codes_left": left},
        request=request,
    )
    _otp_notify(user=user, action=Action.OTP_RECOVERY_USED, codes_left=left)
    return device


def otp_recovery_codes_left(*, user: User) -> int:
    """How many unused recovery codes the user has."""
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def otp_recovery_codes_regenerate(*, user: User, request: HttpRequest) -> list[str]:
    """Replace the user's recovery codes with a new set; the old ones stop working.

    The caller checks that the session passed the second factor. Raises
    NoSecondFactorError when the user has no confirmed authenticator app.
    Audited and e-mailed.
    """
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise NoSecondFactorError
    codes = _recovery_codes_issue(user=user)
    audit_log(action=Action.OTP_RECOVERY_REGENERATED, actor=user, target=user, request=request)
    _otp_notify(user=user, action=Action.OTP_RECOVERY_REGENERATED)
    return codes


@transaction.atomic
def otp_reset(
    *,
    user: User,
    actor: User | None,
    organization: Organization | None = None,
    request: HttpRequest | None = None,
) -> int:
    """Delete all of a user's second-factor devices and end their sessions.

    At the next sign-in they enrol again (their role requires it) or sign in with the
    password alone (it does not). Who may do it is `access.otp_reset_allowed`, checked by
    the caller. Returns how many devices were deleted. Audited and e-mailed to the person.
    """
    devices = list(devices_for_user(user, confirmed=None))
    for device in devices:
        device.delete()
    end_sessions(user=user)
    audit_log(
        action=Action.OTP_RESET,
        actor=actor,
        organization=organization,
        target=user,
        changes={"devices": len(devices)} | ({} if actor else {"source": "manage.py otp_reset"}),
        request=request,
    )
    _otp_notify(user=user, action=Action.OTP_RESET, actor=actor)
    return len(devices)


def _recovery_codes_issue(*, user: User) -> list[str]:
    # One static device per user, kept across regenerations: a session verified with a
    # recovery code stays verified when the codes are renewed.
    device = StaticDevice.objects.filter(user=user).first()
    if device is None:
        device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME)
    device.token_set.all().delete()
    codes: set[str] = set()
    while len(codes) < RECOVERY_CODE_COUNT:
        codes.add(StaticToken.random_token())
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return sorted(codes)


def _otp_notify(
    *, user: User, action: str, actor: User | None = None, codes_left: int | None = None
) -> None:
    """E-mail the person about a change to their second factor, after the commit."""
    if not user.email:
        return
    subject = f"ioportal: {Action(action).label}"
    body = render_to_string(
        "accounts/otp_email.txt",
        {
            "user": user,
            "action": action,
            "actor": actor,
            "codes_left": codes_left,
            "when": timezone.localtime(),
        },
    )

    def send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
        except (smtplib.SMTPException, OSError):
            # The change is done and audited; a mail server outage must not undo it.
            logger.exception("Second-factor notice to user %s not sent", user.pk)

    transaction.on_commit(send)


# Password reset requests accepted per window, per e-mail address and per client address.
PASSWORD_RESET_WINDOW = timedelta(hours=1)
PASSWORD_RESET_PER_EMAIL = 3
PASSWORD_RESET_PER_CLIENT = 10


class PasswordResetLimited(Exception):
    """Too many reset requests for this address or from this client in the window."""


def _email_digest(email: str) -> str:
    return salted_hmac("ioportal.password_reset", email.strip().lower()).hexdigest()


@transaction.atomic
def password_reset_request(*, email: str, request: HttpRequest) -> None:
    """Accept a password-reset request and e-mail the link from a background task.

    The same work is done whether or not `email` belongs to an account (a row, an audit event,
    a task enqueued on commit): neither the answer nor its time tells. The task looks the
    account up and sends the mail (`accounts.tasks.send_password_reset`).

    Raises PasswordResetLimited past `PASSWORD_RESET_PER_EMAIL` requests for the address or
    `PASSWORD_RESET_PER_CLIENT` from the client address in `PASSWORD_RESET_WINDOW` (refused
    requests are not counted, so the limit ends by itself, like the sign-in lockout).
    """
    now = timezone.now()
    since = now - PASSWORD_RESET_WINDOW
    PasswordResetRequest.objects.filter(created_at__lt=since).delete()
    digest = _email_digest(email)
    # The client as the sign-in lockout sees it: one rule for both.
    ip = get_client_ip_address(request)
    recent = PasswordResetRequest.objects.filter(created_at__gte=since)
    if recent.filter(email_digest=digest).count() >= PASSWORD_RESET_PER_EMAIL or (
        ip and recent.filter(ip_address=ip).count() >= PASSWORD_RESET_PER_CLIENT
    ):
        logger.warning("password reset refused: limit reached (client %s)", ip)
        raise PasswordResetLimited
    PasswordResetRequest.objects.create(email_digest=digest, ip_address=ip)
    # Audited without revealing whether the address belongs to anyone.
    audit_log(action=Action.PASSWORD_RESET_REQUESTED, target_label=email[:200], request=request)
    domain, use_https = request.get_host(), request.is_secure()
    transaction.on_commit(
        lambda: async_task(
            "ioportal.accounts.tasks.send_password_reset",
            email,
            domain,
            use_https,
            task_name=f"password-reset-{digest[:12]}-{now.timestamp():.0f}",
        )
    )


def password_reset_completed(*, user: User, request: HttpRequest) -> int:
    """Record a password set through the e-mailed reset link and lift the user's sign-in lockout.

    The link proves the owner holds the mailbox, so the failed attempts recorded for the
    username (from every address: `AXES_LOCKOUT_PARAMETERS` keys them on username and address)
    are removed through django-axes' `axes.utils.reset`, as the lockout page promises ("oppure
    reimposta la password"). Returns the number of attempt records removed (0 when none).
    """
    removed = axes_reset(username=user.get_username())
    audit_log(action=Action.PASSWORD_RESET, actor=user, target=user, request=request)
    if removed:
        audit_log(action=Action.LOCKOUT_CLEARED, actor=user, target=user, request=request)
    return removed


def password_reset_send(*, email: str, domain: str, use_https: bool) -> int:
    """E-mail a reset link to each active account with `email` (Django's single-use token).

    `domain` is the host the request came to (validated by ALLOWED_HOSTS). Returns the number
    of mails sent (0 for an unknown address). SMTP errors propagate (the task fails visibly).
    """
    form = PasswordResetForm(data={"email": email})
    if not form.is_valid():
        return 0
    users = list(form.get_users(email))
    form.save(
        domain_override=domain,
        use_https=use_https,
        from_email=settings.DEFAULT_FROM_EMAIL,
        subject_template_name="registration/password_reset_subject.txt",
        email_template_name="registration/password_reset_email.txt",
        extra_email_context={"valid_for": password_reset_valid_for()},
    )
    return len(users)


def password_reset_valid_for() -> str:
    """How long a password-reset link works (settings.PASSWORD_RESET_TIMEOUT), in words of the
    active language ("1 ora")."""
    return duration_words(settings.PASSWORD_RESET_TIMEOUT)
