from datetime import date

from django.db.models import Q, QuerySet

from ioportal.accounts.audit import Action
from ioportal.accounts.models import Organization, User
from ioportal.core.models import AuditEvent


def audit_events_for_organization(
    *,
    organization: Organization,
    action: str = "",
    actor: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """The organization's audit trail: only what happened inside it.

    Installation-level events (sign-ins, failed codes, second factor: no organization) never
    appear here, not even a member's: a person's sign-in history and addresses belong to
    them and to the installation admin (`sign_in_events_for_user`), not to whichever
    organization invites them.
    `date_from` and `date_to` are days in the current time zone, both included.
    """
    events = AuditEvent.objects.filter(organization=organization).select_related("actor")
    return _filtered(events, action=action, actor=actor, date_from=date_from, date_to=date_to)


def audit_events_for_installation(
    *,
    action: str = "",
    actor: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """The events of no organization (sign-ins, second factor, deactivations, key rotation),
    for the installation admin; filters as `audit_events_for_organization`."""
    events = AuditEvent.objects.filter(organization__isnull=True).select_related("actor")
    return _filtered(events, action=action, actor=actor, date_from=date_from, date_to=date_to)


def _filtered(
    events: QuerySet[AuditEvent],
    *,
    action: str,
    actor: str,
    date_from: date | None,
    date_to: date | None,
) -> QuerySet[AuditEvent]:
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(
            Q(actor__username__icontains=actor) | Q(actor_label__icontains=actor)
        )
    if date_from:
        events = events.filter(created_at__date__gte=date_from)
    if date_to:
        events = events.filter(created_at__date__lte=date_to)
    return events.order_by("-created_at", "-id")


def sign_in_events_for_user(*, user: User) -> QuerySet[AuditEvent]:
    """The installation-level sign-in events about one person, newest first.

    Sign-ins and sign-outs, failed attempts on their username, lockouts, second-factor
    events, password changes, and reset requests for their address. Events of an
    organization are not included (they are in its log).
    """
    about_user = Q(actor=user) | Q(target_type="user", target_id=str(user.public_id))
    if user.email:
        about_user |= Q(action=Action.PASSWORD_RESET_REQUESTED, target_label__iexact=user.email)
    return (
        AuditEvent.objects.filter(organization__isnull=True, action__startswith="auth.")
        .filter(about_user)
        .order_by("-created_at", "-id")
    )
