"""Seed a demo installation: one organization, one user per role, an installation admin,
and one IO service whose keys the IO simulator knows (written to var/fakeio.json).

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
from ioportal.ioservices.fakeio_config import write_fakeio_config
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ioservice_create
from ioportal.ioservices.validators import new_ulid

CREDENTIALS_FILE = Path(settings.BASE_DIR) / ".demo-credentials.json"
DEMO_ORG = {"name": "Comune di Esempio", "fiscal_code": "80001230582"}
DEMO_USERS = [
    ("operatore", "Olga", "Operatrice", Membership.Role.OPERATOR),
    ("supervisore", "Sergio", "Supervisore", Membership.Role.SUPERVISOR),
    ("amministratore", "Anna", "Amministratrice", Membership.Role.ADMIN),
    ("installazione", "Ines", "Installazione", None),
]
DEMO_SERVICE_NAME = "Servizio demo"
# IO's sandbox code plus two valid demo codes the simulator treats as reachable citizens.
DEMO_RECIPIENTS = ["AAAAAA00A00A000A", "RSSMRA80A01H501U", "VRDGPP75C15F205S"]
FAKEIO_CONFIG_FILE = Path(settings.BASE_DIR) / "var" / "fakeio.json"


def fakeio_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('FAKEIO_PORT', '8001')}/api/v1"


def _demo_service(organization: Organization) -> IOService:
    """The demo organization's IO service, created once with random keys."""
    service = IOService.objects.filter(organization=organization, name=DEMO_SERVICE_NAME).first()
    if service is not None:
        if service.api_base_url != fakeio_url():
            IOService.objects.filter(pk=service.pk).update(api_base_url=fakeio_url())
            service.api_base_url = fakeio_url()
        return service
    return ioservice_create(
        organization=organization,
        actor="manage.py seed_demo",
        service_id=new_ulid(),
        name=DEMO_SERVICE_NAME,
        department_name="Ufficio relazioni con il pubblico",
        premium_enabled=True,
        payments_enabled=True,
        max_allowed_payment_amount=1_000_000,
        test_mode=True,
        authorized_recipients=DEMO_RECIPIENTS,
        remote_content_configuration_id=new_ulid(),
        api_base_url=fakeio_url(),
        primary_key=secrets.token_hex(16),
        secondary_key=secrets.token_hex(16),
    )


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
            service = _demo_service(organization)
        _save_credentials(credentials)
        write_fakeio_config(FAKEIO_CONFIG_FILE, IOService.objects.filter(organization=organization))

        out = self.stdout
        out.write(self.style.SUCCESS(f"Ente dimostrativo: {organization.name}"))
        out.write(
            f"Servizio IO dimostrativo: {service.name} ({service.service_id}) sul simulatore "
            f"{service.api_base_url} (sua configurazione: var/{FAKEIO_CONFIG_FILE.name})"
        )
        out.write("Credenziali di accesso:")
        for username, _first, _last, role in DEMO_USERS:
            label = Membership.Role(role).label if role else "amministratore dell'installazione"
            out.write(f"  {username:<15} {credentials[username]:<20} {label}")
        out.write(
            "Amministratori e supervisori configurano un'app di autenticazione (TOTP) "
            "al primo accesso."
        )
