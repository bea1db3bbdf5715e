"""The audit actions of `reports`: downloads of exports.

Named on the app's AppConfig (`audit_actions`), read by `ioportal.core.audit`.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    DISPATCH_DELIVERIES_EXPORTED = (
        "export.dispatch_deliveries",
        _("Consegne di un invio esportate"),
    )
    SEARCH_RESULTS_EXPORTED = (
        "export.search_results",
        _("Risultati della ricerca per codice fiscale esportati"),
    )
