"""Builders for the compose flow: a service, a template, an uploaded and checked list."""

from collections.abc import Callable
from typing import Any

import pytest

from ioportal.accounts.models import Organization, User
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ioservice_create
from ioportal.messaging.lists import recipient_list_upload, recipient_list_validate
from ioportal.messaging.models import MessageTemplate
from ioportal.messaging.services import template_create
from ioportal.recipients.models import RecipientList

MARKDOWN = (
    "Gentile {{ nome }},\n\nla TARI 2026 è di **{{ importo }} euro**. Può pagarla con l'avviso "
    "pagoPA direttamente dall'app IO."
)
CSV = (
    b"Codice fiscale;Nome;Importo\n"
    b"RSSMRA85T10A562S;Anna;12,50\n"
    b"VRDGPP75C15F205S;Bruno {{ x }} <b>;30\n"
    b"RSSMRA85T10A562A;Carla;10\n"  # wrong check character
    b"BNCLCU90D45L219H;;5\n"  # name missing
)


def phone_body(response) -> str:
    """The message body in the page's phone preview."""
    page = response.content.decode()
    start = page.index('<div class="io-phone-body">') + len('<div class="io-phone-body">')
    return page[start : page.index("</div>", start)]


@pytest.fixture
def make_service(db: None) -> Callable[..., IOService]:
    counter = iter(range(1, 1000))

    def make(organization: Organization, **overrides: Any) -> IOService:
        number = next(counter)
        values: dict[str, Any] = {
            "service_id": f"01JD3M0SERV1CE00000000M{number:03d}",
            "name": f"Tributi {number}",
            "authorized_recipients": ["AAAAAA00A00A000A"],
            "primary_key": f"{number:02d}" + "3f1c0a9b7e4412d5a6b8c9d0e1f2a3"[:30],
        }
        values.update(overrides)
        return ioservice_create(organization=organization, actor="test", **values)

    return make


@pytest.fixture
def service(make_service: Callable[..., IOService], organization: Organization) -> IOService:
    return make_service(organization)


@pytest.fixture
def make_template(db: None) -> Callable[..., MessageTemplate]:
    def make(organization: Organization, author: User, **overrides: Any) -> MessageTemplate:
        values: dict[str, Any] = {
            "name": "TARI 2026",
            "subject": "Avviso TARI 2026",
            "markdown": MARKDOWN,
            "placeholders": [
                {"name": "nome", "type": "text", "required": True, "pattern": ""},
                {"name": "importo", "type": "euro", "required": True, "pattern": ""},
            ],
        }
        values.update(overrides)
        return template_create(organization=organization, actor=author, **values)

    return make


@pytest.fixture
def make_list(db: None) -> Callable[..., RecipientList]:
    def make(
        template: MessageTemplate, service: IOService, author: User, data: bytes = CSV
    ) -> RecipientList:
        recipient_list = recipient_list_upload(
            organization=template.organization,
            actor=author,
            template=template,
            service=service,
            file_name="tari.csv",
            data=data,
        )
        return recipient_list_validate(
            recipient_list=recipient_list,
            mapping={"fiscal_code": "Codice fiscale", "nome": "Nome", "importo": "Importo"},
        )

    return make


@pytest.fixture
def woken(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pipeline's wake-up calls, instead of the real pipeline."""
    calls: list[int] = []
    monkeypatch.setattr(
        "ioportal.messaging.services.pipeline.wake_pipeline",
        lambda *, organization_id: calls.append(organization_id),
    )
    return calls
