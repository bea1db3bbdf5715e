"""The audit log in a browser: changes in words, an Italian date filter and its error message
pass axe-core."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts import services as accounts
from ioportal.accounts.models import Membership
from tests import builders

pytestmark = pytest.mark.browser


def test_audit_log_in_words_with_italian_dates(page, sign_in, axe_check, organization):
    admin = builders.user(Membership.Role.ADMIN, organization, username="capo")
    TOTPDevice.objects.create(user=admin, name="default", confirmed=True)
    person = builders.user(Membership.Role.OPERATOR, organization, username="collega")
    accounts.membership_update(
        membership=Membership.objects.get(user=person),
        actor=admin,
        role=Membership.Role.SUPERVISOR,
    )
    sign_in(page, admin)
    page.goto("/registro/")
    assert "Ruolo: da Operatore a Supervisore" in page.locator(".audit-changes").first.inner_text()
    page.fill("#f-from", "31/02/2026")
    page.get_by_role("button", name="Filtra").click()
    alert = page.locator(".alert-danger")
    assert "gg/mm/aaaa" in alert.inner_text()
    assert page.locator("#f-from").get_attribute("aria-invalid") == "true"
    axe_check(page, "audit-bad-date")
    page.fill("#f-from", "01/01/2020")
    page.get_by_role("button", name="Filtra").click()
    assert page.locator("#f-from").input_value() == "01/01/2020"
    assert page.locator(".alert-danger").count() == 0
    assert "da Operatore a Supervisore" in page.locator("table").inner_text()
