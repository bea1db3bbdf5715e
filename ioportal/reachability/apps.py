from django.apps import AppConfig

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
