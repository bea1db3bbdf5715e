"""Recording the Premium messages bought for a service (PremiumCarnet).

A service's carnets never overlap: each create or update locks the service row, then looks
for another carnet whose period shares at least one day with the new one. Every change is an
audit event with the fields that changed.
"""

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from ioportal.accounts.models import User
from ioportal.core.services import audit_log, changed_fields
from ioportal.ioservices.audit import Action
from ioportal.ioservices.models import IOService, PremiumCarnet

CARNET_FIELDS = ("starts_on", "ends_on", "purchased", "note")


def _values(carnet: PremiumCarnet) -> dict[str, Any]:
    return {field: getattr(carnet, field) for field in CARNET_FIELDS}


def _audit_values(carnet: PremiumCarnet) -> dict[str, Any]:
    """The carnet's fields as the audit trail keeps them (dates as text), on its creation and
    deletion: plain values, not [old, new] pairs."""
    return {field: new for field, (_old, new) in changed_fields({}, _values(carnet)).items()}


def _label(carnet: PremiumCarnet) -> str:
    return f"{carnet.service.name}: {carnet.starts_on:%d/%m/%Y}–{carnet.ends_on:%d/%m/%Y}"


def _check_purchased(purchased: int) -> None:
    """Raise ValidationError (Italian) when no message was bought: a carnet of 0 would be
    "esaurito" from its first day."""
    if purchased < 1:
        raise ValidationError(
            _("Indica quanti messaggi Premium sono stati acquistati: almeno 1."),
            code="purchased_zero",
        )


def premium_carnet_check_period(
    *, service: IOService, starts_on: datetime.date, ends_on: datetime.date, exclude: int | None
) -> None:
    """Raise ValidationError (Italian) when the period is reversed or overlaps another carnet
    of the service (but the one of id `exclude`). Both ends are inclusive: a carnet ending on
    31/12 and one starting on the same 31/12 overlap. Reads only; the form calls it too, to
    tell an overlap with the other fields' errors."""
    if starts_on > ends_on:
        raise ValidationError(
            _("La data di fine non può precedere quella di inizio."), code="period_reversed"
        )
    others = PremiumCarnet.objects.filter(
        service=service, starts_on__lte=ends_on, ends_on__gte=starts_on
    )
    if exclude is not None:
        others = others.exclude(pk=exclude)
    clash = others.order_by("starts_on").first()
    if clash is not None:
        raise ValidationError(
            _(
                "Il periodo si sovrappone a quello di un altro carnet di questo servizio "
                "(dal %(start)s al %(end)s): i periodi dei carnet non possono sovrapporsi."
            )
            % {"start": f"{clash.starts_on:%d/%m/%Y}", "end": f"{clash.ends_on:%d/%m/%Y}"},
            code="period_overlap",
        )


def premium_carnet_create(
    *,
    service: IOService,
    actor: User,
    starts_on: datetime.date,
    ends_on: datetime.date,
    purchased: int,
    note: str = "",
    request: HttpRequest | None = None,
) -> PremiumCarnet:
    """Record a carnet. Raises ValidationError (Italian) on a reversed or overlapping period."""
    with transaction.atomic():
        _check_purchased(purchased)
        IOService.objects.select_for_update().filter(pk=service.pk).first()
        premium_carnet_check_period(
            service=service, starts_on=starts_on, ends_on=ends_on, exclude=None
        )
        carnet = PremiumCarnet.objects.create(
            service=service,
            starts_on=starts_on,
            ends_on=ends_on,
            purchased=purchased,
            note=note.strip(),
            created_by=actor,
        )
        audit_log(
            action=Action.PREMIUM_CARNET_CREATED,
            actor=actor,
            organization=service.organization,
            target=carnet,
            target_label=_label(carnet),
            changes=_audit_values(carnet),
            request=request,
        )
    return carnet


def premium_carnet_update(
    *,
    carnet: PremiumCarnet,
    actor: User,
    starts_on: datetime.date,
    ends_on: datetime.date,
    purchased: int,
    note: str = "",
    request: HttpRequest | None = None,
) -> PremiumCarnet:
    """Change a carnet's period, count or note. Raises ValidationError (Italian) on a reversed
    or overlapping period. A count changed upwards lets the 80 % / 100 % alerts fire again."""
    with transaction.atomic():
        _check_purchased(purchased)
        IOService.objects.select_for_update().filter(pk=carnet.service_id).first()
        before = _values(carnet)
        premium_carnet_check_period(
            service=carnet.service, starts_on=starts_on, ends_on=ends_on, exclude=carnet.pk
        )
        if purchased > carnet.purchased:
            carnet.alerted_80_at = carnet.alerted_100_at = None
        carnet.starts_on, carnet.ends_on = starts_on, ends_on
        carnet.purchased, carnet.note = purchased, note.strip()
        carnet.save()
        changes = changed_fields(before, _values(carnet))
        if changes:
            audit_log(
                action=Action.PREMIUM_CARNET_UPDATED,
                actor=actor,
                organization=carnet.service.organization,
                target=carnet,
                target_label=_label(carnet),
                changes=changes,
                request=request,
            )
    return carnet


def premium_carnet_delete(
    *, carnet: PremiumCarnet, actor: User, request: HttpRequest | None = None
) -> None:
    """Delete a carnet; the audit event keeps its period and count."""
    with transaction.atomic():
        audit_log(
            action=Action.PREMIUM_CARNET_DELETED,
            actor=actor,
            organization=carnet.service.organization,
            target=carnet,
            target_label=_label(carnet),
            changes=_audit_values(carnet),
            request=request,
        )
        carnet.delete()
