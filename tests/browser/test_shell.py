"""The shell in a real browser: each role signs in, sees its navigation, and every page
passes the automated accessibility check."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.models import Invitation, Membership
from tests import builders

pytestmark = pytest.mark.browser

NAV = {
    Membership.Role.OPERATOR: [
        "Scrivania",
        "Invii",
        "Nuovo messaggio",
        "Modelli",
        "Raggiungibilità",
        "Account",
    ],
    Membership.Role.SUPERVISOR: [
        "Scrivania",
        "Invii",
        "Nuovo messaggio",
        "Modelli",
        "Raggiungibilità",
        "Registro attività",
        "Servizi IO",
        "Account",
    ],
    Membership.Role.ADMIN: [
        "Scrivania",
        "Invii",
        "Nuovo messaggio",
        "Modelli",
        "Raggiungibilità",
        "Registro attività",
        "Servizi IO",
        "Utenti",
        "Impostazioni ente",
        "Contenuti remoti",
        "Account",
    ],
}


def nav_labels(page) -> list[str]:
    return [t.strip() for t in page.locator("#navigazione .nav-link").all_inner_texts()]


@pytest.mark.parametrize("role", list(NAV))
def test_each_role_signs_in_and_sees_its_navigation(page, sign_in, axe_check, organization, role):
    user = builders.user(role, organization, username=f"u-{role}")
    if role != Membership.Role.OPERATOR:
        TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    sign_in(page, user)
    assert nav_labels(page) == NAV[role]
    assert page.get_by_role("heading", level=1).inner_text().startswith(("Buongiorno", "Buonasera"))
    axe_check(page, f"dashboard-{role}")


def test_login_and_public_pages_are_accessible(page, axe_check, db):
    page.goto("/account/accesso/")
    axe_check(page, "login")
    page.goto("/account/password/reimposta/")
    axe_check(page, "password-reset")
    page.goto("/account/password/reimposta/MQ/scaduto-0123/")
    axe_check(page, "password-reset-invalid")


def test_admin_pages_are_accessible(page, sign_in, axe_check, organization, console_errors):
    admin = builders.user(Membership.Role.ADMIN, organization, username="capo")
    TOTPDevice.objects.create(user=admin, name="default", confirmed=True)
    member = builders.user(Membership.Role.OPERATOR, organization, username="collega")
    Invitation.objects.create(
        organization=organization,
        user=builders.user(username="invitata"),
        email="invitata@esempio.invalid",
        role=Membership.Role.OPERATOR,
        token_digest=Invitation.digest("a" * 43),
        expires_at=timezone.now() + timedelta(days=1),
    )
    sign_in(page, admin)
    for path, name in [
        ("/registro/", "audit"),
        ("/i-miei-accessi/", "my-sign-ins"),
        ("/account/inviti/", "my-invitations"),
        ("/account/ente/utenti/", "members"),
        ("/account/ente/utenti/invita/", "member-invite"),
        (f"/account/ente/utenti/{member.public_id}/", "member-edit"),
        ("/account/ente/impostazioni/", "organization-settings"),
        ("/account/password/", "password-change"),
        (f"/account/ente/utenti/{member.public_id}/verifica/azzera/", "otp-reset"),
        ("/pagina-che-non-esiste/", "not-found"),
    ]:
        page.goto(path)
        axe_check(page, name)
    # The 404 page itself is the only error the browser reports (its status).
    assert len(console_errors) == 1 and "404" in console_errors[0], console_errors
    console_errors.clear()


def test_admin_navigation_fits_one_line_at_1366_px(page, sign_in, organization):
    admin = builders.user(Membership.Role.ADMIN, organization, username="largo")
    TOTPDevice.objects.create(user=admin, name="default", confirmed=True)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, admin)
    links = page.locator("#navigazione .nav-link")
    boxes = [links.nth(i).bounding_box() for i in range(links.count())]
    container = page.locator("#navigazione").bounding_box()
    assert len(boxes) == len(NAV[Membership.Role.ADMIN])
    assert len({round(box["y"]) for box in boxes}) == 1, boxes  # one row
    assert len({round(box["height"]) for box in boxes}) == 1, boxes  # no label wraps
    assert boxes[-1]["x"] + boxes[-1]["width"] <= container["x"] + container["width"]


def test_superuser_pages_are_accessible(page, sign_in, axe_check, organization):
    root = builders.user(superuser=True, username="root")
    TOTPDevice.objects.create(user=root, name="default", confirmed=True)
    sign_in(page, root)
    page.goto("/account/enti/")
    axe_check(page, "organizations")
    page.goto("/account/enti/nuovo/")
    axe_check(page, "organization-new")
    page.goto(f"/account/enti/{organization.public_id}/")
    axe_check(page, "organization-edit")
    page.goto(f"/account/enti/{organization.public_id}/invita/")
    axe_check(page, "organization-admin-invite")


def test_invitation_link_page_is_accessible(page, axe_check, organization, console_errors):
    person = builders.user(username="invitata")
    person.set_unusable_password()
    person.save()
    Invitation.objects.create(
        organization=organization,
        user=person,
        email="invitata@esempio.invalid",
        role=Membership.Role.OPERATOR,
        token_digest=Invitation.digest("a" * 43),
        expires_at=timezone.now() + timedelta(days=1),
    )
    page.goto("/account/invito/" + "a" * 43 + "/")
    axe_check(page, "invitation-set-password")
    page.goto("/account/invito/" + "b" * 43 + "/")
    axe_check(page, "invitation-invalid")
    # The unknown link is a 404 on purpose: that status is the only error the browser reports.
    assert len(console_errors) == 1 and "404" in console_errors[0], console_errors
    console_errors.clear()


def test_second_factor_enrolment_is_accessible(page, axe_check, organization):
    user = builders.user(Membership.Role.SUPERVISOR, organization, username="nuovo")
    page.goto("/account/accesso/")
    page.get_by_label("Nome utente").fill(user.username)
    page.get_by_label("Password").fill("Una-password-lunga-2026")
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_url("**/verifica/configura/**")
    axe_check(page, "otp-setup")


def test_language_switch_to_english_and_back(page, sign_in, organization):
    user = builders.user(Membership.Role.OPERATOR, organization, username="lingua")
    sign_in(page, user)
    page.get_by_role("button", name="EN").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Dashboard" in nav_labels(page)
    page.get_by_role("button", name="IT").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "it"
    assert "Scrivania" in nav_labels(page)


def test_organization_switcher(page, sign_in, organization, other_organization):
    user = builders.user(Membership.Role.OPERATOR, organization, username="doppio")
    Membership.objects.create(
        user=user, organization=other_organization, role=Membership.Role.OPERATOR
    )
    sign_in(page, user)
    page.get_by_label("Ente").select_option(label=other_organization.name)
    page.get_by_role("button", name="Cambia").click()
    page.wait_for_load_state()
    assert other_organization.name in page.locator("main").inner_text()


def test_enrolment_with_recovery_codes_is_accessible(page, axe_check, organization):
    user = builders.user(Membership.Role.ADMIN, organization, username="nuova")
    page.goto("/account/accesso/")
    page.get_by_label("Nome utente").fill(user.username)
    page.get_by_label("Password").fill("Una-password-lunga-2026")
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_url("**/verifica/configura/**")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    page.get_by_label("Codice a 6 cifre").fill(f"{code:06d}")
    page.get_by_role("button", name="Conferma").click()
    page.wait_for_url("**/sicurezza/codici/**")
    assert page.get_by_test_id("otp-recovery-codes").locator("li").count() == 10
    axe_check(page, "otp-recovery-codes")
    page.get_by_role("button", name="Ho salvato i codici").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith(("Buongiorno", "Buonasera"))
    page.goto("/account/sicurezza/")
    assert "Ti restano 10 codici di recupero" in page.get_by_test_id("otp-codes-left").inner_text()
    axe_check(page, "otp-account")
    page.goto("/account/verifica/codice-di-recupero/")
    axe_check(page, "otp-recovery")
