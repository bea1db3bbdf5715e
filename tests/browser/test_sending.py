"""A Premium dispatch in a real browser: a supervisor finds it in the list, reads its
outcomes (read, paid, opened), resolves an uncertain delivery and pauses it; the list and the
detail page pass the accessibility check."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.models import Membership
from ioportal.messaging.models import Delivery, FeatureLevel
from ioportal.sending import outcomes
from tests import builders
from tests.sending.support import fiscal_codes, simulated_service

pytestmark = pytest.mark.browser


def test_supervisor_reads_and_steers_a_premium_dispatch(page, sign_in, axe_check, organization):
    supervisor = builders.user(Membership.Role.SUPERVISOR, organization, username="sara")
    TOTPDevice.objects.create(user=supervisor, name="default", confirmed=True)
    service = builders.service(organization, **simulated_service("http://127.0.0.1:9/api/v1"))
    dispatch = builders.dispatch(
        service, supervisor, fiscal_codes(5), feature_level=FeatureLevel.ADVANCED
    )
    rows = list(Delivery.objects.filter(dispatch=dispatch).order_by("row_number"))
    ids = iter(f"01JABCDEFGHJKMNPQRSTVWXYZ{n}" for n in range(1, 10))
    for delivery, values in zip(
        rows,
        [
            {"state": "processed", "read_status": "READ", "payment_status": "PAID"},
            {"state": "processed", "read_status": "UNREAD", "payment_status": "NOT_PAID"},
            {"state": "uncertain", "last_error_code": outcomes.AMBIGUOUS},
            {"state": "uncertain", "last_error_code": outcomes.LEASE_EXPIRED},
            {"state": "skipped", "skip_reason": outcomes.NOT_ON_IO},
        ],
        strict=True,
    ):
        if values["state"] == "processed":
            values["io_message_id"] = next(ids)
        Delivery.objects.filter(pk=delivery.pk).update(**values)

    sign_in(page, supervisor)
    page.get_by_role("link", name="Invii").first.click()
    page.wait_for_load_state()
    axe_check(page, "sending-list")
    page.get_by_role("link", name=dispatch.title).click()
    page.wait_for_load_state()
    body = page.content()
    assert "Letti: 1 su 2 messaggi Premium di cui IO sa se sono stati letti (50%)" in body
    assert page.locator('[data-outcome="unreachable"]').inner_text() == "1 (20%)"
    assert page.locator('[data-outcome="uncertain"]').inner_text() == "2 (40%)"
    axe_check(page, "sending-detail-premium")

    # Mark one uncertain delivery as sent.
    uncertain = rows[2]
    # Each checkbox is named by the citizen's row and masked code; two citizens may share it.
    page.locator(f"#u-{uncertain.public_id}").check()
    page.get_by_role("button", name="Segna come inviati").click()
    page.wait_for_load_state()
    # A page names it and asks for a tick.
    axe_check(page, "sending-mark-sent-confirm")
    page.get_by_label("Ho verificato che i cittadini scelti hanno ricevuto il messaggio").check(
        force=True
    )
    page.get_by_role("button", name="Segna come inviati").click()
    page.wait_for_load_state()
    uncertain.refresh_from_db()
    assert uncertain.state == "marked_sent"
    # A person's statement, not IO's confirmation: counted apart from the delivered.
    assert page.locator('[data-outcome="delivered"]').inner_text() == "2 (40%)"
    assert page.locator('[data-outcome="marked_sent"]').inner_text() == "1 (20%)"
    assert Delivery.objects.filter(dispatch=dispatch, state="uncertain").count() == 1
    # Sending it again needs the explicit confirmation.
    page.locator(f"#u-{rows[3].public_id}").check()
    page.get_by_role("button", name="Invia di nuovo").click()
    page.wait_for_load_state()
    assert Delivery.objects.get(pk=rows[3].pk).state == "uncertain"
    axe_check(page, "sending-detail-resend-refused")

    page.get_by_role("button", name="Sospendi").click()
    page.wait_for_load_state()
    dispatch.refresh_from_db()
    assert dispatch.state == "paused"
    assert page.get_by_role("button", name="Riprendi").is_visible()
