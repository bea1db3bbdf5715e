from django.apps import AppConfig


class ReachabilityConfig(AppConfig):
    name = "ioportal.reachability"
    verbose_name = "Verifica raggiungibilità"
