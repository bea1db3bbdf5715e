"""The audit actions of `remotecontent`: the configurations IO calls for Premium content.

Named on the app's AppConfig (`audit_actions`), read by `ioportal.core.audit`.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    RC_CONFIGURATION_CREATED = (
        "remotecontent.configuration_created",
        _("Configurazione contenuti remoti registrata"),
    )
    RC_CONFIGURATION_KEY_REGENERATED = (
        "remotecontent.key_regenerated",
        _("Chiave dei contenuti remoti rigenerata"),
    )
