"""Admins create and edit services through the web pages: clear Italian errors, nothing saved
on bad input, every change audited, and no key ever sent back."""

import logging
import re

import pytest
from django.urls import reverse

from ioportal.accounts.models import Membership
from ioportal.core.models import AuditEvent
from ioportal.ioservices.models import IOService
from ioportal.ioservices.selectors import ioservices_usable_by
from tests import builders
from tests.ioservices.conftest import (
    NEW_KEY,
    PRIMARY_KEY,
    SECONDARY_KEY,
    SERVICE_ID,
    assert_no_key_in,
    assert_no_key_in_audit,
)

VALID = {
    "service_id": "01JD3M0SERV1CE000000000BBB",
    "name": "Anagrafe",
    "is_active": "on",
    "department_name": "Servizi demografici",
    "premium_enabled": "on",
    "payments_enabled": "on",
    "max_payment_eur": "1500,50",
    "test_mode": "on",
    "authorized_recipients": "AAAAAA00A00A000A\nrssmra80a01h501u\n",
    "remote_content_configuration_id": "01JD3M0C0NF1G0000000000001",
    "all_operators": "on",
    "primary_key": NEW_KEY,
    "secondary_key": "",
    "active_slot": "primary",
}


@pytest.fixture(autouse=True)
def _configuration_of_the_organization(organization, admin_user):
    """VALID's remote-content configuration, registered by the organization."""
    builders.rc_configuration(
        organization, admin_user, configuration_id=VALID["remote_content_configuration_id"]
    )


def test_create_service(client, login, admin_user, organization, caplog):
    caplog.set_level(logging.DEBUG)
    login(admin_user)
    response = client.post(reverse("ioservices:create"), VALID)
    service = IOService.objects.get(service_id=VALID["service_id"])
    assert response.status_code == 302
    assert response.url == reverse("ioservices:detail", args=[service.public_id])
    assert service.organization == organization
    assert service.max_allowed_payment_amount == 150050
    assert service.authorized_recipients == ["AAAAAA00A00A000A", "RSSMRA80A01H501U"]
    assert service.premium_enabled and service.payments_enabled and service.test_mode
    assert service.key_value("primary") == NEW_KEY
    assert NEW_KEY not in service.primary_key_encrypted
    assert service.primary_key_last4 == NEW_KEY[-4:]
    assert service.primary_key_changed_at is not None
    assert not service.has_key("secondary")
    event = AuditEvent.objects.get(action="ioservice.created")
    assert event.actor == admin_user
    assert event.organization == organization
    assert "primary_key" in event.changes
    assert "secondary_key" not in event.changes
    assert event.changes["authorized_recipients"] == ["AAA************A", "RSS************U"]
    assert_no_key_in_audit(NEW_KEY)
    assert_no_key_in(caplog.text, NEW_KEY, where="logs")


def test_new_service_form_offers_the_sandbox_code(client, login, admin_user):
    login(admin_user)
    page = client.get(reverse("ioservices:create")).content.decode()
    assert "AAAAAA00A00A000A</textarea>" in page


def test_edit_keeps_keys_when_left_blank(client, login, admin_user, service):
    login(admin_user)
    data = dict(VALID, service_id=service.service_id, primary_key="", secondary_key="")
    data.pop("payments_enabled")
    response = client.post(reverse("ioservices:edit", args=[service.public_id]), data)
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.key_value("primary") == PRIMARY_KEY
    assert service.key_value("secondary") == SECONDARY_KEY
    assert service.name == "Anagrafe"
    assert not service.payments_enabled and service.max_allowed_payment_amount == 0
    event = AuditEvent.objects.get(action="ioservice.updated")
    assert event.changes["name"] == ["Tributi 1", "Anagrafe"]
    assert "primary_key" not in event.changes and "secondary_key" not in event.changes


def test_edit_replaces_a_key_and_records_only_that_it_changed(
    client, login, admin_user, service, caplog
):
    caplog.set_level(logging.DEBUG)
    before = service.primary_key_changed_at
    login(admin_user)
    data = dict(VALID, service_id=service.service_id, name=service.name, primary_key=NEW_KEY)
    data["max_payment_eur"] = ""
    data.pop("payments_enabled")
    response = client.post(reverse("ioservices:edit", args=[service.public_id]), data)
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.key_value("primary") == NEW_KEY
    assert service.primary_key_last4 == NEW_KEY[-4:]
    assert service.primary_key_changed_at > before
    event = AuditEvent.objects.get(action="ioservice.updated")
    assert set(event.changes) >= {"primary_key"}
    assert "secondary_key" not in event.changes
    assert_no_key_in_audit(NEW_KEY, PRIMARY_KEY, SECONDARY_KEY)
    assert_no_key_in(caplog.text, NEW_KEY, PRIMARY_KEY, SECONDARY_KEY, where="logs")


def test_admin_can_disable_a_service(client, login, admin_user, service):
    login(admin_user)
    data = dict(VALID, service_id=service.service_id, primary_key="")
    data.pop("is_active")
    client.post(reverse("ioservices:edit", args=[service.public_id]), data)
    service.refresh_from_db()
    assert not service.is_active
    event = AuditEvent.objects.get(action="ioservice.updated")
    assert event.changes["is_active"] == [True, False]


def test_only_listed_operators_when_not_open_to_all(
    client, login, admin_user, organization, service
):
    chosen = builders.user(Membership.Role.OPERATOR, organization, username="scelto")
    builders.user(Membership.Role.OPERATOR, organization, username="escluso")
    membership = Membership.objects.get(user=chosen)
    login(admin_user)
    data = dict(
        VALID, service_id=service.service_id, primary_key="", allowed_members=[membership.pk]
    )
    data.pop("all_operators")
    response = client.post(reverse("ioservices:edit", args=[service.public_id]), data)
    assert response.status_code == 302
    excluded = Membership.objects.get(user__username="escluso")
    assert list(ioservices_usable_by(membership=membership)) == [service]
    assert list(ioservices_usable_by(membership=excluded)) == []
    event = AuditEvent.objects.get(action="ioservice.updated")
    assert event.changes["allowed_members"] == [[], ["scelto"]]


NOT_REGISTERED = "non è registrata per l&#x27;ente"
OTHER_CONFIGURATION_ID = "01JD3M0C0NF1G0000000000002"


@pytest.mark.parametrize("where", ["other organization", "nowhere"])
def test_a_configuration_not_of_the_organization_is_refused_alike(
    client, login, admin_user, other_organization, where
):
    """Another organization's configuration is refused as an unknown one: the answer does
    not tell that it exists elsewhere."""
    if where == "other organization":
        stranger = builders.user(Membership.Role.ADMIN, other_organization, username="altro")
        builders.rc_configuration(
            other_organization, stranger, configuration_id=OTHER_CONFIGURATION_ID
        )
    login(admin_user)
    data = dict(VALID, remote_content_configuration_id=OTHER_CONFIGURATION_ID)
    response = client.post(reverse("ioservices:create"), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert NOT_REGISTERED in page
    assert re.search(r'id="id_remote_content_configuration_id".*?invalid-feedback', page, re.S), (
        "no error next to the configuration"
    )
    assert not IOService.objects.filter(service_id=VALID["service_id"]).exists()


def test_editing_a_service_to_another_organizations_configuration_is_refused(
    client, login, admin_user, other_organization, service
):
    stranger = builders.user(Membership.Role.ADMIN, other_organization, username="altro")
    builders.rc_configuration(other_organization, stranger, configuration_id=OTHER_CONFIGURATION_ID)
    login(admin_user)
    data = dict(
        VALID,
        service_id=service.service_id,
        primary_key="",
        remote_content_configuration_id=OTHER_CONFIGURATION_ID,
    )
    response = client.post(reverse("ioservices:edit", args=[service.public_id]), data)
    assert response.status_code == 200
    assert NOT_REGISTERED in response.content.decode()
    service.refresh_from_db()
    assert service.remote_content_configuration_id == ""


BAD_INPUTS = [
    ({"service_id": "01JD3M0SERV1CE000000000AAI"}, "service_id", "sembra un ULID"),
    ({"service_id": "servizio_tributi"}, "service_id", "non è valido"),
    ({"service_id": SERVICE_ID}, "service_id", "già registrato"),
    ({"remote_content_configuration_id": "12345"}, "remote_content_configuration_id", "ULID"),
    ({"primary_key": "abc123"}, "primary_key", "lunga 32 caratteri"),
    ({"primary_key": "z" * 32}, "primary_key", "solo cifre e lettere"),
    # IO compares keys exactly: the same key in capitals is another key, which IO refuses.
    ({"primary_key": "8027630CC5B8BFBF0900B52184F5EEC0"}, "primary_key", "lettere maiuscole"),
    ({"secondary_key": NEW_KEY.upper()}, "secondary_key", "lettere maiuscole"),
    ({"secondary_key": NEW_KEY}, "secondary_key", "diversa dalla primaria"),
    ({"max_payment_eur": "-5"}, "max_payment_eur", "non può essere negativo"),
    ({"max_payment_eur": "100000000"}, "max_payment_eur", "99.999.999,99"),
    ({"max_payment_eur": "dieci"}, "max_payment_eur", "Non è un importo in euro"),
    ({"max_payment_eur": "1,000.00"}, "max_payment_eur", "scritto nel formato inglese"),
    ({"max_payment_eur": ""}, "max_payment_eur", "Indica l&#x27;importo massimo"),
    (
        {"authorized_recipients": "AAAAAA00A00A000A\n\nRSSMRA80A01H501X"},
        "authorized_recipients",
        "Riga 3: «RSSMRA80A01H501X» non è un codice fiscale valido",
    ),
    ({"active_slot": "secondary"}, "active_slot", "non è impostata"),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_INPUTS)
def test_bad_input_shows_message_next_to_field_and_saves_nothing(
    client, login, admin_user, service, changes, field, message, caplog
):
    caplog.set_level(logging.DEBUG)
    login(admin_user)
    count, events = IOService.objects.count(), AuditEvent.objects.count()
    response = client.post(reverse("ioservices:create"), dict(VALID, **changes))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    # The message is rendered with the field (crispy's invalid-feedback after the input).
    field_html = re.search(rf'id="id_{field}[_0-9]*".*?invalid-feedback', page, re.S)
    assert field_html, f"no error next to {field}"
    assert "Il servizio non è stato salvato" in page
    assert IOService.objects.count() == count
    assert AuditEvent.objects.count() == events
    assert_no_key_in(page, NEW_KEY, PRIMARY_KEY, SECONDARY_KEY, where="form with errors")
    assert_no_key_in(caplog.text, NEW_KEY, PRIMARY_KEY, SECONDARY_KEY, where="logs")


def test_bad_input_on_edit_changes_nothing(client, login, admin_user, service):
    login(admin_user)
    data = dict(VALID, service_id=service.service_id, primary_key="0" * 31)
    response = client.post(reverse("ioservices:edit", args=[service.public_id]), data)
    assert response.status_code == 200
    assert "ne ha 31" in response.content.decode()
    service.refresh_from_db()
    assert service.name == "Tributi 1"
    assert service.key_value("primary") == PRIMARY_KEY
    assert not AuditEvent.objects.filter(action="ioservice.updated").exists()


def test_switch_active_key_from_the_detail_page(client, login, admin_user, service):
    login(admin_user)
    url = reverse("ioservices:active_slot", args=[service.public_id])
    response = client.post(url, {"active_slot": "secondary"})
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.active_slot == "secondary"
    event = AuditEvent.objects.get(action="ioservice.active_key_changed")
    assert event.changes == {"active_slot": ["primary", "secondary"]}


def test_cannot_switch_to_a_missing_key(client, login, admin_user, organization):
    service = builders.service(organization, secondary_key="")
    login(admin_user)
    url = reverse("ioservices:active_slot", args=[service.public_id])
    response = client.post(url, {"active_slot": "secondary"}, follow=True)
    assert "non è impostata" in response.content.decode()
    service.refresh_from_db()
    assert service.active_slot == "primary"


def test_api_base_url_only_for_installation_superusers(
    client, login, admin_user, organization, service
):
    login(admin_user)
    url = reverse("ioservices:edit", args=[service.public_id])
    assert 'name="api_base_url"' not in client.get(url).content.decode()
    data = dict(VALID, service_id=service.service_id, primary_key="")
    data["api_base_url"] = "http://127.0.0.1:9/api/v1"
    client.post(url, data)
    service.refresh_from_db()
    assert service.api_base_url == ""

    root = builders.user(Membership.Role.ADMIN, organization, username="root", superuser=True)
    login(root)
    assert 'name="api_base_url"' in client.get(url).content.decode()
    client.post(url, data)
    service.refresh_from_db()
    assert service.api_base_url == "http://127.0.0.1:9/api/v1"


def test_feed_access_is_saved_audited_and_shown(client, login, admin_user, service):
    login(admin_user)
    data = dict(VALID, service_id=service.service_id, primary_key="", feed_access="on")
    response = client.post(reverse("ioservices:edit", args=[service.public_id]), data)
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.feed_access
    event = AuditEvent.objects.get(action="ioservice.updated")
    assert event.changes["feed_access"] == [False, True]
    page = client.get(reverse("ioservices:detail", args=[service.public_id])).content.decode()
    assert "Accesso concesso da IO" in page
