"""Who sees what: operators never, supervisors read-only without keys, admins edit;
another organization's service is a 404 for everyone."""

import pytest
from django.urls import reverse

from ioportal.accounts.models import Membership
from tests import builders
from tests.ioservices.conftest import PRIMARY_KEY, SECONDARY_KEY, assert_no_key_in

ROLES = [Membership.Role.OPERATOR, Membership.Role.SUPERVISOR, Membership.Role.ADMIN]
# (url name, needs a service, minimum role, method)
PAGES = [
    ("ioservices:list", False, Membership.Role.SUPERVISOR, "get"),
    ("ioservices:create", False, Membership.Role.ADMIN, "get"),
    ("ioservices:detail", True, Membership.Role.SUPERVISOR, "get"),
    ("ioservices:edit", True, Membership.Role.ADMIN, "get"),
    ("ioservices:check", True, Membership.Role.ADMIN, "post"),
    ("ioservices:active_slot", True, Membership.Role.ADMIN, "post"),
]

OBJECT_PAGES = [page for page in PAGES if page[1]]


def url_for(name, needs_service, service):
    return reverse(name, args=[service.public_id]) if needs_service else reverse(name)


@pytest.mark.parametrize(("name", "needs_service", "minimum", "method"), PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_pages_by_role(
    client, login, organization, service, name, needs_service, minimum, method, role
):
    login(builders.user(role, organization))
    response = getattr(client, method)(url_for(name, needs_service, service))
    allowed = Membership(role=role).has_role(minimum)
    if not allowed:
        assert response.status_code == 403
    else:
        assert response.status_code in (200, 302)
    assert_no_key_in(response.content.decode(), PRIMARY_KEY, SECONDARY_KEY, where=name)


@pytest.mark.parametrize(("name", "needs_service", "minimum", "method"), PAGES)
def test_pages_need_login(client, service, name, needs_service, minimum, method):
    response = getattr(client, method)(url_for(name, needs_service, service))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


@pytest.mark.parametrize(("name", "needs_service", "minimum", "method"), OBJECT_PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_other_organization_service_is_404_for_everyone(
    client,
    login,
    organization,
    other_organization,
    name,
    needs_service,
    minimum,
    method,
    role,
):
    foreign = builders.service(other_organization)
    login(builders.user(role, organization))
    response = getattr(client, method)(url_for(name, needs_service, foreign))
    assert response.status_code == 404


def test_admin_of_other_organization_gets_404(client, login, other_organization, service):
    login(builders.user(Membership.Role.ADMIN, other_organization))
    for name in ("ioservices:detail", "ioservices:edit"):
        assert client.get(reverse(name, args=[service.public_id])).status_code == 404
    assert client.post(reverse("ioservices:check", args=[service.public_id])).status_code == 404


def test_other_organization_service_not_listed(client, login, admin_user, other_organization):
    foreign = builders.service(other_organization, name="Servizio altrui")
    login(admin_user)
    page = client.get(reverse("ioservices:list")).content.decode()
    assert "Servizio altrui" not in page
    assert foreign.service_id not in page


def test_forged_public_id_is_404(client, login, admin_user):
    login(admin_user)
    response = client.get("/servizi-io/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404


def test_supervisor_sees_settings_but_no_key_information(client, login, supervisor_user, service):
    login(supervisor_user)
    page = client.get(reverse("ioservices:detail", args=[service.public_id])).content.decode()
    assert service.service_id in page
    assert "Chiavi API" not in page
    assert PRIMARY_KEY[-4:] not in page and SECONDARY_KEY[-4:] not in page
    assert reverse("ioservices:edit", args=[service.public_id]) not in page
    assert reverse("ioservices:check", args=[service.public_id]) not in page


def test_admin_sees_only_last_four_characters(client, login, admin_user, service):
    login(admin_user)
    page = client.get(reverse("ioservices:detail", args=[service.public_id])).content.decode()
    assert f"…{PRIMARY_KEY[-4:]}" in page
    assert f"…{SECONDARY_KEY[-4:]}" in page
    assert_no_key_in(page, PRIMARY_KEY, SECONDARY_KEY)


def test_navigation_item_for_supervisors_and_admins(client, login, organization):
    for role, visible in [
        (Membership.Role.OPERATOR, False),
        (Membership.Role.SUPERVISOR, True),
        (Membership.Role.ADMIN, True),
    ]:
        login(builders.user(role, organization))
        page = client.get(reverse("dashboard:dashboard")).content.decode()
        assert (reverse("ioservices:list") in page) is visible, role
