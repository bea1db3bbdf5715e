"""Supervision in a real browser: the history filtered and searched by fiscal code, a
running dispatch whose bar and counts change without a reload, and a delivery page with its
IO calls and the audited "mostra"; every page passes the accessibility check."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.models import Membership
from ioportal.core.models import AuditEvent
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.sending.models import ApiCall
from tests import builders
from tests.sending.support import fiscal_codes, simulated_service

pytestmark = pytest.mark.browser

CODES = fiscal_codes(6)


def test_supervisor_follows_a_dispatch_live_and_finds_a_citizen(
    page, sign_in, axe_check, organization
):
    supervisor = builders.user(Membership.Role.SUPERVISOR, organization, username="sara")
    TOTPDevice.objects.create(user=supervisor, name="default", confirmed=True)
    author = builders.user(Membership.Role.OPERATOR, organization, username="otto")
    service = builders.service(organization, **simulated_service("http://127.0.0.1:9/api/v1"))
    running = builders.dispatch(service, author, CODES)
    done = builders.dispatch(service, author, CODES[:2], state=Dispatch.State.COMPLETED)
    Dispatch.objects.filter(pk=done.pk).update(title="Carta d'identità in scadenza")

    sign_in(page, supervisor)
    page.goto("/invii/")
    axe_check(page, "history")
    assert page.locator("#history-rows tr").count() == 2
    page.get_by_label("Titolo contiene").fill("carta")
    page.get_by_role("button", name="Filtra").click()
    page.wait_for_load_state()
    assert page.locator("#history-rows tr").count() == 1
    assert "Carta d'identità in scadenza" in page.locator("#history-rows").inner_text()
    axe_check(page, "history-filtered")

    # The running dispatch: its counts and bar change while the page stays the same.
    page.goto(f"/invii/{running.public_id}/")
    axe_check(page, "dispatch-running")
    page.evaluate("() => { window.stillTheSamePage = true; }")
    delivered = page.locator('[data-outcome="delivered"]')
    assert delivered.inner_text() == "0 (0%)"
    assert page.locator("svg.outcome-bar rect.outcome-delivered").count() == 0
    rows = list(Delivery.objects.filter(dispatch=running).order_by("row_number"))
    for number, delivery in enumerate(rows[:3], start=1):
        Delivery.objects.filter(pk=delivery.pk).update(
            state="processed", io_message_id=f"01JL1VE0000000000000000000{number}"
        )
    Delivery.objects.filter(pk=rows[3].pk).update(state="skipped", skip_reason="not_on_io")
    page.wait_for_function(
        "() => document.querySelector('[data-outcome=\"delivered\"]').textContent.trim()"
        " === '3 (50%)'",
        timeout=15_000,
    )
    assert page.evaluate("() => window.stillTheSamePage === true")
    assert page.locator("svg.outcome-bar rect.outcome-delivered").count() == 1
    # The outcome bar is as wide as the progress bar above it: equal shares look equal.
    bar = page.locator("svg.outcome-bar").first.bounding_box()
    progress = page.locator("#progress-bar").bounding_box()
    assert bar and progress and abs(bar["width"] - progress["width"]) < 1
    assert "Il cittadino non usa l'app IO" in page.locator("#unreachable-reasons").inner_text()
    axe_check(page, "dispatch-live")

    # A delivery page with its IO calls; "mostra" shows the code and leaves a trace.
    first = rows[0]
    ApiCall.objects.create(
        organization=organization,
        service=service,
        delivery=first,
        operation="submit_message",
        status_code=201,
        duration_ms=85,
        outcome="ok",
    )
    page.get_by_role("link", name=first.fiscal_code_masked).click()
    page.wait_for_load_state()
    calls = page.locator("#api-calls").inner_text()
    assert "Invio del messaggio" in calls and "201" in calls and "85 ms" in calls
    assert CODES[0] not in page.content()
    axe_check(page, "delivery")
    page.get_by_role("button", name="mostra").click()
    page.wait_for_load_state()
    assert CODES[0] in page.locator("#fiscal-code").inner_text()
    assert AuditEvent.objects.filter(action="delivery.fiscal_code_shown").count() == 1

    # Search by fiscal code from the history: both dispatches of the citizen.
    page.goto("/invii/")
    page.get_by_role("link", name="Cerca un cittadino per codice fiscale").click()
    page.get_by_label("Codice fiscale").fill(CODES[1])
    page.get_by_role("button", name="Cerca").click()
    page.wait_for_load_state()
    assert page.locator("#search-results tbody tr").count() == 2
    assert CODES[1] not in page.url  # the code was posted, the results' URL holds a reference
    axe_check(page, "search")
    page.locator("#search-results a").first.click()
    page.wait_for_load_state()
    assert page.locator("#delivery-facts").is_visible()
