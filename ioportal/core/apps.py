from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ioportal.core"
    verbose_name = "Core"

    def ready(self) -> None:
        from ioportal.core import checks  # noqa: F401  (registers the deployment checks)
