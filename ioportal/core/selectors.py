from datetime import date

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date

from ioportal.accounts.models import Membership, Organization
from ioportal.core.models import AuditEvent


def audit_events_for_organization(
    *,
    organization: Organization,
    action: str = "",
    actor: str = "",
    date_from: str = "",
    date_to: str = "",
) -> QuerySet[AuditEvent]:
    """The organization's audit trail, plus the sign-in events of its members.

    Sign-in events belong to no organization, so they are matched through the members.
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
    start: date | None = parse_date(date_from) if date_from else None
    end: date | None = parse_date(date_to) if date_to else None
    if start:
        events = events.filter(created_at__date__gte=start)
    if end:
        events = events.filter(created_at__date__lte=end)
    return events.order_by("-created_at", "-id")
