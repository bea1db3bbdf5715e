from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ioportal.accounts.models import User
from ioportal.accounts.services import otp_reset


class Command(BaseCommand):
    help = (
        "Azzera la verifica in due passaggi di un utente (per esempio l'ultimo amministratore "
        "di un ente che ha perso telefono e codici di recupero): cancella app e codici, chiude "
        "le sessioni, registra l'evento e avvisa la persona per e-mail."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="Nome utente della persona.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:  # as sign-in finds it, whatever the case
            user = User.objects.get_by_natural_key(options["username"])
        except User.DoesNotExist:
            raise CommandError(f"Nessun utente con nome utente «{options['username']}».") from None
        count = otp_reset(user=user, actor=None)
        self.stdout.write(
            self.style.SUCCESS(
                f"Verifica in due passaggi di {user.username} azzerata ({count} dispositivi)."
            )
        )
