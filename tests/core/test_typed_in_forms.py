"""Amounts, numbers and identifiers typed in any form of the portal are read as the list import
reads them (`ioportal.core.reading`): "1.500" is 1.500,00 euro, "1.500,5" is 1.500,50, "1,000.00"
is refused with the reason; "3020 0010 0000 0110 23" is a notice number, spaces and invisible
characters removed, and the value shown back is the one read. A form reports every field's
error at once."""

import re

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from ioportal.core.forms import EuroAmountField, IdentifierField, WholeNumberField
from ioportal.core.reading import read_euro_cents
from ioportal.ioservices.forms import IOServiceForm
from ioportal.ioservices.models import IOService
from ioportal.messaging.forms import SingleMessageForm
from ioportal.messaging.models import Dispatch
from ioportal.recipients.notices import normalize_notice_number
from tests import builders
from tests.conftest import send_single
from tests.portal_forms import portal_forms


def _fields(kind: type[forms.Field]) -> dict[str, forms.Field]:
    return {
        f"{form.__name__}.{name}": field
        for form in portal_forms()
        for name, field in form.base_fields.items()
        if isinstance(field, kind)
    }


def _label(field: forms.Field) -> str:
    return str(field.label or "").lower()


# --- Amounts -------------------------------------------------------------------------------

AMOUNTS = [
    ("1.000", 100_000),
    ("1.500", 150_000),
    ("1.000,00", 100_000),
    ("1.234,56", 123_456),
    ("1.500,5", 150_050),
    ("1.234.567", 123_456_700),
    ("1500", 150_000),
    ("€ 12,50", 1_250),
    ("1 500,00", 150_000),
]


def test_every_amount_field_is_read_by_the_import_reader() -> None:
    amounts = _fields(EuroAmountField)
    assert {"IOServiceForm.max_payment_eur", "SingleMessageForm.amount"} <= set(amounts)
    # A field whose label speaks of an amount or of euro is one of them, whatever its class.
    spoken = {
        f"{form.__name__}.{name}"
        for form in portal_forms()
        for name, field in form.base_fields.items()
        if re.search(r"\b(importo|euro)\b", _label(field))
    }
    assert spoken <= set(amounts)
    assert not _fields(forms.DecimalField) and not _fields(forms.FloatField)


@pytest.mark.parametrize(("typed", "cents"), AMOUNTS)
def test_amounts_typed_the_italian_way(typed: str, cents: int) -> None:
    with translation.override("it"):
        assert read_euro_cents(typed) == cents  # what the list import reads
        for name, field in _fields(EuroAmountField).items():
            assert field.clean(typed) == cents, name


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("1,000.00", "scritto nel formato inglese (1,234.56), ma è atteso il formato italiano"),
        ("1,500", "più di due decimali"),
        ("12,345", "più di due decimali"),
        ("dieci", "Non è un importo in euro nel formato italiano (esempio: 1.234,56)."),
        ("10%", "percentuale"),
    ],
)
def test_an_amount_not_written_the_italian_way_is_refused_with_the_reason(
    typed: str, reason: str
) -> None:
    with translation.override("it"):
        for name, field in _fields(EuroAmountField).items():
            with pytest.raises(ValidationError) as refused:
                field.clean(typed)
            assert reason in " ".join(refused.value.messages), name


def test_an_english_page_reads_and_shows_the_english_way() -> None:
    field = IOServiceForm.base_fields["max_payment_eur"]
    with translation.override("en"):
        assert field.clean("1,500.50") == 150_050
        assert field.prepare_value(150_050) == "1,500.50"
    with translation.override("it"):
        assert field.prepare_value(150_050) == "1.500,50"


@pytest.mark.django_db
@pytest.mark.parametrize(("typed", "cents"), AMOUNTS[:6])
def test_the_service_page_saves_the_amount_in_cents(
    client, login, admin_user, typed: str, cents: int
) -> None:
    login(admin_user)
    response = client.post(reverse("ioservices:create"), {**SERVICE, "max_payment_eur": typed})
    assert response.status_code == 302, response.content.decode()[:2000]
    service = IOService.objects.get(service_id=SERVICE["service_id"])
    assert service.max_allowed_payment_amount == cents
    page = client.get(reverse("ioservices:edit", args=[service.public_id])).content.decode()
    shown = re.search(r'name="max_payment_eur"[^>]*value="([^"]*)"', page)
    assert shown and shown.group(1) == AMOUNT_SHOWN[cents]


AMOUNT_SHOWN = {
    100_000: "1.000,00",
    150_000: "1.500,00",
    123_456: "1.234,56",
    150_050: "1.500,50",
    123_456_700: "1.234.567,00",
}


SERVICE = {
    "service_id": "01JD3M0SERV1CE000000000BBB",
    "name": "Anagrafe",
    "is_active": "on",
    "payments_enabled": "on",
    "test_mode": "on",
    "authorized_recipients": "AAAAAA00A00A000A\n",
    "all_operators": "on",
    "primary_key": "0123456789abcdef0123456789abcdef",
    "secondary_key": "",
    "active_slot": "primary",
}


# --- Every error at once -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_service_form_reports_every_field_error_at_once(organization, admin_user) -> None:
    builders.service(organization)  # holds the id 01JD3M0SERV1CE000000000001
    with translation.override("it"):
        form = IOServiceForm(
            data={
                **SERVICE,
                "service_id": "01JD3M0SERV1CE000000000AAI",
                "max_payment_eur": "1,000.00",
                "remote_content_configuration_id": "12345",
                "primary_key": "abc",
            },
            organization=organization,
            user=admin_user,
        )
        assert not form.is_valid()
        errors = {name: " ".join(messages) for name, messages in form.errors.items()}
    assert "formato inglese" in errors["max_payment_eur"]
    assert "sembra un ULID" in errors["service_id"]
    assert "ULID" in errors["remote_content_configuration_id"]
    assert "lunga 32 caratteri" in errors["primary_key"]
    # A duplicate id is told with an unreadable amount too.
    with translation.override("it"):
        form = IOServiceForm(
            data={**SERVICE, "service_id": "01JD3M0SERV1CE000000000001", "max_payment_eur": "x"},
            organization=organization,
            user=admin_user,
        )
        assert not form.is_valid()
    assert set(form.errors) == {"service_id", "max_payment_eur"}
    assert "già registrato" in form.errors["service_id"][0]


@pytest.mark.django_db
def test_a_field_with_its_own_error_is_not_judged_again(organization, admin_user) -> None:
    with translation.override("it"):
        form = IOServiceForm(
            data={**SERVICE, "max_payment_eur": "dieci", "primary_key": "a" * 300},
            organization=organization,
            user=admin_user,
        )
        assert not form.is_valid()
    assert set(form.errors) == {"max_payment_eur", "primary_key"}
    assert len(form.errors["max_payment_eur"]) == 1
    assert form.errors["primary_key"] == ["Scrivi al massimo 200 caratteri (ora sono 300)."]


# --- Identifiers ---------------------------------------------------------------------------

# Names of the form fields that hold an identifier typed or pasted by hand.
IDENTIFIER_NAME = re.compile(
    r"fiscal_code|codice_fiscale|notice_number|service_id|configuration_id|^token$"
)
SPACES = [" ", "\u00a0", "\u202f", "\u2009", "\t", "\u200b", "\u2060", "\ufeff", "\u00ad"]


def test_every_identifier_field_is_read_as_the_import_reads_it() -> None:
    named = {
        f"{form.__name__}.{name}": field
        for form in portal_forms()
        for name, field in form.base_fields.items()
        if IDENTIFIER_NAME.search(name) and isinstance(field, forms.CharField)
    }
    assert {
        "SingleMessageForm.notice_number",
        "SingleMessageForm.fiscal_code",
        "IOServiceForm.service_id",
        "IOServiceForm.remote_content_configuration_id",
        "OrganizationForm.fiscal_code",
        "FiscalCodeSearchForm.codice_fiscale",
        "RemoteContentConfigurationForm.configuration_id",
    } <= set(named)
    offenders = [name for name, field in named.items() if not isinstance(field, IdentifierField)]
    assert offenders == []
    for name, field in named.items():
        assert "maxlength" not in field.widget_attrs(field.widget), name


@pytest.mark.parametrize("space", SPACES)
def test_an_identifier_loses_spaces_and_invisible_characters(space: str) -> None:
    typed = space.join(["3020", "0010", "0000", "0110", "23"])
    assert normalize_notice_number(typed) == "302000100000011023"  # the import's reading
    for name, field in _fields(IdentifierField).items():
        if field.max_length is not None and field.max_length < 18:
            continue
        assert field.clean(typed) == "302000100000011023", name
        assert field.bound_data(typed, None) == "302000100000011023", name


MESSAGE = {
    "feature_level": "standard",
    "fiscal_code": "RSSMRA85T10A562S",
    "subject": "Avviso di pagamento",
    "markdown": "Il Comune le ricorda il pagamento della rata, con l'avviso pagoPA. " * 2,
    "launch_token": "6b3c1b52-0d7c-4f2e-9a53-1f8f0c1f5e11",
}


@pytest.mark.django_db
def test_the_single_message_takes_a_notice_number_as_printed(
    client, login, operator_user, organization, monkeypatch
) -> None:
    monkeypatch.setattr(
        "ioportal.messaging.services.pipeline.wake_pipeline", lambda *, organization_id: None
    )
    service = builders.service(
        organization, test_mode=False, payments_enabled=True, max_allowed_payment_amount=1_000_000
    )
    login(operator_user)
    data = {**MESSAGE, "service": service.pk, "notice_number": "3020 0010 0000 0110 23"}
    # Another field's error: the page shows the notice number as read.
    page = client.post(reverse("messaging:single"), {**data, "amount": "1,000.00"}).content.decode()
    assert "formato inglese" in page
    assert 'value="302000100000011023"' in page
    assert "18 cifre" not in page
    response = send_single(client, {**data, "amount": "1.500,5"})
    assert response.status_code == 302
    delivery = Dispatch.objects.get(kind=Dispatch.Kind.SINGLE).deliveries.get()
    assert delivery.notice_number == "302000100000011023"
    assert delivery.payment_amount == 150_050


@pytest.mark.django_db
def test_the_single_message_form_reads_amounts_as_the_import(organization) -> None:
    service = builders.service(
        organization, payments_enabled=True, max_allowed_payment_amount=9_999_999_999
    )
    for typed, cents in AMOUNTS:
        with translation.override("it"):
            form = SingleMessageForm(
                data={
                    **MESSAGE,
                    "service": service.pk,
                    "amount": typed,
                    "notice_number": "302000100000011023",
                },
                services=IOService.objects.filter(pk=service.pk),
            )
            assert form.is_valid(), (typed, form.errors)
        assert form.cleaned_data["amount_cents"] == cents


# --- Whole numbers -------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["12 €", "€ 12", "12 euro"])
def test_a_count_with_a_currency_is_not_a_number(typed: str) -> None:
    with translation.override("it"):
        for name, field in _fields(WholeNumberField).items():
            with pytest.raises(ValidationError):
                field.clean(typed)
            if field.max_value is None or field.max_value >= 2000:
                assert field.clean("2.000") == 2000, name


@pytest.mark.django_db
def test_the_carnet_page_tells_an_overlap_with_an_unreadable_count(
    client, login, admin_user, organization
) -> None:
    service = builders.service(organization, premium_enabled=True, test_mode=False)
    login(admin_user)
    url = reverse("messaging:carnet_create", args=[service.public_id])
    year = {"starts_on": "2026-01-01", "ends_on": "2026-12-31"}
    assert client.post(url, {**year, "purchased": "1.000"}).status_code == 302
    page = client.post(
        url, {"starts_on": "2026-06-01", "ends_on": "2027-05-31", "purchased": "1,5"}
    ).content.decode()
    assert "Scrivi un numero intero" in page
    assert "si sovrappone" in page
