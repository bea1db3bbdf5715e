"""Seed a demo installation: one organization, one user per role, an installation admin.

Idempotent. Passwords are generated once and kept in a local file (ignored by git, readable
only by its owner) so every run can print them again.
"""

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from ioportal.accounts.models import Membership, Organization, User

CREDENTIALS_FILE = Path(settings.BASE_DIR) / ".demo-credentials.json"
DEMO_ORG = {"name": "Comune di Esempio", "fiscal_code": "80001230582"}
DEMO_USERS = [
    ("operatore", "Olga", "Operatrice", Membership.Role.OPERATOR),
    ("supervisore", "Sergio", "Supervisore", Membership.Role.SUPERVISOR),
    ("amministratore", "Anna", "Amministratrice", Membership.Role.ADMIN),
    ("installazione", "Ines", "Installazione", None),
]


def _load_credentials() -> dict[str, str]:
    try:
        data = json.loads(CREDENTIALS_FILE.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def _save_credentials(credentials: dict[str, str]) -> None:
    fd = os.open(CREDENTIALS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials, handle, indent=2)


class Command(BaseCommand):
    help = "Crea (o aggiorna) i dati dimostrativi e stampa le credenziali di accesso."

    def handle(self, *args: Any, **options: Any) -> None:
        credentials = _load_credentials()
        with transaction.atomic():
            organization, _ = Organization.objects.get_or_create(
                fiscal_code=DEMO_ORG["fiscal_code"], defaults={"name": DEMO_ORG["name"]}
            )
            for username, first, last, role in DEMO_USERS:
                user, created = User.objects.get_or_create(
                    username=username,
                    defaults={
                        "first_name": first,
                        "last_name": last,
                        "email": f"{username}@esempio.invalid",
                        "is_superuser": role is None,
                        "is_staff": role is None,
                    },
                )
                if created or username not in credentials or not user.has_usable_password():
                    credentials[username] = secrets.token_urlsafe(12)
                    user.set_password(credentials[username])
                    user.save()
                if role is not None:
                    Membership.objects.get_or_create(
                        user=user, organization=organization, defaults={"role": role}
                    )
        _save_credentials(credentials)

        out = self.stdout
        out.write(self.style.SUCCESS(f"Ente dimostrativo: {organization.name}"))
        out.write("Credenziali di accesso:")
        for username, _first, _last, role in DEMO_USERS:
            label = Membership.Role(role).label if role else "amministratore dell'installazione"
            out.write(f"  {username:<15} {credentials[username]:<20} {label}")
        out.write(
            "Amministratori e supervisori configurano un'app di autenticazione (TOTP) "
            "al primo accesso."
        )
