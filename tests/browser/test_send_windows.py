"""The send windows page in a real browser: an admin applies the preset, saves, fixes an
error; every state of the page passes the accessibility check (axe-core)."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.models import Membership
from ioportal.core.models import AuditEvent
from ioportal.sending.audit import Action
from ioportal.sending.models import SendWindowPolicy
from tests import builders

pytestmark = pytest.mark.browser


def test_admin_sets_the_send_windows(page, sign_in, axe_check, organization):
    admin = builders.user(Membership.Role.ADMIN, organization, username="capo")
    TOTPDevice.objects.create(user=admin, name="default", confirmed=True)
    sign_in(page, admin)

    page.get_by_role("link", name="Impostazioni ente").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Finestre di invio").click()
    page.wait_for_load_state()
    assert "i messaggi partono subito" in page.content()
    axe_check(page, "send-windows")

    page.get_by_role("button", name="Usa il modello").click()
    page.wait_for_load_state()
    assert page.get_by_label("Solo nei giorni e negli orari indicati qui sotto").is_checked()
    assert page.get_by_label("Sabato", exact=True).is_checked()
    assert not page.get_by_label("Domenica", exact=True).is_checked()
    assert page.get_by_label("Dalle, lunedì", exact=True).input_value() == "08:00"
    assert not SendWindowPolicy.objects.exists()
    axe_check(page, "send-windows-preset")

    # Sunday morning too, but ending before it starts: refused, with the reason by the row.
    page.get_by_label("Domenica", exact=True).check(force=True)
    page.get_by_label("Dalle, domenica", exact=True).fill("12:00")
    page.get_by_label("Alle, domenica", exact=True).fill("09:00")
    page.get_by_role("button", name="Salva", exact=True).click()
    page.wait_for_load_state()
    assert "Per domenica l'ora di fine deve venire dopo quella di inizio" in page.inner_text("main")
    assert page.get_by_label("Alle, domenica", exact=True).get_attribute("aria-invalid") == "true"
    axe_check(page, "send-windows-errors")

    page.get_by_label("Alle, domenica", exact=True).fill("13:00")
    page.get_by_role("button", name="Salva", exact=True).click()
    page.wait_for_load_state()
    assert "Finestre di invio salvate." in page.content()
    policy = SendWindowPolicy.objects.get(organization=organization)
    assert policy.enabled and policy.hours["6"] == ["12:00", "13:00"]
    assert AuditEvent.objects.filter(action=Action.SEND_WINDOWS_CHANGED).count() == 1
    assert "La finestra è" in page.inner_text("#stato-finestra")
    axe_check(page, "send-windows-saved")
