"""Seed a demo installation: one organization, one user per role, an installation admin,
two IO services whose keys the IO simulator knows (written to var/fakeio.json), a
remote-content configuration the simulator calls when a citizen opens a Premium message,
three ready templates and a short history of finished dispatches.

Idempotent: what exists (matched by name, or by a fixed id for the history) is left as it
is. Passwords and the remote-content key are generated once and kept in a local file
(ignored by git, readable only by its owner) so every run can print them again.
"""

import json
import os
import secrets
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core.fiscalcode import protect_fiscal_code
from ioportal.fakeio.citizens import check_character
from ioportal.ioservices.fakeio_config import write_fakeio_config
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ioservice_create
from ioportal.ioservices.validators import new_ulid
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel, MessageTemplate
from ioportal.messaging.services import template_create
from ioportal.recipients.notices import expected_check_digits
from ioportal.remotecontent.models import RemoteContentAccess, RemoteContentConfiguration
from ioportal.remotecontent.services import (
    attachment_create,
    key_matches,
    rc_configuration_create,
    rc_configuration_regenerate_key,
)
from ioportal.sending import outcomes
from ioportal.sending.models import ApiCall

ACTOR = "manage.py seed_demo"
CREDENTIALS_FILE = Path(settings.BASE_DIR) / ".demo-credentials.json"
DEMO_ORG = {"name": "Comune di Esempio", "fiscal_code": "80001230582"}
DEMO_USERS = [
    ("operatore", "Olga", "Operatrice", Membership.Role.OPERATOR),
    ("supervisore", "Sergio", "Supervisore", Membership.Role.SUPERVISOR),
    ("amministratore", "Anna", "Amministratrice", Membership.Role.ADMIN),
    ("installazione", "Ines", "Installazione", None),
]
DEMO_SERVICE_NAME = "Servizio demo"
PRODUCTION_SERVICE_NAME = "Tributi"
# IO's sandbox code plus two valid demo codes the simulator treats as reachable citizens.
DEMO_RECIPIENTS = ["AAAAAA00A00A000A", "RSSMRA80A01H501U", "VRDGPP75C15F205S"]
FAKEIO_CONFIG_FILE = Path(settings.BASE_DIR) / "var" / "fakeio.json"
RC_NAME = "Contenuti remoti demo"
RC_HEADER = "X-Ioportal-Key"
# Where the remote-content key lives in the credentials file (users' names never start so).
RC_KEY_ENTRY = "_remote_content_key"
# The sample PDF of docs/examples, attached to the Premium dispatch of the history.
SAMPLE_PDF = Path(settings.BASE_DIR) / "docs" / "examples" / "accertamento-imu.pdf"
HISTORY_NAMESPACE = uuid.UUID("6f1b8a52-3c1e-4f7a-9d55-0b7c2d9e4a10")

TARI_MARKDOWN = (
    "Gentile {{ nome }},\n\n"
    "è disponibile l'avviso di pagamento della **TARI 2026** (tassa sui rifiuti). "
    "Può pagarlo direttamente dall'app IO con pagoPA, usando il pulsante qui sotto, "
    "oppure presso gli sportelli abilitati.\n\n"
    "Per informazioni: Ufficio Tributi, dal lunedì al venerdì dalle 9 alle 12."
)
ID_CARD_MARKDOWN = (
    "---\n"
    "it:\n"
    "  cta_1:\n"
    '    text: "Prenota l\'appuntamento"\n'
    '    action: "iohandledlink://https://www.comune.esempio.it/anagrafe/prenota"\n'
    "en:\n"
    "  cta_1:\n"
    '    text: "Book an appointment"\n'
    '    action: "iohandledlink://https://www.comune.esempio.it/anagrafe/prenota"\n'
    "---\n"
    "Gentile {{ nome }},\n\n"
    "la sua carta d'identità scade il **{{ scadenza_documento }}**. "
    "Per rinnovarla prenoti un appuntamento all'Ufficio Anagrafe: porti la carta "
    "attuale, una fototessera recente e la ricevuta del pagamento."
)
PREMIUM_MARKDOWN = (
    "Gentile {{ nome }},\n\n"
    "le inviamo l'avviso di accertamento **IMU 2024** per l'immobile di sua proprietà. "
    "Trova il documento completo in allegato a questo messaggio: lo apra dall'app IO "
    "e lo conservi.\n\n"
    "Per chiarimenti può scrivere all'Ufficio Tributi entro 60 giorni."
)
DEMO_TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "TARI 2026 – avviso di pagamento",
        "subject": "TARI 2026: il suo avviso di pagamento",
        "markdown": TARI_MARKDOWN,
        "placeholders": [{"name": "nome", "type": "text", "required": True, "pattern": ""}],
        "has_payment": True,
    },
    {
        "name": "Carta d'identità in scadenza",
        "subject": "La sua carta d'identità sta per scadere",
        "markdown": ID_CARD_MARKDOWN,
        "placeholders": [
            {"name": "nome", "type": "text", "required": True, "pattern": ""},
            {"name": "scadenza_documento", "type": "date", "required": True, "pattern": ""},
        ],
    },
    {
        "name": "Accertamento IMU (Premium, con PDF)",
        "subject": "Avviso di accertamento IMU 2024",
        "markdown": PREMIUM_MARKDOWN,
        "placeholders": [{"name": "nome", "type": "text", "required": True, "pattern": ""}],
        "feature_level": FeatureLevel.ADVANCED,
    },
]


def _reachable_host(host: str) -> str:
    # A wildcard listen address is not an address to call: the simulator calls loopback.
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host  # noqa: S104


def default_portal_url() -> str:
    """Where `make run` serves the portal (HOST, PORT), as the simulator must call it."""
    host = _reachable_host(os.environ.get("HOST", "127.0.0.1"))
    return f"http://{host}:{os.environ.get('PORT', '8000')}"


def default_fakeio_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('FAKEIO_PORT', '8001')}"


def _service(organization: Organization, name: str, api_base_url: str, **fields: Any) -> IOService:
    """A demo IO service, created once with random keys; its address follows the simulator."""
    service = IOService.objects.filter(organization=organization, name=name).first()
    if service is not None:
        if service.api_base_url != api_base_url:
            IOService.objects.filter(pk=service.pk).update(api_base_url=api_base_url)
            service.api_base_url = api_base_url
        return service
    return ioservice_create(
        organization=organization,
        actor=ACTOR,
        service_id=new_ulid(),
        name=name,
        premium_enabled=True,
        payments_enabled=True,
        max_allowed_payment_amount=1_000_000,
        api_base_url=api_base_url,
        primary_key=secrets.token_hex(16),
        secondary_key=secrets.token_hex(16),
        **fields,
    )


def _demo_configuration_id(organization: Organization) -> str:
    """The configuration id the production demo service already uses (a seed run again), else
    a new one."""
    production = IOService.objects.filter(
        organization=organization, name=PRODUCTION_SERVICE_NAME
    ).first()
    return (production.remote_content_configuration_id if production else "") or new_ulid()


def _remote_content(
    organization: Organization, configuration_id: str, credentials: dict[str, str]
) -> RemoteContentConfiguration:
    """The configuration IO (the simulator) calls; its key is kept in the credentials file,
    and regenerated when that file lost it (only the digest is in the database)."""
    configuration = RemoteContentConfiguration.objects.filter(
        configuration_id=configuration_id
    ).first()
    if configuration is None:
        configuration, key = rc_configuration_create(
            organization=organization,
            configuration_id=configuration_id,
            name=RC_NAME,
            header_name=RC_HEADER,
            actor=ACTOR,
        )
        credentials[RC_KEY_ENTRY] = key
    elif not key_matches(configuration, credentials.get(RC_KEY_ENTRY)):
        credentials[RC_KEY_ENTRY] = rc_configuration_regenerate_key(
            configuration=configuration, actor=ACTOR
        )
    return configuration


def _templates(organization: Organization, actor: User, service: IOService) -> None:
    for spec in DEMO_TEMPLATES:
        exists = MessageTemplate.objects.filter(
            organization=organization, name=spec["name"], is_current=True
        ).exists()
        if not exists:
            template_create(organization=organization, actor=actor, default_service=service, **spec)


def demo_fiscal_code(surname: str, name: str, birth: str) -> str:
    """A valid fiscal code (check character included) from its first 15 characters' parts."""
    first15 = f"{surname}{name}{birth}"
    return first15 + check_character(first15)


# The history: (title, template index, days ago, [(citizen, outcome)]). Outcomes follow the
# simulator's rule for the same citizens (docs/fakeio.md), as a real run would have ended.
_PEOPLE = [
    ("Mario", "RSS", "MRA", "80A01H501"),
    ("Giuseppe", "VRD", "GPP", "75C15F205"),
    ("Lucia", "BNC", "LCU", "90D45L219"),
    ("Luigi", "FRR", "GLI", "68E12F839"),
    ("Francesca", "CLM", "FNC", "82H55A662"),
    ("Stefano", "RCC", "SFN", "77M08D969"),
    ("Laura", "MRN", "LRA", "95R41H501"),
    ("Paola", "GLL", "PLA", "61T22F205"),
    ("Marco", "XXX", "MRA", "80A01H501"),
    ("Maria", "YYY", "MRA", "80A01H501"),
    ("Nadia", "RSS", "NNN", "80A01H501"),
    ("Ugo", "RSS", "UUU", "80A01H501"),
]


def _outcome(code: str, premium: bool, index: int) -> dict[str, Any]:
    if code.startswith("XXX"):
        return {"state": Delivery.State.SKIPPED, "skip_reason": outcomes.NOT_ON_IO}
    if code.startswith("YYY"):
        return {"state": Delivery.State.SKIPPED, "skip_reason": outcomes.BLOCKED}
    values: dict[str, Any] = {
        "state": Delivery.State.PROCESSED,
        "io_status": "PROCESSED",
        "io_message_id": new_ulid(),
    }
    if premium:
        reading = code[3:6]
        values["read_status"] = (
            "UNAVAILABLE"
            if reading == "UUU"
            else "UNREAD"
            if reading == "NNN" or index % 3 == 2
            else "READ"
        )
    return values


# (title, template, days ago, Premium): each title names what its template sends (the TARI
# of the template's year, the month the identity cards expire in).
HISTORY = [
    ("TARI 2026 – saldo", 0, 40, False),
    ("Carta d'identità in scadenza – novembre", 1, 21, False),
    ("Accertamento IMU – primo invio", 2, 6, True),
]
# The titles earlier seeds gave: a dispatch keeps the launch token made from its first title,
# so a demo database seeded before gets the new title instead of a second dispatch.
FIRST_TITLES = {
    "TARI 2026 – saldo": "TARI 2025 – saldo",
    "Carta d'identità in scadenza – novembre": "Carta d'identità in scadenza – ottobre",
}


def _premium_accesses(
    dispatch: Dispatch, configuration: RemoteContentConfiguration, when: datetime
) -> None:
    """The PDF of a Premium dispatch, and IO's calls for it: every citizen who read the
    message opened it and downloaded the file (the log rows the portal writes for IO)."""
    attachment = attachment_create(
        data=SAMPLE_PDF.read_bytes(), original_name=SAMPLE_PDF.name, dispatch=dispatch
    )
    rows = []
    for delivery in dispatch.deliveries.filter(read_status="READ"):
        for operation, file in (
            (RemoteContentAccess.Operation.DETAILS, None),
            (RemoteContentAccess.Operation.ATTACHMENT, attachment),
        ):
            rows.append(
                RemoteContentAccess(
                    configuration=configuration,
                    delivery=delivery,
                    attachment=file,
                    operation=operation,
                    outcome=RemoteContentAccess.Outcome.OK,
                    http_status=200,
                    message_ref=str(delivery.public_id)[:64],
                )
            )
    RemoteContentAccess.objects.bulk_create(rows)
    RemoteContentAccess.objects.filter(delivery__dispatch=dispatch).update(created_at=when)


def _api_calls(dispatch: Dispatch, service: IOService) -> None:
    """IO's calls for a seeded dispatch, as the pipeline logs them: the profile check of
    each citizen (404 for one not on IO), the submission of each message IO accepted and
    the status read that found it delivered, at the moments the deliveries say."""
    rows: list[tuple[Delivery, str, int, str, datetime]] = []
    for delivery in dispatch.deliveries.all():
        assert delivery.first_attempt_at is not None
        not_on_io = delivery.skip_reason == outcomes.NOT_ON_IO
        rows.append(
            (
                delivery,
                "get_profile",
                404 if not_on_io else 200,
                "NotFoundError" if not_on_io else "ok",
                delivery.first_attempt_at,
            )
        )
        if delivery.submitted_at and delivery.finished_at:
            rows.append((delivery, "submit_message", 201, "ok", delivery.submitted_at))
            rows.append((delivery, "get_message", 200, "ok", delivery.finished_at))
    created = ApiCall.objects.bulk_create(
        ApiCall(
            organization_id=dispatch.organization_id,
            service=service,
            delivery=delivery,
            operation=operation,
            status_code=status,
            duration_ms=180,
            outcome=outcome,
        )
        for delivery, operation, status, outcome, _when in rows
    )
    # created_at is set on insert: each call gets its moment afterwards.
    for call, (*_rest, when) in zip(created, rows, strict=True):
        ApiCall.objects.filter(pk=call.pk).update(created_at=when)


def _history(
    organization: Organization,
    actor: User,
    service: IOService,
    configuration: RemoteContentConfiguration,
) -> int:
    """Finished dispatches with realistic outcomes, created once (fixed launch tokens)."""
    created = 0
    templates = [
        MessageTemplate.objects.get(organization=organization, name=spec["name"], is_current=True)
        for spec in DEMO_TEMPLATES
    ]
    for title, template_index, days_ago, premium in HISTORY:
        first_title = FIRST_TITLES.get(title, title)
        token = uuid.uuid5(HISTORY_NAMESPACE, f"{organization.fiscal_code}/{first_title}")
        seeded = Dispatch.objects.filter(launch_token=token)
        if seeded.exists():
            seeded.exclude(title=title).update(title=title)
            continue
        template = templates[template_index]
        started = timezone.now() - timedelta(days=days_ago)
        dispatch = Dispatch.objects.create(
            organization=organization,
            service=service,
            template=template,
            kind=Dispatch.Kind.LIST,
            title=title,
            subject=template.subject,
            markdown=template.markdown,
            placeholders=template.placeholders,
            feature_level=template.feature_level,
            state=Dispatch.State.COMPLETED,
            source_name="elenco-demo.csv",
            launch_token=token,
            created_by=actor,
            started_at=started,
            finished_at=started + timedelta(minutes=4),
        )
        deliveries = []
        for row, (first_name, surname, name, birth) in enumerate(_PEOPLE, start=1):
            code = demo_fiscal_code(surname, name, birth)
            outcome = _outcome(code, premium, row)
            if outcome["state"] == Delivery.State.PROCESSED:
                outcome["submitted_at"] = started + timedelta(seconds=row)
                if outcome.get("read_status") == "READ":
                    # The status read after the citizen opened it (_premium_accesses).
                    outcome["read_at"] = started + timedelta(hours=2, minutes=5)
            variables: dict[str, Any] = {"nome": first_name}
            payment: dict[str, Any] = {}
            if template_index == 1:
                variables["scadenza_documento"] = "30/11/2026"
            if template.has_payment:
                # Euro cents and an 18-digit pagoPA notice number with its check digits.
                first16 = f"30200010{row:08d}"
                payment = {
                    "payment_amount": 9_850 + 1_275 * row,
                    "notice_number": first16 + (expected_check_digits(first16 + "00") or ""),
                }
            deliveries.append(
                Delivery(
                    dispatch=dispatch,
                    row_number=row + 1,
                    variables=variables,
                    # Accepted at the first attempt: no failed attempt counted.
                    attempts=0,
                    first_attempt_at=started + timedelta(seconds=row - 1),
                    finished_at=started + timedelta(minutes=1),
                    **payment,
                    **outcome,
                    **protect_fiscal_code(code),
                )
            )
        Delivery.objects.bulk_create(deliveries)
        _api_calls(dispatch, service)
        if premium:
            _premium_accesses(dispatch, configuration, started + timedelta(hours=2))
        Dispatch.objects.filter(pk=dispatch.pk).update(created_at=started)
        Delivery.objects.filter(dispatch=dispatch).update(created_at=started)
        created += 1
    return created


def _load_credentials(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def _save_credentials(path: Path, credentials: dict[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials, handle, indent=2)


def _shown_path(path: Path) -> str:
    """`path` as the reader finds it from the repository root (var/fakeio.json), else whole."""
    try:
        return str(path.resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


class Command(BaseCommand):
    help = "Crea (o aggiorna) i dati dimostrativi e stampa le credenziali di accesso."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--portal-url",
            default=None,
            help="indirizzo del portale che il simulatore chiama (predefinito: HOST e PORT)",
        )
        parser.add_argument(
            "--fakeio-url",
            default=None,
            help="indirizzo del simulatore IO (predefinito: porta FAKEIO_PORT)",
        )
        parser.add_argument("--credentials-file", default=str(CREDENTIALS_FILE))
        parser.add_argument("--fakeio-config", default=str(FAKEIO_CONFIG_FILE))

    def handle(self, *args: Any, **options: Any) -> None:
        portal_url = (options["portal_url"] or default_portal_url()).rstrip("/")
        fakeio_url = (options["fakeio_url"] or default_fakeio_url()).rstrip("/")
        credentials_file = Path(options["credentials_file"])
        fakeio_config = Path(options["fakeio_config"])
        api_base_url = f"{fakeio_url}/api/v1"
        credentials = _load_credentials(credentials_file)
        with transaction.atomic():
            organization, _ = Organization.objects.get_or_create(
                fiscal_code=DEMO_ORG["fiscal_code"], defaults={"name": DEMO_ORG["name"]}
            )
            users: dict[str, User] = {}
            for username, first, last, role in DEMO_USERS:
                user, created = User.objects.get_or_create(
                    username__iexact=username,
                    defaults={
                        "username": username,
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
                users[username] = user
            # The configuration first: a service names only one its organization registered.
            configuration = _remote_content(
                organization, _demo_configuration_id(organization), credentials
            )
            test_service = _service(
                organization,
                DEMO_SERVICE_NAME,
                api_base_url,
                department_name="Ufficio relazioni con il pubblico",
                test_mode=True,
                authorized_recipients=DEMO_RECIPIENTS,
                remote_content_configuration_id=configuration.configuration_id,
            )
            production = _service(
                organization,
                PRODUCTION_SERVICE_NAME,
                api_base_url,
                department_name="Ufficio Tributi",
                test_mode=False,
                remote_content_configuration_id=configuration.configuration_id,
            )
            _templates(organization, users["amministratore"], production)
            # The operator's own sends: an operator sees only those, supervisors every one.
            history = _history(organization, users["operatore"], production, configuration)
        _save_credentials(credentials_file, credentials)
        rc_endpoint = {
            "base_url": f"{portal_url}/io/remote-content/{configuration.configuration_id}",
            "header_key_name": configuration.header_name,
            "key": credentials[RC_KEY_ENTRY],
        }
        write_fakeio_config(
            fakeio_config,
            IOService.objects.filter(organization=organization).order_by("pk"),
            {configuration.configuration_id: rc_endpoint},
        )

        out = self.stdout
        out.write(self.style.SUCCESS(f"Ente dimostrativo: {organization.name}"))
        for service in (test_service, production):
            mode = (
                "in prova: solo i destinatari autorizzati" if service.test_mode else "in produzione"
            )
            out.write(f"Servizio IO: {service.name} ({service.service_id}), {mode}")
        out.write(
            f"Simulatore IO: {fakeio_url}/__fakeio__/ "
            f"(configurazione: {_shown_path(fakeio_config)}); "
            f"apre i messaggi Premium dal portale ({portal_url}, configurazione "
            f"«{configuration.name}»)"
        )
        out.write(
            f"Modelli: {len(DEMO_TEMPLATES)}; invii passati creati ora: {history}; "
            "elenchi di esempio in docs/examples/"
        )
        out.write("Credenziali di accesso:")
        for username, _first, _last, role in DEMO_USERS:
            label = Membership.Role(role).label if role else "amministratore dell'installazione"
            out.write(f"  {username:<15} {credentials[username]:<20} {label}")
        out.write(
            "Amministratori, supervisori e l'amministratore dell'installazione configurano "
            "un'app di autenticazione (TOTP) al primo accesso."
        )
