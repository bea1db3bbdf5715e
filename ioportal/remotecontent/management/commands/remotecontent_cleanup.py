from typing import Any

from django.core.management.base import BaseCommand

from ioportal.remotecontent.services import attachments_cleanup


class Command(BaseCommand):
    help = (
        "Delete attachments older than REMOTE_CONTENT_RETENTION_DAYS and attachment files "
        "no row points to."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = attachments_cleanup()
        self.stdout.write(
            f"expired attachments deleted: {result['expired']}, orphan files: {result['orphans']}"
        )
