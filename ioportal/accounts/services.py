"""Business logic of users, organizations and memberships. Each change is audited."""

import logging
import time
from datetime import timedelta
from typing import Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_q.tasks import async_task

from ioportal.accounts.models import (
    Membership,
    Organization,
    PasswordResetRequest,
    User,
    UserSession,
)
from ioportal.core.services import Action, audit_log, changed_fields

logger = logging.getLogger(__name__)

ORG_FIELDS = ("name", "fiscal_code", "rate_tier", "custom_rate_limit", "require_2fa_for_all")


def session_started(*, user: User, request: HttpRequest) -> None:
    """Remember the session of a fresh login, so deactivation can end it."""
    from ioportal.accounts.middleware import SESSION_AUTH_AT_KEY

    request.session[SESSION_AUTH_AT_KEY] = time.time()
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


def send_password_setup(*, user: User, request: HttpRequest | None) -> None:
    """E-mail the user a link to choose a password (Django's reset token, single use)."""
    form = PasswordResetForm(data={"email": user.email})
    if form.is_valid():
        form.save(
            request=request,
            use_https=bool(request and request.is_secure()),
            from_email=settings.DEFAULT_FROM_EMAIL,
            subject_template_name="registration/invite_subject.txt",
            email_template_name="registration/invite_email.txt",
        )


@transaction.atomic
def member_invite(
    *,
    organization: Organization,
    actor: User,
    email: str,
    role: str,
    username: str = "",
    first_name: str = "",
    last_name: str = "",
    request: HttpRequest | None = None,
) -> Membership:
    """Give a person a role in the organization, creating their account when needed.

    An existing account (matched by e-mail) just gets the membership; a new one is
    created without a usable password and receives a link to choose it.
    Raises ValueError when the person is already a member.
    """
    user = User.objects.filter(email__iexact=email).first()
    created = user is None
    if user is None:
        user = User(
            username=username or email,
            email=email,
            first_name=first_name,
            last_name=last_name,
        )
        user.set_unusable_password()
        user.full_clean()
        user.save()
        audit_log(
            action=Action.USER_INVITED,
            actor=actor,
            organization=organization,
            target=user,
            changes={"email": email, "username": user.username},
            request=request,
        )
    membership, made = Membership.objects.get_or_create(
        user=user, organization=organization, defaults={"role": role}
    )
    if not made:
        if membership.is_active:
            raise ValueError("already a member")
        membership.is_active = True
        membership.role = role
        membership.save(update_fields=["is_active", "role"])
    audit_log(
        action=Action.MEMBERSHIP_ADDED,
        actor=actor,
        organization=organization,
        target=user,
        changes={"role": role},
        request=request,
    )
    if created:
        transaction.on_commit(lambda: send_password_setup(user=user, request=request))
    return membership


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


class LastAdminError(ValueError):
    """Raised when a change would leave an organization without an active admin."""


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


def user_deactivate(*, user: User, actor: User, request: HttpRequest | None = None) -> None:
    """Disable an account everywhere and end its sessions (installation superusers only)."""
    user.is_active = False
    user.save(update_fields=["is_active"])  # the post_save receiver ends the sessions
    audit_log(action=Action.USER_DEACTIVATED, actor=actor, target=user, request=request)


def otp_device_start(*, user: User) -> TOTPDevice:
    """An unconfirmed TOTP device for enrolment, reused until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="default", confirmed=False)
    return device


def otp_device_confirm(
    *, device: TOTPDevice, actor: User, request: HttpRequest | None = None
) -> None:
    """Mark an enrolled device as confirmed, replacing any earlier device of the user."""
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_log(action=Action.OTP_ENROLLED, actor=actor, target=actor, request=request)


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
    )
    return len(users)
