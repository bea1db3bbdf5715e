from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ioportal.core"
    verbose_name = "Core"
    # django-q2 schedules of this app: (task, name shown in the admin, every N minutes),
    # registered by `manage.py schedule_tasks` with those of every other app.
    schedules = (("ioportal.core.tasks.heartbeat", "Segnale di vita dei worker", 1),)

    def ready(self) -> None:
        from ioportal.core import checks  # noqa: F401  (registers the deployment checks)
