"""The audit actions of `reports`: downloads of documents that carry personal data.

Named on the app's AppConfig (`audit_actions`), read by `ioportal.core.audit`.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    # Proofs of sending (reports.proofs): the fiscal code in clear, as a reveal.
    DELIVERY_PROOF_DOWNLOADED = (
        "delivery.proof_downloaded",
        _("Prova di invio di un messaggio scaricata"),
    )
    DISPATCH_PROOFS_DOWNLOADED = (
        "dispatch.proofs_downloaded",
        _("Prove di invio di un invio scaricate (ZIP)"),
    )
