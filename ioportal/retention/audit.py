"""The audit actions of `retention`. Named on the app's AppConfig (`audit_actions`)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    PERSONAL_DATA_PURGED = (
        "retention.purged",
        _("Dati personali di un invio cancellati (conservazione)"),
    )
