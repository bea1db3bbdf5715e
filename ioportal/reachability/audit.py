"""The audit actions of `reachability`, named on the app's AppConfig (`audit_actions`)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    CHECK_CREATED = "reachability.created", _("Verifica di raggiungibilità avviata")
    RESULT_EXPORTED = (
        "reachability.exported",
        _("Esito di una verifica di raggiungibilità scaricato"),
    )
    CHECK_PURGED = (
        "reachability.purged",
        _("Codici fiscali di una verifica di raggiungibilità cancellati (conservazione)"),
    )
