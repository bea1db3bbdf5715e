"""IO services in a real browser: an admin registers a service, sees it masked, checks it;
the list, form (also with errors) and detail pages pass the accessibility check."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.models import Membership
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ioservice_create
from tests import builders

pytestmark = pytest.mark.browser

PRIMARY = "3f1c0a9b7e4412d5a6b8c9d0e1f2a3b4"
SECONDARY = "9b7e44d5a6b8c9d0e1f2a3b43f1c0a12"


def test_admin_registers_and_views_a_service(page, sign_in, axe_check, organization):
    admin = builders.user(Membership.Role.ADMIN, organization, username="capo")
    TOTPDevice.objects.create(user=admin, name="default", confirmed=True)
    builders.user(Membership.Role.OPERATOR, organization, username="olga")
    sign_in(page, admin)

    page.get_by_role("link", name="Servizi IO").click()
    page.wait_for_load_state()
    axe_check(page, "ioservices-list-empty")
    page.get_by_role("link", name="Registra un servizio").click()
    page.wait_for_load_state()
    axe_check(page, "ioservices-form")

    page.get_by_label("Identificativo del servizio IO").fill("01JD3M0SERV1CE00000000000I")
    page.get_by_label("Nome del servizio").fill("Tributi")
    page.get_by_label("Chiave primaria").fill("corta")
    page.get_by_role("button", name="Salva").click()
    page.wait_for_load_state()
    body = page.content()
    assert "sembra un ULID" in body
    assert "lunga 32 caratteri" in body
    axe_check(page, "ioservices-form-errors")

    page.get_by_label("Identificativo del servizio IO").fill("01JD3M0SERV1CE000000000AAA")
    page.get_by_label("Premium abilitato").check(force=True)
    page.get_by_label("Pagamenti consentiti").check(force=True)
    page.get_by_label("Importo massimo per messaggio (euro)").fill("250,00")
    page.get_by_label("Chiave primaria").fill(PRIMARY)
    page.get_by_label("Chiave secondaria").fill(SECONDARY)
    page.get_by_role("button", name="Salva").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Tributi"
    body = page.content()
    assert f"…{PRIMARY[-4:]}" in body and PRIMARY not in body and SECONDARY not in body
    axe_check(page, "ioservices-detail-admin")

    service = IOService.objects.get()
    assert service.max_allowed_payment_amount == 25000
    page.get_by_role("button", name="Verifica il servizio").click()
    page.wait_for_load_state()
    assert "Verifica avviata" in page.content()
    # The check's result is set in the page's font, not Bootstrap Italia's callout serif.
    fonts = page.evaluate(
        "[...document.querySelectorAll('.callout p')].map(p => getComputedStyle(p).fontFamily)"
    )
    body_font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert fonts and all(font == body_font for font in fonts), (fonts, body_font)

    page.get_by_role("link", name="Modifica").first.click()
    page.wait_for_load_state()
    assert page.get_by_label("Chiave primaria").input_value() == ""
    axe_check(page, "ioservices-form-edit")
    page.goto("/servizi-io/")
    axe_check(page, "ioservices-list")


def test_supervisor_reads_settings_without_keys(page, sign_in, axe_check, organization):
    supervisor = builders.user(Membership.Role.SUPERVISOR, organization, username="sergio")
    TOTPDevice.objects.create(user=supervisor, name="default", confirmed=True)
    service = ioservice_create(
        organization=organization,
        actor="test",
        service_id="01JD3M0SERV1CE000000000AAB",
        name="Anagrafe",
        primary_key=PRIMARY,
        secondary_key=SECONDARY,
        authorized_recipients=["AAAAAA00A00A000A"],
    )
    sign_in(page, supervisor)
    page.goto(f"/servizi-io/{service.public_id}/")
    body = page.content()
    assert "Anagrafe" in body and "Chiavi API" not in body and PRIMARY[-4:] not in body
    axe_check(page, "ioservices-detail-supervisor")
