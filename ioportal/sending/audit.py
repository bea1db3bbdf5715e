"""The audit actions of `sending`: the sending of a dispatch and the outcomes of its deliveries.

Named on the app's AppConfig (`audit_actions`), read by `ioportal.core.audit`.
"""

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    DISPATCH_PAUSED = "dispatch.paused", _("Invio sospeso")
    DISPATCH_AUTO_PAUSED = "dispatch.auto_paused", _("Invio sospeso automaticamente")
    DISPATCH_RESUMED = "dispatch.resumed", _("Invio ripreso")
    DISPATCH_CANCELLED = "dispatch.cancelled", _("Invio annullato")
    DISPATCH_RETRY_FAILED = "dispatch.retry_failed", _("Nuovo tentativo per i non riusciti")
    DELIVERY_MARKED_SENT = "delivery.marked_sent", _("Esito incerto segnato come inviato")
    DELIVERY_RESENT = "delivery.resent", _("Esito incerto: messaggio inviato di nuovo")
    DISPATCH_DELIVERIES_EXPORTED = (
        "dispatch.deliveries_exported",
        _("Esiti dei destinatari di un invio scaricati"),
    )
    DELIVERY_FISCAL_CODE_SHOWN = (
        "delivery.fiscal_code_shown",
        _("Codice fiscale di un destinatario mostrato"),
    )
    DELIVERY_SEARCHED = "delivery.searched", _("Ricerca di un cittadino per codice fiscale")
    SEND_WINDOWS_CHANGED = "org.send_windows_changed", _("Finestre di invio cambiate")


def change_values() -> dict[str, dict[str, Mapping[str, Any]]]:
    """The words of the values the events of `sending` hold (`core.audit.change_value_words`):
    whether the send windows are on ("enabled", a boolean, looked up as JSON spells it)."""
    return {
        Action.SEND_WINDOWS_CHANGED: {
            "enabled": {"true": _("attive"), "false": _("spente")},
        }
    }
