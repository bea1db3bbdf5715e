from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ioportal.core"
    verbose_name = "Core"
