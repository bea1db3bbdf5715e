"""Builders of test data: one function per object, valid by default, any field overridable.

Each builder saves through the portal's own services where one exists (keys encrypted,
fiscal codes protected, audit written), so the data looks like what users create. They need
database access (a `db` fixture or a fixture that depends on it, such as `organization`).
Numbered values (service ids, keys, user names) restart at 1 in every test
(`reset_numbering`, called by an autouse fixture in tests/conftest.py).
"""

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core.fiscalcode import protect_fiscal_code
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ioservice_create
from ioportal.messaging.lists import (
    recipient_list_read,
    recipient_list_upload,
    recipient_list_validate,
)
from ioportal.messaging.models import Delivery, Dispatch, MessageTemplate
from ioportal.messaging.services import template_create
from ioportal.reachability.models import ReachabilityCheck, ReachabilityRow
from ioportal.recipients.models import RecipientList
from ioportal.remotecontent import services as remotecontent_services
from ioportal.remotecontent.models import RemoteContentConfiguration

PASSWORD = "Una-password-lunga-2026"
ORGANIZATION_FISCAL_CODE = "80001230582"
# The first service of a test gets these keys, the next ones numbered variants.
PRIMARY_KEY = "3f1c0a9b7e4412d5a6b8c9d0e1f2a3b4"
SECONDARY_KEY = "9b7e44d5a6b8c9d0e1f2a3b43f1c0a12"
SANDBOX_FISCAL_CODE = "AAAAAA00A00A000A"
CITIZEN = "RSSMRA80A01H501U"

TEMPLATE_MARKDOWN = (
    "Gentile {{ nome }},\n\nla TARI 2026 è di **{{ importo }} euro**. Può pagarla con l'avviso "
    "pagoPA direttamente dall'app IO."
)
TEMPLATE_PLACEHOLDERS: list[dict[str, Any]] = [
    {"name": "nome", "type": "text", "required": True, "pattern": ""},
    {"name": "importo", "type": "euro", "required": True, "pattern": ""},
]
# Rows: two valid, one with a wrong check character, one without a name.
RECIPIENTS_CSV = (
    b"Codice fiscale;Nome;Importo\n"
    b"RSSMRA85T10A562S;Anna;12,50\n"
    b"VRDGPP75C15F205S;Bruno {{ x }} <b>;30\n"
    b"RSSMRA85T10A562A;Carla;10\n"
    b"BNCLCU90D45L219H;;5\n"
)
RECIPIENTS_MAPPING = {"fiscal_code": "Codice fiscale", "nome": "Nome", "importo": "Importo"}

DISPATCH_SUBJECT = "Avviso di pagamento TARI 2026"
DISPATCH_MARKDOWN = (
    "Gentile {{ nome }}, ti ricordiamo che è disponibile l'avviso di pagamento della tassa "
    "sui rifiuti per l'anno 2026. Puoi pagarlo dall'app IO entro la scadenza indicata."
)

_numbers = itertools.count(1)
_user_numbers = itertools.count(1)


def reset_numbering() -> None:
    """Start numbered values at 1 again (done before every test)."""
    global _numbers, _user_numbers
    _numbers = itertools.count(1)
    _user_numbers = itertools.count(1)


def organization(
    name: str = "Comune di Prova", fiscal_code: str = ORGANIZATION_FISCAL_CODE, **fields: Any
) -> Organization:
    return Organization.objects.create(name=name, fiscal_code=fiscal_code, **fields)


def user(
    role: str | None = None,
    organization: Organization | None = None,
    *,
    username: str | None = None,
    superuser: bool = False,
    password: str = PASSWORD,
) -> User:
    """A user with PASSWORD, member of `organization` with `role` when both are given."""
    name = username or f"utente{next(_user_numbers)}"
    created = User.objects.create_user(
        username=name,
        email=f"{name}@esempio.invalid",
        password=password,
        is_superuser=superuser,
        is_staff=superuser,
    )
    if role and organization:
        Membership.objects.create(user=created, organization=organization, role=role)
    return created


def service(
    organization: Organization,
    *,
    primary_key: str | None = None,
    secondary_key: str | None = None,
    **fields: Any,
) -> IOService:
    """An IO service in test mode (a sandbox recipient authorized) with both keys; `fields`
    are IOService fields (ioservices.services.SERVICE_FIELDS). Raises ValidationError as
    ioservice_create does."""
    number = next(_numbers)
    values: dict[str, Any] = {
        "service_id": f"01JD3M0SERV1CE000000000{number:03d}",
        "name": f"Tributi {number}",
        "test_mode": True,
        "authorized_recipients": [SANDBOX_FISCAL_CODE],
        **fields,
    }
    if primary_key is None:
        primary_key = PRIMARY_KEY if number == 1 else f"{number:02d}" + PRIMARY_KEY[2:]
    if secondary_key is None:
        secondary_key = SECONDARY_KEY if number == 1 else f"{number:02d}" + SECONDARY_KEY[2:]
    return ioservice_create(
        organization=organization,
        actor="test",
        primary_key=primary_key,
        secondary_key=secondary_key,
        **values,
    )


def template(organization: Organization, author: User, **fields: Any) -> MessageTemplate:
    """A template with the placeholders `nome` (text) and `importo` (euro)."""
    values: dict[str, Any] = {
        "name": "TARI 2026",
        "subject": "Avviso TARI 2026",
        "markdown": TEMPLATE_MARKDOWN,
        "placeholders": TEMPLATE_PLACEHOLDERS,
        **fields,
    }
    return template_create(organization=organization, actor=author, **values)


def recipient_list(
    template: MessageTemplate,
    service: IOService,
    author: User,
    data: bytes = RECIPIENTS_CSV,
    *,
    mapping: dict[str, str] | None = None,
    file_name: str = "tari.csv",
) -> RecipientList:
    """A list uploaded and checked against `template` (RECIPIENTS_CSV by default)."""
    uploaded = recipient_list_upload(
        organization=template.organization,
        actor=author,
        template=template,
        service=service,
        file_name=file_name,
        table=recipient_list_read(file_name=file_name, data=data),
    )
    return recipient_list_validate(recipient_list=uploaded, mapping=mapping or RECIPIENTS_MAPPING)


def dispatch(
    service: IOService,
    author: User,
    fiscal_codes: Iterable[str] = (),
    *,
    state: str = Dispatch.State.RUNNING,
    variables: Callable[[int], dict[str, Any]] = lambda number: {"nome": f"Cittadino {number}"},
    **fields: Any,
) -> Dispatch:
    """A dispatch of `service` (running unless `state` says otherwise) with one pending
    delivery per fiscal code, numbered from 1, with `variables(row_number)`."""
    values: dict[str, Any] = {
        "title": "TARI 2026",
        "subject": DISPATCH_SUBJECT,
        "markdown": DISPATCH_MARKDOWN,
        "placeholders": [{"name": "nome", "type": "text", "required": True}],
        **fields,
    }
    created = Dispatch.objects.create(
        organization=service.organization,
        service=service,
        state=state,
        created_by=author,
        **values,
    )
    Delivery.objects.bulk_create(
        Delivery(
            dispatch=created,
            row_number=number,
            variables=variables(number),
            **protect_fiscal_code(code),
        )
        for number, code in enumerate(fiscal_codes, start=1)
    )
    return created


def delivery(dispatch: Dispatch, fiscal_code: str = CITIZEN, **fields: Any) -> Delivery:
    """One more delivery of `dispatch`."""
    return Delivery.objects.create(dispatch=dispatch, **protect_fiscal_code(fiscal_code), **fields)


def rc_configuration(
    organization: Organization,
    actor: User,
    *,
    configuration_id: str = "01JA1PHA0C0NF1G00000000001",
    name: str = "Tributi",
    header_name: str = "X-Ioportal-Key",
) -> tuple[RemoteContentConfiguration, str]:
    """A remote-content configuration and its key in clear."""
    return remotecontent_services.rc_configuration_create(
        organization=organization,
        configuration_id=configuration_id,
        name=name,
        header_name=header_name,
        actor=actor,
    )


def reachability_check(
    service: IOService, author: User, fiscal_codes: Iterable[str] = (), **fields: Any
) -> ReachabilityCheck:
    """A queued reachability check of `service` with one pending row per fiscal code, its
    lines numbered from 2 (the file's first data row)."""
    codes = list(fiscal_codes)
    check = ReachabilityCheck.objects.create(
        organization=service.organization,
        service=service,
        created_by=author,
        total=len(codes),
        **fields,
    )
    ReachabilityRow.objects.bulk_create(
        ReachabilityRow(check_run=check, line=line, **protect_fiscal_code(code))
        for line, code in enumerate(codes, start=2)
    )
    return check
