from django.apps import AppConfig

from ioportal.sending.audit import Action


class SendingConfig(AppConfig):
    name = "ioportal.sending"
    verbose_name = "Sending"
    audit_actions = Action
    schedules = (
        ("ioportal.sending.tasks.sending_sweep", "Invii: ripresa del lavoro in sospeso", 1),
        ("ioportal.sending.tasks.sync_feeds", "Invii: feed delle iscrizioni a IO", 24 * 60),
    )

    def ready(self) -> None:
        from ioportal.sending import checks  # noqa: F401  (registers the system checks)
