"""The audit actions of `recipients`: recipient lists.

Named on the app's AppConfig (`audit_actions`), read by `ioportal.core.audit`.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    RECIPIENTS_UPLOADED = "recipients.uploaded", _("Elenco di destinatari caricato")
    RECIPIENTS_REJECTED_EXPORTED = (
        "recipients.rejected_exported",
        _("Righe scartate di un elenco scaricate"),
    )
