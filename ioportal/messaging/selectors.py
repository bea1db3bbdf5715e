"""Reads shared by the compose views and the dashboard cards."""

from typing import Any

from django.db.models import Count, QuerySet

from ioportal.accounts.models import Organization, User
from ioportal.messaging.models import (
    ApprovalPolicy,
    Delivery,
    Dispatch,
    MessageTemplate,
    Notification,
)
from ioportal.recipients.models import RecipientList


def templates_for_organization(*, organization: Organization) -> QuerySet[MessageTemplate]:
    """Current, not archived versions: the template list and the compose choices."""
    return MessageTemplate.objects.filter(
        organization=organization, is_current=True, is_archived=False
    ).order_by("name")


def template_versions(*, template: MessageTemplate) -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.filter(family=template.family).order_by("-version")


def approval_policy(*, organization: Organization) -> ApprovalPolicy:
    """The organization's policy; an unsaved empty one (no approval) when none is set."""
    policy = ApprovalPolicy.objects.filter(organization=organization).first()
    return policy or ApprovalPolicy(organization=organization)


def dispatches_awaiting_approval(*, organization: Organization) -> QuerySet[Dispatch]:
    return (
        Dispatch.objects.filter(organization=organization, state=Dispatch.State.AWAITING_APPROVAL)
        .select_related("created_by", "service")
        .annotate(recipients=Count("deliveries"))
        .order_by("created_at")
    )


def unread_notifications(*, user: User, organization: Organization) -> QuerySet[Notification]:
    return Notification.objects.filter(
        user=user, organization=organization, read_at__isnull=True
    ).select_related("dispatch")


def delivery_counts(*, dispatch: Dispatch) -> dict[str, Any]:
    """Deliveries by state, with labels, and the total."""
    rows = (
        Delivery.objects.filter(dispatch=dispatch)
        .values("state")
        .annotate(n=Count("id"))
        .order_by("state")
    )
    labels = dict(Delivery.State.choices)
    by_state = [(labels.get(r["state"], r["state"]), r["n"]) for r in rows]
    return {"by_state": by_state, "total": sum(n for _label, n in by_state)}


def recent_test_sends(*, recipient_list: RecipientList) -> list[Dispatch]:
    """The five latest test sends made from `recipient_list` (`Dispatch.test_list`) since its
    rows were last checked (`RecipientList.checked_at`: a test before it sent other content),
    newest first, each with its deliveries as `test_deliveries`. Tests from other lists, even
    of the same template and author, are not among them, nor tests recorded without a list."""
    sends = Dispatch.objects.filter(kind=Dispatch.Kind.TEST, test_list=recipient_list)
    if recipient_list.checked_at is not None:
        sends = sends.filter(created_at__gte=recipient_list.checked_at)
    dispatches = list(sends.order_by("-created_at")[:5])
    for dispatch in dispatches:
        dispatch.test_deliveries = list(dispatch.deliveries.order_by("id"))  # type: ignore[attr-defined]
    return dispatches
