"""Reachability pages in a real browser: upload a list, the check's page, the list of checks;
each passes the automated accessibility check without console errors."""

from pathlib import Path

import pytest

from ioportal.accounts.models import Membership
from ioportal.reachability.models import ReachabilityCheck
from tests import builders
from tests.sending.support import fiscal_code, simulated_service

pytestmark = pytest.mark.browser


def test_operator_starts_a_check_and_reads_its_page(
    page, sign_in, axe_check, organization, tmp_path: Path, monkeypatch
) -> None:
    # No worker runs here: the check stays queued and its page keeps polling.
    monkeypatch.setattr("ioportal.reachability.services.async_task", lambda *a, **k: None)
    service = builders.service(organization, **simulated_service(""))
    operator = builders.user(Membership.Role.OPERATOR, organization, username="sportello")
    sign_in(page, operator)
    page.get_by_role("link", name="Raggiungibilità").click()
    axe_check(page, "reachability-list")
    page.get_by_role("link", name="Nuova verifica").click()
    axe_check(page, "reachability-new")
    listing = tmp_path / "elenco.csv"
    listing.write_text(
        f"codice_fiscale\n{fiscal_code('RSSMRA80A01H501')}\nRSSMRA80A01H501X\n", encoding="utf-8"
    )
    page.get_by_label("Servizio IO").select_option(label=str(service))
    page.get_by_label("File dei cittadini (CSV o Excel .xlsx)").set_input_files(str(listing))
    page.get_by_role("button", name="Avvia la verifica").click()
    page.wait_for_load_state()
    check = ReachabilityCheck.objects.get()
    assert page.url.endswith(f"/verifiche/{check.public_id}/")
    assert page.locator("#check-summary").inner_text().startswith("0 di 1")
    assert "1 riga scartata" in page.locator("h2", has_text="scartata").inner_text()
    axe_check(page, "reachability-detail")
    # The progress block is replaced by htmx without errors.
    with page.expect_response(lambda r: "/avanzamento/" in r.url):
        pass
    assert page.locator("#check-progress").count() == 1
