"""The first run, as a new user meets it: a fresh `seed_demo`, the portal under gunicorn with
its shipped configuration (as `make run` serves it) and the IO simulator configured by the
seed. An operator sends the Premium template to the sample list with the sample PDF; the
simulator's citizen opens the message and downloads the PDF; "Letti" and "Aperti" move on
the dispatch page. No page logs a browser error."""

import io
import json
from pathlib import Path

import pytest
import requests
from django.core.management import call_command

from ioportal.accounts.models import Organization
from ioportal.core.fiscalcode import fiscal_code_hmac
from ioportal.fakeio.config import parse_config
from ioportal.fakeio.server import make_server
from ioportal.ioservices.models import IOService
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.sending.runner import run_account_worker
from tests.browser.conftest import new_page
from tests.processes import ROOT, free_port, start_gunicorn, stop_process, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

EXAMPLES = ROOT / "docs" / "examples"
CITIZEN = "RSSMRA80A01H501U"  # reachable, opens what they receive
PREMIUM_TEMPLATE = "Accertamento IMU (Premium, con PDF)"


@pytest.fixture
def demo(transactional_db, tmp_path: Path, settings, monkeypatch):  # type: ignore[no-untyped-def]
    """Seed, simulator and gunicorn on free ports; yields (portal URL, simulator URL, creds)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SENDING_LIMITER = "db"
    settings.SENDING_POLL_INTERVALS = [1]
    settings.SENDING_PREMIUM_POLL_SECONDS = 1
    settings.SENDING_AUTOPAUSE_MIN = 1000
    monkeypatch.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
    portal_port, fakeio_port = free_port(), free_port()
    portal_url, fakeio_url = f"http://127.0.0.1:{portal_port}", f"http://127.0.0.1:{fakeio_port}"
    config_file = tmp_path / "fakeio.json"
    call_command(
        "seed_demo",
        "--portal-url",
        portal_url,
        "--fakeio-url",
        fakeio_url,
        "--credentials-file",
        str(tmp_path / "credentials.json"),
        "--fakeio-config",
        str(config_file),
        stdout=io.StringIO(),
    )
    config = json.loads(config_file.read_text())
    # Quick final statuses; a message is READ only when the citizen opens it.
    config.update({"status_delay": 0.2, "slow_status_delay": 1, "read_delay": 3600})
    simulator = make_server(parse_config(config), port=fakeio_port).start()
    portal = start_gunicorn(portal_port, MEDIA_ROOT=settings.MEDIA_ROOT)
    try:
        yield portal_url, fakeio_url, json.loads((tmp_path / "credentials.json").read_text())
    finally:
        stop_process(portal)
        simulator.stop()


def work(organization: Organization) -> None:
    """What the django-q2 worker does after a launch or on schedule, run here."""
    run_account_worker(organization_id=organization.pk, budget=2)


def test_first_run_sends_a_premium_notice_that_the_citizen_opens(
    demo, browser, console_errors, tmp_path
):
    portal_url, fakeio_url, credentials = demo
    organization = Organization.objects.get(fiscal_code="80001230582")
    production = IOService.objects.get(organization=organization, test_mode=False)
    page = new_page(browser, portal_url, console_errors)

    page.goto("/account/accesso/")
    page.get_by_label("Nome utente").fill("operatore")
    page.get_by_label("Password").fill(credentials["operatore"])
    page.get_by_role("button", name="Accedi").click()
    page.wait_for_load_state()
    # The dashboard and the history are not empty on the first run.
    assert "Accertamento IMU – primo invio" in page.locator("#operator-recent").inner_text()
    page.get_by_role("link", name="Invii").first.click()
    page.wait_for_load_state()
    assert "TARI 2026 – saldo" in page.content()
    page.get_by_role("link", name="Accertamento IMU – primo invio").click()
    page.wait_for_load_state()
    summary = page.locator("#premium-summary").inner_text()
    assert "Letti: 5 su " in summary and "Aperti: 5" in summary

    page.get_by_role("link", name="Nuovo messaggio").first.click()
    page.wait_for_load_state()
    page.get_by_label("Modello").select_option(label=f"{PREMIUM_TEMPLATE} (v1)")
    page.get_by_label("Servizio IO").select_option(label=str(production))
    page.get_by_label("File dei destinatari (CSV o Excel .xlsx)").set_input_files(
        str(EXAMPLES / "accertamento-imu.csv")
    )
    page.get_by_label(
        "Allegato PDF per tutti i destinatari (facoltativo, solo Premium)"
    ).set_input_files(str(EXAMPLES / "accertamento-imu.pdf"))
    page.get_by_role("button", name="Carica e prosegui").click()
    page.wait_for_load_state()
    # Columns are recognised by their names.
    page.get_by_role("button", name="Controlla tutte le righe").click()
    page.wait_for_load_state()
    assert page.locator("#valid-count").inner_text() == "10"
    assert page.locator("#rejected-count").inner_text() == "2"
    page.get_by_role("link", name="Anteprima e prova").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="Prosegui alla conferma").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Invia a 10 cittadini").click()
    page.wait_for_load_state()
    dispatch = Dispatch.objects.filter(template__name=PREMIUM_TEMPLATE).latest("created_at")

    def settled() -> bool:
        work(organization)
        return not dispatch.deliveries.exclude(state__in=Delivery.FINAL).exists()

    assert wait_until(settled, timeout=90), list(dispatch.deliveries.values("state"))
    states = list(dispatch.deliveries.values_list("state", flat=True))
    assert states.count("processed") == 8 and states.count("skipped") == 2
    page.goto(f"/invii/{dispatch.public_id}/")
    summary = page.locator("#premium-summary").inner_text()
    assert "Letti: 0" in summary and "Aperti: 0" in summary

    # The citizen opens the message in the app: the simulator calls the portal as IO does.
    delivery = dispatch.deliveries.get(fiscal_code_hmac=fiscal_code_hmac(CITIZEN))
    opened = requests.post(
        f"{fakeio_url}/__fakeio__/messages/{delivery.io_message_id}/open", timeout=30
    )
    assert opened.status_code == 200, opened.text
    result = opened.json()
    assert result["status"] == 200, result
    (attachment,) = result["attachments"]
    assert attachment["name"] == "accertamento-imu.pdf"
    assert attachment["status"] == 200 and attachment["starts_with_pdf"]

    def read() -> bool:
        work(organization)
        delivery.refresh_from_db()
        return delivery.read_status == "READ"

    assert wait_until(read, timeout=30)
    page.goto(f"/invii/{dispatch.public_id}/")
    summary = page.locator("#premium-summary").inner_text()
    assert "Letti: 1" in summary and "Aperti: 1" in summary
    assert "Con allegati scaricati: 1" in summary
    page.context.close()
    assert not console_errors, "the browser logged errors:\n" + "\n".join(console_errors)
