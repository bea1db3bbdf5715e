from typing import Any

from django.core.management.base import BaseCommand

from ioportal.recipients.services import recipient_lists_purge_expired


class Command(BaseCommand):
    help = "Cancella gli elenchi di destinatari scaduti (contengono dati personali)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = recipient_lists_purge_expired()
        self.stdout.write(f"{count} elenchi scaduti cancellati.")
