"""The audit actions of `reports`: exports, hand-off lists and proofs of what was sent.

Named on the app's AppConfig (`audit_actions`), read by `ioportal.core.audit`.
"""

from collections.abc import Mapping
from typing import Any

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


def change_values() -> dict[str, dict[str, Mapping[str, Any]]]:
    """The words of the codes the events of `reports` hold (`core.audit.change_value_words`):
    the hand-off list's reason ("all": the whole list), the outcome filter of an export ("":
    every outcome)."""
    from ioportal.reports.handoff import REASONS
    from ioportal.sending.forms import GROUP_LABELS

    reasons: dict[str, Any] = {"all": _("tutti i motivi")}
    reasons.update({reason.key: reason.label for reason in REASONS})
    groups: dict[str, Any] = {"": _("tutti")}
    groups.update(GROUP_LABELS)
    return {
        Action.HANDOFF_EXPORTED: {"reason": reasons},
        Action.DISPATCH_DELIVERIES_EXPORTED: {"esito": groups},
    }
