"""How much of a service's Premium carnet (ioservices.PremiumCarnet) is used and left.

The rule, in one place (docs/reports.md, "Carnet Premium"): the carnet of a service at a
date is the one whose period (inclusive, Europe/Rome dates) contains that date. It has used

- every Premium delivery of the service that IO accepted (it has an IO message id) and was
  submitted within the carnet's period, whatever happened afterwards; plus
- every Premium delivery of the service not yet submitted (to verify, ready, waiting for a
  new attempt or being sent) whose dispatch is scheduled, running or paused: messages
  already launched or approved that will be sent, counted against the carnet in effect now.

Dispatches still waiting for approval, test sends skipped by IO, unreachable citizens and
failed deliveries use nothing. remaining = max(purchased − used, 0).

The admins of the organization are told once per carnet when it reaches 80 % and 100 %
(`carnet_alerts_notify`, run by a schedule): a Notification each and one audit event.
"""

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from ioportal.accounts.models import Membership
from ioportal.core.io_texts import Part, parts_text, said
from ioportal.core.services import audit_log
from ioportal.ioservices.audit import Action
from ioportal.ioservices.models import IOService, PremiumCarnet
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel, Notification

# Deliveries that will still be submitted (no IO id yet, not final).
NOT_YET_SUBMITTED = (
    Delivery.State.PENDING,
    Delivery.State.CHECKING,
    Delivery.State.READY,
    Delivery.State.RETRY_WAIT,
    Delivery.State.SUBMITTING,
)
# Dispatches launched or approved that will send their remaining deliveries.
WILL_SEND = (Dispatch.State.SCHEDULED, Dispatch.State.RUNNING, Dispatch.State.PAUSED)
ALERT_THRESHOLDS = (80, 100)  # percent of the purchased messages


@dataclass(frozen=True)
class CarnetUsage:
    """A carnet and its counts (messages)."""

    carnet: PremiumCarnet
    submitted: int  # accepted by IO within the period
    reserved: int  # launched or approved, not yet submitted

    @property
    def purchased(self) -> int:
        return self.carnet.purchased

    @property
    def used(self) -> int:
        return self.submitted + self.reserved

    @property
    def remaining(self) -> int:
        return max(self.purchased - self.used, 0)

    @property
    def percent_used(self) -> int:
        """Whole percent used (rounded down), 100 for an empty carnet."""
        if self.purchased == 0:
            return 100
        return self.used * 100 // self.purchased


# The days whose midnight (and the next one) exist as aware instants in any time zone: a
# carnet recorded with an extreme date (before the form refused them) still counts.
_FIRST_DAY = datetime.date.min + datetime.timedelta(days=2)
_LAST_DAY = datetime.date.max - datetime.timedelta(days=2)


def _day_start(day: datetime.date) -> datetime.datetime:
    """Midnight (local time) starting `day`, aware; `day` clamped to years 1–9999 minus two
    days at each end, so no arithmetic overflows."""
    day = min(max(day, _FIRST_DAY), _LAST_DAY)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _day_after(day: datetime.date) -> datetime.datetime:
    """Midnight (local time) ending `day`, aware, clamped like `_day_start`."""
    return _day_start(min(day, _LAST_DAY) + datetime.timedelta(days=1))


def carnet_at(*, service: IOService, day: datetime.date) -> PremiumCarnet | None:
    """The service's carnet whose period contains `day`, or None."""
    return (
        PremiumCarnet.objects.filter(service=service, starts_on__lte=day, ends_on__gte=day)
        .order_by("starts_on")
        .first()
    )


def _premium_dispatches(carnet: PremiumCarnet) -> QuerySet[Dispatch]:
    return Dispatch.objects.filter(
        service_id=carnet.service_id, feature_level=FeatureLevel.ADVANCED
    )


def carnet_submitted_deliveries(carnet: PremiumCarnet) -> QuerySet[Delivery]:
    """The Premium deliveries of the carnet's service IO accepted within its period. Looked
    up per dispatch in the partial index `delivery_submitted_idx` (dispatch, submitted_at
    where an IO id exists), so a count reads the index alone, not the deliveries' rows."""
    return Delivery.objects.filter(
        dispatch_id__in=_premium_dispatches(carnet).values("pk"),
        io_message_id__isnull=False,
        submitted_at__gte=_day_start(carnet.starts_on),
        submitted_at__lt=_day_after(carnet.ends_on),
    ).order_by()


def carnet_usage(carnet: PremiumCarnet) -> CarnetUsage:
    """Counts of one carnet, by the rule in the module's docstring (two COUNT queries)."""
    submitted = carnet_submitted_deliveries(carnet).count()
    reserved = Delivery.objects.filter(
        dispatch_id__in=_premium_dispatches(carnet).filter(state__in=WILL_SEND).values("pk"),
        state__in=NOT_YET_SUBMITTED,
    ).count()
    return CarnetUsage(carnet=carnet, submitted=submitted, reserved=reserved)


def premium_remaining(
    *, service: IOService, day: datetime.date | None = None
) -> CarnetUsage | None:
    """The usage of the service's carnet at `day` (today in Europe/Rome by default), or None
    when no carnet covers that day. `.remaining` is the number of Premium messages left."""
    carnet = carnet_at(service=service, day=day or timezone.localdate())
    return carnet_usage(carnet) if carnet is not None else None


@dataclass(frozen=True)
class CarnetNeed:
    """What the confirm / approval page shows: this send uses `needed` of `usage.remaining`."""

    needed: int
    usage: CarnetUsage

    @property
    def exceeds(self) -> bool:
        return self.needed > self.usage.remaining


def carnet_need(*, service: IOService, needed: int) -> CarnetNeed | None:
    """The carnet figures for a Premium send of `needed` messages, or None without a carnet
    today."""
    usage = premium_remaining(service=service)
    return CarnetNeed(needed=needed, usage=usage) if usage is not None else None


def dispatch_carnet_need(dispatch: Dispatch) -> CarnetNeed | None:
    """The carnet figures for a Premium dispatch waiting for approval (its deliveries not yet
    final, or the expected count while they are being prepared); None for a standard
    dispatch, another state, or without a carnet."""
    if (
        dispatch.feature_level != FeatureLevel.ADVANCED
        or dispatch.state != Dispatch.State.AWAITING_APPROVAL
    ):
        return None
    needed = dispatch.deliveries.filter(state__in=NOT_YET_SUBMITTED).count()
    return carnet_need(service=dispatch.service, needed=needed or dispatch.deliveries_expected)


def carnet_alerts_for(*, organization_id: int) -> list[PremiumCarnet]:
    """The carnets in effect today of the organization's services that reached 80 % (or
    100 %: `alerted_100_at` set), for the admins' banner. Read from the marks the alert
    schedule sets, so the dashboard counts no deliveries (it follows within 15 minutes)."""
    today = timezone.localdate()
    return list(
        PremiumCarnet.objects.filter(
            service__organization_id=organization_id,
            starts_on__lte=today,
            ends_on__gte=today,
            alerted_80_at__isnull=False,
        )
        .select_related("service")
        .order_by("service__name")
    )


def _alert_parts(usage: CarnetUsage, threshold: int) -> list[Part]:
    """The alert as a sentence translated when shown (core.io_texts.Part), its counts
    written the reader's way."""
    values = {
        "service": usage.carnet.service.name,
        "used": usage.used,
        "purchased": usage.purchased,
    }
    if threshold >= 100:
        return [
            said(
                gettext_noop(
                    "Carnet Premium esaurito per il servizio «%(service)s»: usati %(used)s "
                    "messaggi su %(purchased)s acquistati."
                ),
                **values,
            )
        ]
    return [
        said(
            gettext_noop(
                "Carnet Premium del servizio «%(service)s» all'80%%: usati %(used)s messaggi su "
                "%(purchased)s acquistati."
            ),
            **values,
        )
    ]


def carnet_alerts_notify(*, day: datetime.date | None = None) -> int:
    """Tell the admins of each organization when a carnet in effect at `day` (today) reaches
    80 % and 100 %: one Notification per active admin and one audit event, once per carnet and
    threshold (a conditional UPDATE of `alerted_80_at` / `alerted_100_at` decides who sends
    it, so two runs at once never notify twice). Returns the alerts sent."""
    day = day or timezone.localdate()
    sent = 0
    carnets = PremiumCarnet.objects.filter(starts_on__lte=day, ends_on__gte=day).filter(
        Q(alerted_80_at__isnull=True) | Q(alerted_100_at__isnull=True)
    )
    for carnet in carnets.select_related("service", "service__organization").iterator():
        usage = carnet_usage(carnet)
        for threshold in ALERT_THRESHOLDS:
            field = f"alerted_{threshold}_at"
            if usage.percent_used < threshold or getattr(carnet, field) is not None:
                continue
            with transaction.atomic():
                won = PremiumCarnet.objects.filter(
                    pk=carnet.pk, **{f"{field}__isnull": True}
                ).update(**{field: timezone.now()})
                if not won:
                    continue
                organization = carnet.service.organization
                parts = _alert_parts(usage, threshold)
                admins = Membership.objects.filter(
                    organization=organization, role=Membership.Role.ADMIN, is_active=True
                ).values_list("user_id", flat=True)
                Notification.objects.bulk_create(
                    Notification(user_id=user_id, organization=organization, text_parts=parts)
                    for user_id in admins
                )
                audit_log(
                    action=Action.PREMIUM_CARNET_ALERT,
                    organization=organization,
                    target=carnet,
                    target_label=parts_text(parts)[:200],
                    changes={"threshold": threshold, "used": usage.used},
                )
                sent += 1
    return sent
