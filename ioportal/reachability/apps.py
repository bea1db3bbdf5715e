from typing import Any

from django.apps import AppConfig

from ioportal.accounts.retention import retention_due_requested
from ioportal.reachability.audit import Action


class ReachabilityConfig(AppConfig):
    name = "ioportal.reachability"
    verbose_name = "Verifica raggiungibilità"
    audit_actions = Action
    schedules = (
        (
            "ioportal.reachability.tasks.reachability_sweep",
            "Verifiche di raggiungibilità: ripresa del lavoro in sospeso",
            1,
        ),
        (
            "ioportal.reachability.tasks.reachability_purge",
            "Verifiche di raggiungibilità: cancellazione dei dati scaduti",
            24 * 60,
        ),
    )

    def ready(self) -> None:
        # Imported once the app registry is ready: it uses models.
        from ioportal.reachability.services import reachability_purge_preview

        def on_retention_due_requested(
            sender: object, *, organization: Any, cutoff: Any, **kwargs: object
        ) -> list[str]:
            return reachability_purge_preview(organization=organization, cutoff=cutoff)

        retention_due_requested.connect(
            on_retention_due_requested, dispatch_uid="reachability.purge_preview", weak=False
        )
