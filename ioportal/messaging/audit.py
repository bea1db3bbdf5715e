"""The audit actions of `messaging`: templates, dispatches and their approval.

Named on the app's AppConfig (`audit_actions`), read by `ioportal.core.audit`.
"""

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    TEMPLATE_CREATED = "template.created", _("Modello di messaggio creato")
    TEMPLATE_UPDATED = "template.updated", _("Modello di messaggio modificato")
    DISPATCH_TEST_SENT = "dispatch.test_sent", _("Invio di prova")
    DISPATCH_LAUNCHED = "dispatch.launched", _("Invio avviato")
    DISPATCH_APPROVAL_REQUESTED = (
        "dispatch.approval_requested",
        _("Invio in attesa di approvazione"),
    )
    DISPATCH_APPROVED = "dispatch.approved", _("Invio approvato")
    DISPATCH_REJECTED = "dispatch.rejected", _("Invio respinto")
    DISPATCH_FOLLOW_UP_STARTED = "dispatch.follow_up_started", _("Sollecito preparato")
    RECIPIENTS_REPEATED_EXCLUDED = (
        "recipients.repeated_excluded",
        _("Esclusi i cittadini che hanno ricevuto o riceveranno lo stesso contenuto"),
    )
    APPROVAL_POLICY_CHANGED = "org.approval_policy_changed", _("Regola di approvazione cambiata")


def change_values() -> dict[str, dict[str, Mapping[str, Any]]]:
    """The words of the codes the events of `messaging` hold
    (`core.audit.change_value_words`): a follow-up's criterion."""
    from ioportal.messaging.followups import Criterion

    return {Action.DISPATCH_FOLLOW_UP_STARTED: {"criterion": dict(Criterion.choices)}}
