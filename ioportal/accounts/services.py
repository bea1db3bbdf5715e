"""Business logic of users, organizations and memberships. Each change is audited."""

import logging
import smtplib
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.access import otp_enrolment_allowed
from ioportal.accounts.models import Membership, Organization, User, UserSession
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


# Two-step verification. Every change is audited and e-mailed to the person (issue 11).

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
    factor is worthless afterwards; the tracked session follows the new key.
    """
    otp_login(request, device)
    old_key = request.session.session_key
    request.session.cycle_key()
    if old_key:
        UserSession.objects.filter(session_key=old_key).update(
            session_key=request.session.session_key
        )


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
