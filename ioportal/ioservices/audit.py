"""The audit actions of `ioservices`: IO services, their keys and the encryption of the keys.

Named on the app's AppConfig (`audit_actions`), read by `ioportal.core.audit`.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    IOSERVICE_CREATED = "ioservice.created", _("Servizio IO creato")
    IOSERVICE_UPDATED = "ioservice.updated", _("Servizio IO modificato")
    IOSERVICE_ACTIVE_KEY_CHANGED = "ioservice.active_key_changed", _("Chiave in uso cambiata")
    IOSERVICE_KEY_SWITCHED = (
        "ioservice.key_switched",
        _("Chiave rifiutata da IO: passaggio automatico all'altra"),
    )
    IOSERVICE_KEY_PROBLEM = "ioservice.key_problem", _("Chiavi del servizio IO rifiutate")
    IOSERVICE_KEY_RESTORED = "ioservice.key_restored", _("Chiavi del servizio IO di nuovo valide")
    IOSERVICE_CHECK_REQUESTED = "ioservice.check_requested", _("Verifica del servizio IO")
    ENCRYPTION_KEYS_ROTATED = "crypto.rotated", _("Chiavi API cifrate di nuovo")
    PREMIUM_CARNET_CREATED = "ioservice.carnet_created", _("Carnet Premium registrato")
    PREMIUM_CARNET_UPDATED = "ioservice.carnet_updated", _("Carnet Premium modificato")
    PREMIUM_CARNET_DELETED = "ioservice.carnet_deleted", _("Carnet Premium eliminato")
    PREMIUM_CARNET_ALERT = "ioservice.carnet_alert", _("Carnet Premium quasi esaurito o esaurito")
