from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django_q.models import Schedule
from django_q.tasks import async_task


def app_schedules() -> list[tuple[str, str, int]]:
    """Every app's periodic tasks, as (dotted task, name, every N minutes): each app lists its
    own on its AppConfig (`schedules`), in the order of INSTALLED_APPS."""
    return [
        schedule
        for config in apps.get_app_configs()
        for schedule in getattr(config, "schedules", ())
    ]


class Command(BaseCommand):
    help = "Registra (o aggiorna) le attività periodiche dei worker. Idempotente."

    def handle(self, *args: Any, **options: Any) -> None:
        schedules = app_schedules()
        for func, name, minutes in schedules:
            Schedule.objects.update_or_create(
                name=name,
                defaults={
                    "func": func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": minutes,
                    "repeats": -1,
                },
            )
        # The first heartbeat as soon as a worker runs rather than at the scheduler's next
        # pass (up to half a minute later): a fresh start must not show "no worker".
        async_task("ioportal.core.tasks.heartbeat")
        self.stdout.write(f"{len(schedules)} attività periodiche registrate.")
