from datetime import date

from django.db.models import Q, QuerySet

from ioportal.accounts.models import Membership, Organization
from ioportal.core.models import AuditEvent


def audit_events_for_organization(
    *,
    organization: Organization,
    action: str = "",
    actor: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """The organization's audit trail, plus the sign-in events of its members.

    Sign-in events belong to no organization, so they are matched through the members.
    `date_from` and `date_to` are days in the current time zone, both included.
    """
    members = Membership.objects.filter(organization=organization).values("user_id")
    events = AuditEvent.objects.filter(
        Q(organization=organization)
        | Q(organization__isnull=True, action__startswith="auth.", actor_id__in=members)
    ).select_related("actor")
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
