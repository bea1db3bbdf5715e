"""Reads for the pages: configurations, "opened / downloaded", monthly message counts."""

from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from ioportal.accounts.models import Organization
from ioportal.ioservices.models import IOService
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.remotecontent.models import (
    Attachment,
    RemoteContentAccess,
    RemoteContentConfiguration,
)

Operation = RemoteContentAccess.Operation
Outcome = RemoteContentAccess.Outcome


def rc_configurations_for_organization(
    *, organization: Organization
) -> QuerySet[RemoteContentConfiguration]:
    return RemoteContentConfiguration.objects.filter(organization=organization).order_by("name")


def io_base_url(request: HttpRequest, configuration: RemoteContentConfiguration) -> str:
    """The `base_url` to register with IO for this configuration (absolute)."""
    path = reverse(
        "remotecontent_io:details", args=[configuration.configuration_id, "ID"]
    ).removesuffix("/messages/ID")
    return request.build_absolute_uri(path)


def services_using(configuration: RemoteContentConfiguration) -> list[IOService]:
    return list(
        IOService.objects.filter(
            organization_id=configuration.organization_id,
            remote_content_configuration_id=configuration.configuration_id,
        ).order_by("name")
    )


def delivery_access_summary(*, delivery: Delivery) -> dict[str, Any]:
    """What the delivery page shows: when IO opened the message and downloaded each file.

    {"opened": bool, "open_count", "first_opened_at", "last_opened_at",
     "downloads": [{"attachment_id", "name", "count", "first_at"}], "refused": n}
    `refused` counts calls about this delivery that were turned down (wrong fiscal code...).
    """
    accesses = RemoteContentAccess.objects.filter(delivery=delivery)
    opened = accesses.filter(operation=Operation.DETAILS, outcome=Outcome.OK).aggregate(
        count=Count("id"), first=Min("created_at"), last=Max("created_at")
    )
    downloads = (
        accesses.filter(operation=Operation.ATTACHMENT, outcome=Outcome.OK)
        .values("attachment__public_id", "attachment__original_name")
        .annotate(count=Count("id"), first_at=Min("created_at"))
        .order_by("first_at")
    )
    refused = accesses.exclude(outcome__in=[Outcome.OK, Outcome.NOT_READY]).count()
    return {
        "opened": opened["count"] > 0,
        "open_count": opened["count"],
        "first_opened_at": opened["first"],
        "last_opened_at": opened["last"],
        "downloads": [
            {
                "attachment_id": row["attachment__public_id"],
                "name": row["attachment__original_name"],
                "count": row["count"],
                "first_at": row["first_at"],
            }
            for row in downloads
        ],
        "refused": refused,
    }


def dispatch_access_counts(*, dispatch: Dispatch) -> dict[str, int]:
    """Deliveries of a dispatch whose message IO opened, and those with a file downloaded."""
    ok = RemoteContentAccess.objects.filter(delivery__dispatch=dispatch, outcome=Outcome.OK)
    # One query for both counts.
    return ok.aggregate(
        opened=Count("delivery", filter=Q(operation=Operation.DETAILS), distinct=True),
        downloaded=Count("delivery", filter=Q(operation=Operation.ATTACHMENT), distinct=True),
    )


def dispatch_has_attachments(*, dispatch: Dispatch) -> bool:
    """Whether a dispatch's messages carry files IO fetches from the portal (one for all, or
    one per citizen). Without any, IO never asks the portal for them: nothing can be opened
    or downloaded (a single citizen's message never has any)."""
    return Attachment.objects.filter(Q(dispatch=dispatch) | Q(delivery__dispatch=dispatch)).exists()


def delivery_has_attachments(*, delivery: Delivery) -> bool:
    """Whether one citizen's message carries files IO fetches from the portal: its dispatch's
    or its own (`dispatch_has_attachments`)."""
    return Attachment.objects.filter(
        Q(dispatch_id=delivery.dispatch_id) | Q(delivery=delivery)
    ).exists()


def monthly_message_counts(
    *, organization: Organization, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Messages accepted by IO (deliveries with an IO id) per month and service, split into
    Premium (ADVANCED) and standard, newest month first. Default: the last 12 months."""
    now = timezone.localtime()
    if since is None:
        year, month = (now.year - 1, now.month + 1) if now.month < 12 else (now.year, 1)
        since = now.replace(
            year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0
        )
    rows = (
        Delivery.objects.filter(
            dispatch__organization=organization,
            io_message_id__isnull=False,
            submitted_at__gte=since,
        )
        .annotate(month=TruncMonth("submitted_at"))
        .values("month", "dispatch__service__public_id", "dispatch__service__name")
        .annotate(
            premium=Count("id", filter=Q(dispatch__feature_level=FeatureLevel.ADVANCED)),
            standard=Count("id", filter=~Q(dispatch__feature_level=FeatureLevel.ADVANCED)),
        )
        .order_by("-month", "dispatch__service__name")
    )
    return [
        {
            "month": row["month"],
            "service_id": row["dispatch__service__public_id"],
            "service_name": row["dispatch__service__name"],
            "premium": row["premium"],
            "standard": row["standard"],
            "total": row["premium"] + row["standard"],
        }
        for row in rows
    ]
