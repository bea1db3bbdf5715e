"""Premium status for the sending pages: read and payment status from IO's status refresh,
"opened / downloaded" from the remote-content log."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.remotecontent.models import RemoteContentAccess
from ioportal.remotecontent.selectors import dispatch_access_counts

Operation = RemoteContentAccess.Operation
Outcome = RemoteContentAccess.Outcome


def read_status_text(value: str) -> str:
    """IO's `read_status` in Italian ("" when IO never told us)."""
    return {
        "READ": _("letto"),
        "UNREAD": _("non letto"),
        "UNAVAILABLE": _("non disponibile"),
    }.get(value or "", value or "")


def payment_status_text(value: str) -> str:
    """IO's `payment_status` in Italian ("" when IO never told us)."""
    return {"PAID": _("pagato"), "NOT_PAID": _("non pagato")}.get(value or "", value or "")


def access_flags(*, delivery_ids: Iterable[int]) -> dict[int, dict[str, bool]]:
    """{delivery id: {"opened", "downloaded"}} for a page of deliveries, in one query."""
    ids = list(delivery_ids)
    result = {pk: {"opened": False, "downloaded": False} for pk in ids}
    rows = (
        RemoteContentAccess.objects.filter(delivery_id__in=ids, outcome=Outcome.OK)
        .values_list("delivery_id", "operation")
        .distinct()
    )
    for delivery_id, operation in rows:
        if operation == Operation.DETAILS:
            result[delivery_id]["opened"] = True
        elif operation == Operation.ATTACHMENT:
            result[delivery_id]["downloaded"] = True
    return result


def premium_status_rows(*, deliveries: Iterable[Delivery]) -> dict[int, dict[str, Any]]:
    """What the delivery rows show for Premium: read, payment, opened, downloaded."""
    items = list(deliveries)
    flags = access_flags(delivery_ids=[d.pk for d in items])
    return {
        d.pk: {
            "read": read_status_text(d.read_status),
            "payment": payment_status_text(d.payment_status) if d.payment_amount else "",
            **flags[d.pk],
        }
        for d in items
    }


def premium_summary(*, dispatch: Dispatch) -> dict[str, Any] | None:
    """Read rate and paid rate of a Premium dispatch, with opened / downloaded counts.

    Rates are over the messages IO accepted (with an IO id), and for payment over those
    with a payment notice; None for a standard dispatch.
    """
    if dispatch.feature_level != FeatureLevel.ADVANCED:
        return None
    counts = Delivery.objects.filter(dispatch=dispatch, io_message_id__isnull=False).aggregate(
        sent=Count("id"),
        read=Count("id", filter=Q(read_status="READ")),
        with_payment=Count("id", filter=Q(payment_amount__gt=0)),
        paid=Count("id", filter=Q(payment_status="PAID")),
    )

    def rate(part: int, whole: int) -> int | None:
        return round(100 * part / whole) if whole else None

    return {
        **counts,
        "read_rate": rate(counts["read"], counts["sent"]),
        "paid_rate": rate(counts["paid"], counts["with_payment"]),
        **dispatch_access_counts(dispatch=dispatch),
    }
