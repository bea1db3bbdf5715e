from typing import Any

from django.core.management.base import BaseCommand

from ioportal.retention.services import retention_purge


class Command(BaseCommand):
    help = (
        "Delete the personal data of dispatches finished more than their organization's "
        "retention_days ago (what the hourly schedule does)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = retention_purge()
        self.stdout.write(
            f"dispatches purged: {result.dispatches}, deliveries: {result.deliveries}"
        )
