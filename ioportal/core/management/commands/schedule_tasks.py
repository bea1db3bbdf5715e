from typing import Any

from django.core.management.base import BaseCommand
from django_q.models import Schedule
from django_q.tasks import async_task

SCHEDULES = [
    ("ioportal.core.tasks.heartbeat", "Segnale di vita dei worker", 1),
    ("ioportal.sending.tasks.sending_sweep", "Invii: ripresa del lavoro in sospeso", 1),
    ("ioportal.sending.tasks.sync_feeds", "Invii: feed delle iscrizioni a IO", 24 * 60),
    ("ioportal.recipients.tasks.purge_expired_lists", "Elenchi di destinatari scaduti", 60),
    ("ioportal.remotecontent.tasks.attachments_retention", "Allegati: conservazione", 24 * 60),
]


class Command(BaseCommand):
    help = "Registra (o aggiorna) le attività periodiche dei worker. Idempotente."

    def handle(self, *args: Any, **options: Any) -> None:
        for func, name, minutes in SCHEDULES:
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
        self.stdout.write(f"{len(SCHEDULES)} attività periodiche registrate.")
