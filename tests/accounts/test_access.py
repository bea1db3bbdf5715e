"""Every view: same organization works, another organization's objects 404, low roles 403."""

import pytest
from django.urls import reverse

from ioportal.accounts.models import Membership
from tests import builders

ROLE_PAGES = [
    ("dashboard:dashboard", Membership.Role.OPERATOR),
    ("dashboard:audit_list", Membership.Role.SUPERVISOR),
    ("accounts:member_list", Membership.Role.ADMIN),
    ("accounts:member_invite", Membership.Role.ADMIN),
    ("accounts:organization_settings", Membership.Role.ADMIN),
    ("retention:settings", Membership.Role.ADMIN),
    ("accounts:password_change", Membership.Role.OPERATOR),
]
ROLES = [Membership.Role.OPERATOR, Membership.Role.SUPERVISOR, Membership.Role.ADMIN]


@pytest.mark.parametrize(("name", "minimum"), ROLE_PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_page_by_role(client, login, organization, name, minimum, role):
    login(builders.user(role, organization))
    response = client.get(reverse(name))
    allowed = Membership(role=role).has_role(minimum)
    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert "Accesso non consentito" in response.content.decode()


@pytest.mark.parametrize(("name", "minimum"), ROLE_PAGES)
def test_pages_need_login(client, name, minimum):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_member_edit_same_org(client, login, admin_user, organization):
    member = builders.user(Membership.Role.OPERATOR, organization)
    login(admin_user)
    response = client.get(reverse("accounts:member_edit", args=[member.public_id]))
    assert response.status_code == 200


def test_member_edit_other_org_is_404(client, login, admin_user, other_organization):
    stranger = builders.user(Membership.Role.OPERATOR, other_organization)
    login(admin_user)
    url = reverse("accounts:member_edit", args=[stranger.public_id])
    assert client.get(url).status_code == 404
    assert client.post(url, {"role": "admin"}).status_code == 404
    assert Membership.objects.get(user=stranger).role == Membership.Role.OPERATOR


def test_member_edit_needs_admin(client, login, supervisor_user, organization):
    member = builders.user(Membership.Role.OPERATOR, organization)
    login(supervisor_user)
    response = client.get(reverse("accounts:member_edit", args=[member.public_id]))
    assert response.status_code == 403


def test_switch_to_own_organization(client, login, organization, other_organization):
    user = builders.user(Membership.Role.OPERATOR, organization)
    Membership.objects.create(
        user=user, organization=other_organization, role=Membership.Role.ADMIN
    )
    login(user)
    response = client.post(
        reverse("accounts:switch_organization"),
        {"organization": str(other_organization.public_id)},
    )
    assert response.status_code == 302
    page = client.get(reverse("accounts:member_list"))
    assert page.status_code == 200  # admin there
    assert other_organization.name in page.content.decode()


def test_switch_to_foreign_organization_is_404(client, login, operator_user, other_organization):
    login(operator_user)
    response = client.post(
        reverse("accounts:switch_organization"),
        {"organization": str(other_organization.public_id)},
    )
    assert response.status_code == 404


@pytest.mark.parametrize("value", ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_switch_with_forged_id_is_404(client, login, operator_user, value):
    login(operator_user)
    response = client.post(reverse("accounts:switch_organization"), {"organization": value})
    assert response.status_code == 404


def test_organization_pages_are_for_superusers(client, login, admin_user, organization):
    login(admin_user)
    for url in (
        reverse("accounts:organization_list"),
        reverse("accounts:organization_create"),
        reverse("accounts:organization_edit", args=[organization.public_id]),
    ):
        assert client.get(url).status_code == 403


def test_superuser_manages_organizations(client, login, organization):
    login(builders.user(superuser=True))
    assert client.get(reverse("accounts:organization_list")).status_code == 200
    url = reverse("accounts:organization_edit", args=[organization.public_id])
    assert client.get(url).status_code == 200


def test_revoking_the_last_admin_shows_only_the_reason(client, login, admin_user, organization):
    """Revoca sends no role: the refusal is the one message, no error on the role field."""
    login(admin_user)
    url = reverse("accounts:member_edit", args=[admin_user.public_id])
    response = client.post(url, {"remove": "1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "almeno un amministratore attivo" in page
    assert "Questo campo è obbligatorio" not in page
    assert not response.context["form"].errors
    assert Membership.objects.get(user=admin_user, organization=organization).is_active


def test_the_last_admin_is_kept_with_a_message(client, login, admin_user, organization):
    """membership_update raises LastAdminError (a NotAllowed): the page says why."""
    login(admin_user)
    url = reverse("accounts:member_edit", args=[admin_user.public_id])
    response = client.post(url, {"role": Membership.Role.OPERATOR})
    assert response.status_code == 200
    assert "almeno un amministratore attivo" in response.content.decode()
    assert Membership.objects.get(user=admin_user, organization=organization).role == (
        Membership.Role.ADMIN
    )
