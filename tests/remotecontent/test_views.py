"""Admin pages: org-scoped (other organization 404), admins only (403), key shown once."""

import pytest

from ioportal.accounts.models import Membership
from ioportal.core.models import AuditEvent
from ioportal.remotecontent.models import RemoteContentConfiguration
from ioportal.remotecontent.services import key_matches, rc_configuration_create
from tests import builders
from tests.remotecontent.conftest import CONFIGURATION_ID, OTHER_CONFIGURATION_ID

PAGES = ["/contenuti-remoti/", "/contenuti-remoti/nuova/", "/contenuti-remoti/messaggi-mensili/"]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role", [Membership.Role.OPERATOR, Membership.Role.SUPERVISOR])
def test_low_roles_get_403(organization, login, path, role):
    client = login(builders.user(role, organization))
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_admin_sees_the_pages(admin_user, login, path):
    response = login(admin_user).get(path)
    assert response.status_code == 200
    assert b"<script>" not in response.content and b"style=" not in response.content


def test_anonymous_is_sent_to_login(client):
    response = client.get("/contenuti-remoti/")
    assert response.status_code == 302 and "/account/accesso/" in response["Location"]


def test_create_shows_the_key_once(admin_user, login):
    client = login(admin_user)
    response = client.post(
        "/contenuti-remoti/nuova/",
        {"configuration_id": CONFIGURATION_ID.lower(), "name": "Tributi", "header_name": "X-Key"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    configuration = RemoteContentConfiguration.objects.get()
    assert configuration.configuration_id == CONFIGURATION_ID
    key = response.context["key"]
    assert key in response.content.decode()
    assert key_matches(configuration, key)
    listing = client.get("/contenuti-remoti/").content.decode()
    assert key not in listing and configuration.key_last4 in listing
    assert f"/io/remote-content/{CONFIGURATION_ID}" in listing
    event = AuditEvent.objects.get(action="remotecontent.configuration_created")
    assert key not in str(event.changes)


def test_create_refuses_duplicates_and_bad_input(admin_user, login, organization):
    rc_configuration_create(
        organization=organization,
        configuration_id=CONFIGURATION_ID,
        name="A",
        header_name="X-Key",
        actor=admin_user,
    )
    client = login(admin_user)
    response = client.post(
        "/contenuti-remoti/nuova/",
        {"configuration_id": CONFIGURATION_ID, "name": "B", "header_name": "X-Key"},
    )
    assert response.status_code == 200 and "key" not in response.context
    assert "già registrata" in response.content.decode()
    response = client.post(
        "/contenuti-remoti/nuova/",
        {"configuration_id": "NOTAULID", "name": "B", "header_name": "x_key"},
    )
    assert response.status_code == 200
    assert RemoteContentConfiguration.objects.count() == 1


def _configuration(organization, actor, configuration_id=CONFIGURATION_ID):
    return rc_configuration_create(
        organization=organization,
        configuration_id=configuration_id,
        name="Tributi",
        header_name="X-Key",
        actor=actor,
    )


def test_regenerate_confirms_then_shows_new_key(admin_user, login, organization):
    configuration, old_key = _configuration(organization, admin_user)
    client = login(admin_user)
    url = f"/contenuti-remoti/{configuration.public_id}/rigenera-chiave/"
    assert client.get(url).status_code == 200
    configuration.refresh_from_db()
    assert key_matches(configuration, old_key)  # a GET changes nothing
    response = client.post(url)
    assert response.status_code == 200
    configuration.refresh_from_db()
    assert key_matches(configuration, response.context["key"])
    assert not key_matches(configuration, old_key)
    assert AuditEvent.objects.filter(action="remotecontent.key_regenerated").count() == 1


def test_regenerate_other_organization_is_404(admin_user, login, other_organization):
    other_admin = builders.user(Membership.Role.ADMIN, other_organization)
    configuration, key = _configuration(other_organization, other_admin, OTHER_CONFIGURATION_ID)
    client = login(admin_user)
    url = f"/contenuti-remoti/{configuration.public_id}/rigenera-chiave/"
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    configuration.refresh_from_db()
    assert key_matches(configuration, key)
    assert OTHER_CONFIGURATION_ID not in client.get("/contenuti-remoti/").content.decode()


@pytest.mark.parametrize("role", [Membership.Role.OPERATOR, Membership.Role.SUPERVISOR])
def test_regenerate_low_role_is_403(organization, login, admin_user, role):
    configuration, key = _configuration(organization, admin_user)
    client = login(builders.user(role, organization))
    url = f"/contenuti-remoti/{configuration.public_id}/rigenera-chiave/"
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    configuration.refresh_from_db()
    assert key_matches(configuration, key)


def test_nav_links_for_admins_only(admin_user, operator_user, login, client):
    assert b"/contenuti-remoti/" in login(admin_user).get("/").content
    client.logout()
    assert b"/contenuti-remoti/" not in login(operator_user).get("/").content


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Via", "Connection", "Authorization"])
def test_create_refuses_a_header_a_proxy_or_http_sets(admin_user, login, header):
    client = login(admin_user)
    response = client.post(
        "/contenuti-remoti/nuova/",
        {"configuration_id": CONFIGURATION_ID, "name": "Tributi", "header_name": header},
    )
    assert response.status_code == 200 and "key" not in response.context
    assert "già usato da HTTP, dai proxy o da IO" in response.content.decode()
    assert not RemoteContentConfiguration.objects.exists()
