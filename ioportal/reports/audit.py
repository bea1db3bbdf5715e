"""The audit actions of `reports`: exports, hand-off lists and proofs of what was sent.

Named on the app's AppConfig (`audit_actions`), read by `ioportal.core.audit`.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    # --- hand-off list of the citizens IO did not reach (reports.handoff) ---
    HANDOFF_EXPORTED = (
        "reports.handoff_exported",
        _("Elenco dei cittadini non raggiunti scaricato"),
    )
    # Proofs of sending (reports.proofs): the fiscal code in clear, as a reveal.
    DELIVERY_PROOF_DOWNLOADED = (
        "delivery.proof_downloaded",
        _("Prova di invio di un messaggio scaricata"),
    )
    DISPATCH_PROOFS_DOWNLOADED = (
        "dispatch.proofs_downloaded",
        _("Prove di invio di un invio scaricate (ZIP)"),
    )
    # Exports of deliveries (reports.exports): fiscal codes masked.
    DISPATCH_DELIVERIES_EXPORTED = (
        "export.dispatch_deliveries",
        _("Consegne di un invio esportate"),
    )
    SEARCH_RESULTS_EXPORTED = (
        "export.search_results",
        _("Risultati della ricerca per codice fiscale esportati"),
    )
