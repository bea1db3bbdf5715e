"""Access helpers: every view gets its objects through these, never through a bare query.

Objects of another organization answer 404 (their existence is not revealed); a role
that is too low answers 403.
"""

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import devices_for_user

from ioportal.accounts.http import AuthenticatedHttpRequest
from ioportal.accounts.models import Invitation, Membership, Organization, User
from ioportal.core.errors import DeniedBecause

# HttpResponseBase: streamed downloads (StreamingHttpResponse, FileResponse) are views too.
View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def active_memberships(user: User) -> list[Membership]:
    """The memberships a user can act through, in a stable order."""
    return list(
        Membership.objects.filter(user=user, is_active=True, organization__is_active=True)
        .select_related("organization")
        .order_by("organization__name")
    )


def pending_invitations(user: User) -> QuerySet[Invitation]:
    """The invitations waiting for the user's answer (unexpired), oldest first."""
    return (
        Invitation.objects.filter(
            user=user, status=Invitation.Status.PENDING, expires_at__gt=timezone.now()
        )
        .select_related("organization", "invited_by")
        .order_by("created_at")
    )


def current_membership(request: HttpRequest) -> Membership:
    """The membership of the organization selected in the header, or 403 when there is none."""
    membership: Membership | None = getattr(request, "membership", None)
    if membership is None:
        raise PermissionDenied
    return membership


def require_role(request: HttpRequest, role: str) -> Membership:
    """The current membership if its role is `role` or higher; 403 otherwise."""
    membership = current_membership(request)
    if not membership.has_role(role):
        raise PermissionDenied
    return membership


def require_own_or_supervised(membership: Membership, author_id: int | None) -> None:
    """The rule for objects with personal data an operator makes (recipient lists,
    reachability checks): operators reach only their own, supervisors and admins every one
    of the organization. 403 otherwise, and below operator."""
    if not membership.has_role(Membership.Role.OPERATOR):
        raise PermissionDenied
    if not membership.has_role(Membership.Role.SUPERVISOR) and author_id != membership.user_id:
        raise PermissionDenied


def role_required(role: str) -> Callable[[View], View]:
    """Decorator: signed in, an organization selected, and at least `role` in it."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            require_role(request, role)
            return view(request, *args, **kwargs)

        return login_required(wrapper)  # type: ignore[return-value]

    return decorator


def superuser_required(view: View) -> View:
    """Decorator for installation-wide pages (organizations)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_superuser:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapper)  # type: ignore[return-value]


def get_membership_for_admin(request: HttpRequest, public_id: Any) -> Membership:
    """A membership of the current organization, for its admins. Other organizations: 404."""
    admin = require_role(request, Membership.Role.ADMIN)
    return get_object_or_404(
        Membership.objects.select_related("user", "organization"),
        organization=admin.organization,
        user__public_id=public_id,
    )


def parse_public_id(value: Any) -> uuid.UUID:
    """A public id from a URL or a form; anything malformed is a 404, never a 500."""
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Http404 from exc


def get_organization_for_user(user: User, public_id: Any) -> Organization:
    """An organization the user belongs to (any installation one for superusers), else 404."""
    public_id = parse_public_id(public_id)
    if user.is_superuser:
        return get_object_or_404(Organization, public_id=public_id)
    return get_object_or_404(
        Organization,
        public_id=public_id,
        is_active=True,
        memberships__user=user,
        memberships__is_active=True,
    )


def is_verified(request: HttpRequest) -> bool:
    """True once the session has passed the second factor (django-otp's OTPMiddleware)."""
    return bool(getattr(request.user, "is_verified", lambda: False)())


def has_confirmed_device(user: User) -> bool:
    """True when the user has a confirmed second factor (authenticator app or recovery codes)."""
    return any(True for _device in devices_for_user(user, confirmed=True))


def second_factor_expected(user: User) -> bool:
    """Whether a sign-in of `user` is complete only once the second factor is passed: an
    account with a confirmed device (TwoFactorMiddleware asks for its code) or one that must
    enrol (an installation superuser, or a role that requires it, `Membership.requires_2fa`)."""
    if user.is_superuser or has_confirmed_device(user):
        return True
    return any(m.requires_2fa for m in active_memberships(user))


def otp_enrolment_allowed(*, user: User, verified: bool) -> bool:
    """Whether this session may enrol an authenticator app.

    Without the second factor only an account that has none may enrol: otherwise the
    password alone would be enough to replace the real authenticator.
    """
    return verified or not has_confirmed_device(user)


def otp_reset_refusal(*, actor: User, target: User) -> str | None:
    """Why `actor` may not reset `target`'s second factor (devices deleted, re-enrolment), in
    Italian; None when they may.

    Installation superusers may reset anyone but themselves. An organization admin may
    reset a member who is not an admin anywhere, not an installation superuser, and whose
    every active membership is in an organization where the actor is an active admin: a
    reset weakens the account everywhere, so no admin may weaken it where they do not rule.
    """
    if actor.pk == target.pk:
        return _(
            "Non puoi azzerare la tua verifica in due passaggi: usa un codice di recupero "
            "o chiedi a un altro amministratore."
        )
    if not actor.is_active:
        return _("Il tuo account non è attivo.")
    if actor.is_superuser:
        return None
    if target.is_superuser or target.is_staff:
        return _(
            "Solo un amministratore dell'installazione può azzerare la verifica in due "
            "passaggi di un amministratore dell'installazione."
        )
    ruled = {
        m.organization_id for m in active_memberships(actor) if m.role == Membership.Role.ADMIN
    }
    if not ruled:
        return _("Solo gli amministratori possono azzerare la verifica in due passaggi.")
    target_memberships = active_memberships(target)
    if any(m.role == Membership.Role.ADMIN for m in target_memberships):
        return _(
            "%(name)s è amministratore di un ente: solo l'amministratore dell'installazione può "
            "azzerarne la verifica in due passaggi."
        ) % {"name": target}
    if any(m.organization_id not in ruled for m in target_memberships):
        return _(
            "%(name)s lavora anche per un ente che non amministri: azzerare la verifica in due "
            "passaggi indebolirebbe il suo accesso anche lì. Chiedi all'amministratore "
            "dell'installazione."
        ) % {"name": target}
    return None


def otp_reset_allowed(*, actor: User, target: User) -> bool:
    """Whether `actor` may reset `target`'s second factor (`otp_reset_refusal`'s rule)."""
    return otp_reset_refusal(actor=actor, target=target) is None


def get_user_for_otp_reset(request: AuthenticatedHttpRequest, public_id: Any) -> User:
    """The person whose second factor the signed-in user resets.

    Superusers reach any account; an organization admin reaches the members of the current
    organization (others: 404, a role below admin: 403). Someone the rule of
    `otp_reset_refusal` protects (themselves, an admin, a superuser, a member of an
    organization the actor does not administer): 403 (DeniedBecause) with the reason.
    """
    actor: User = request.user
    if actor.is_superuser:
        target = get_object_or_404(User, public_id=parse_public_id(public_id))
    else:
        target = get_membership_for_admin(request, public_id).user
    refusal = otp_reset_refusal(actor=actor, target=target)
    if refusal is not None:
        raise DeniedBecause(refusal)
    return target


def get_invitation_for_invitee(request: HttpRequest, public_id: Any) -> Invitation:
    """A pending invitation addressed to the signed-in user; anyone else's is a 404."""
    return get_object_or_404(
        Invitation.objects.select_related("organization"),
        public_id=parse_public_id(public_id),
        user_id=request.user.pk,
        status=Invitation.Status.PENDING,
    )


def get_invitation_for_manager(request: HttpRequest, public_id: Any) -> Invitation:
    """An invitation, for the admins of its organization (the current one) or superusers.
    Another organization's invitation is a 404; a role below admin is a 403.
    """
    invitations = Invitation.objects.select_related("organization", "user")
    if request.user.is_superuser:
        return get_object_or_404(invitations, public_id=parse_public_id(public_id))
    admin = require_role(request, Membership.Role.ADMIN)
    return get_object_or_404(
        invitations, public_id=parse_public_id(public_id), organization=admin.organization
    )


def get_invitation_by_token(token: str) -> Invitation | None:
    """The invitation an e-mailed link points to, whatever its state; None when unknown."""
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("organization", "user")
        .filter(token_digest=Invitation.digest(token))
        .first()
    )
