from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ioportal.core import crypto
from ioportal.ioservices.services import ioservice_keys_reencrypt


class Command(BaseCommand):
    help = (
        "Cifra di nuovo ogni chiave API memorizzata con la prima chiave di "
        "FIELD_ENCRYPTION_KEYS. Per cambiare la chiave di cifratura: aggiungi la nuova in testa "
        "all'elenco, riavvia i processi, esegui questo comando, poi togli la vecchia "
        "(docs/ioservices.md). Se una chiave non si decifra non cambia nulla."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Conta le chiavi da cifrare di nuovo senza modificare nulla.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count, problems = ioservice_keys_reencrypt(
            actor="manage.py rotate_encryption_keys", dry_run=options["dry_run"]
        )
        if problems:
            for problem in problems:
                self.stderr.write(f"  {problem}")
            raise CommandError(
                f"{len(problems)} chiavi non si possono decifrare con FIELD_ENCRYPTION_KEYS: "
                "nessuna modifica. Rimetti nell'elenco la chiave con cui erano cifrate."
            )
        verb = "da cifrare di nuovo" if options["dry_run"] else "cifrate di nuovo"
        self.stdout.write(
            self.style.SUCCESS(
                f"{count} chiavi {verb} con la chiave di cifratura {crypto.current_key_id()}."
            )
        )
