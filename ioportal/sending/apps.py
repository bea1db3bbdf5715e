from django.apps import AppConfig


class SendingConfig(AppConfig):
    name = "ioportal.sending"
    verbose_name = "Sending"

    def ready(self) -> None:
        from ioportal.sending import checks  # noqa: F401  (registers the system checks)
