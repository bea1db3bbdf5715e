"""Premium status for the sending pages: read and payment status from IO's status refresh,
"opened / downloaded" from the remote-content log."""

from collections.abc import Iterable
from typing import Any

from django.utils.translation import gettext as _

from ioportal.messaging.models import Delivery
from ioportal.remotecontent.models import RemoteContentAccess

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
