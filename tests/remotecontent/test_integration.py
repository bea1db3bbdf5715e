"""Over real HTTP: gunicorn with the shipped config keeps the `fiscal_code` header, and the
IO simulator's "citizen opens the message" action gets each citizen exactly their files.

gunicorn runs as a separate process sharing the test database (hence transactional tests)
and MEDIA_ROOT.
"""

import hashlib
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ioportal.core.fiscalcode import fiscal_code_hmac
from ioportal.fakeio.config import parse_config
from ioportal.fakeio.server import make_server
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.messaging.services import template_create
from ioportal.recipients.models import RecipientList
from ioportal.remotecontent.models import RemoteContentAccess
from ioportal.remotecontent.selectors import delivery_access_summary
from ioportal.remotecontent.services import rc_configuration_create, third_party_data_for
from ioportal.sending.sweeper import sweep
from tests import builders
from tests.processes import ROOT, free_port, process_env, wait_until
from tests.remotecontent.conftest import (
    CITIZEN,
    CONFIGURATION_ID,
    HEADER,
    OTHER_CITIZEN,
    make_pdf,
)
from tests.remotecontent.test_compose_attachments import zip_of
from tests.sending.support import fiscal_code, simulated_service, simulator_config

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FAKEIO_KEY = "alpha-prod-primary"


@pytest.fixture
def gunicorn(media_root: Any) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py", "ioportal.wsgi"],
        cwd=ROOT,
        env=process_env(
            GUNICORN_BIND=f"127.0.0.1:{port}",
            GUNICORN_WORKERS="1",
            GUNICORN_THREADS="2",
            MEDIA_ROOT=str(media_root),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/io/remote-content/x/messages/y", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.stdout else ""
                    pytest.fail(f"gunicorn did not start:\n{output}")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


@pytest.fixture
def premium_deliveries(
    make_delivery: Callable[..., Delivery], add_attachment: Callable[..., Any], rc: Any
) -> dict[str, Any]:
    """Two citizens of one Premium dispatch: one shared file and one file each."""
    first = make_delivery(CITIZEN)
    second = make_delivery(OTHER_CITIZEN)
    files = {
        "shared": make_pdf(pages=1, pdfa=True),
        CITIZEN: make_pdf(pages=2, pdfa=True),
        OTHER_CITIZEN: make_pdf(pages=3, pdfa=True),
    }
    add_attachment(dispatch=first.dispatch, name="informativa.pdf", data=files["shared"])
    add_attachment(delivery=first, name="avviso-rossi.pdf", data=files[CITIZEN])
    add_attachment(delivery=second, name="avviso-verdi.pdf", data=files[OTHER_CITIZEN])
    return {"deliveries": {CITIZEN: first, OTHER_CITIZEN: second}, "files": files, "rc": rc}


def test_gunicorn_keeps_the_fiscal_code_header(gunicorn, premium_deliveries):
    delivery = premium_deliveries["deliveries"][CITIZEN]
    url = f"{gunicorn}/io/remote-content/{CONFIGURATION_ID}/messages/{delivery.public_id}"
    key = premium_deliveries["rc"].key
    # requests sends the header name as written, underscore included, as IO does.
    response = requests.get(url, headers={"fiscal_code": CITIZEN, HEADER: key}, timeout=10)
    assert response.status_code == 200, response.text
    names = [item["name"] for item in response.json()["attachments"]]
    assert names == ["informativa.pdf", "avviso-rossi.pdf"]
    # Without the header (what a proxy that drops it would produce), the answer is a 400.
    response = requests.get(url, headers={HEADER: key}, timeout=10)
    assert response.status_code == 400


def test_django_dev_server_drops_the_header(live_server, premium_deliveries):
    """Why the deployment needs gunicorn's header_map: Django's own server (runserver and
    live_server) strips headers with underscores (CVE-2015-0219)."""
    delivery = premium_deliveries["deliveries"][CITIZEN]
    url = f"{live_server.url}/io/remote-content/{CONFIGURATION_ID}/messages/{delivery.public_id}"
    headers = {"fiscal_code": CITIZEN, HEADER: premium_deliveries["rc"].key}
    assert requests.get(url, headers=headers, timeout=10).status_code == 400


def fakeio_config(base_url: str, key: str) -> dict[str, Any]:
    return {
        "status_delay": 0,
        "read_delay": 3600,
        "seed": 1,
        "accounts": [
            {
                "name": "alpha",
                "rate_limit": 0,
                "rc_configurations": [
                    {
                        "configuration_id": CONFIGURATION_ID,
                        "base_url": base_url,
                        "header_key_name": HEADER,
                        "key": key,
                    }
                ],
                "services": [
                    {
                        "service_id": "SRV-ALPHA-PROD",
                        "name": "Tributi",
                        "primary_key": FAKEIO_KEY,
                        "secondary_key": "alpha-prod-secondary",
                        "premium": True,
                    }
                ],
            }
        ],
    }


def test_simulator_opens_each_message_through_gunicorn(gunicorn, premium_deliveries):
    rc = premium_deliveries["rc"]
    files = premium_deliveries["files"]
    base_url = f"{gunicorn}/io/remote-content/{CONFIGURATION_ID}"
    server = make_server(parse_config(fakeio_config(base_url, rc.key))).start()
    try:
        io_ids = {}
        for code, delivery in premium_deliveries["deliveries"].items():
            body = {
                "fiscal_code": code,
                "feature_level_type": "ADVANCED",
                "content": {
                    "subject": "Avviso di pagamento TARI",
                    "markdown": "Gentile cittadino, " + "trova in allegato il suo avviso. " * 4,
                    "third_party_data": third_party_data_for(delivery),
                },
            }
            response = requests.post(
                f"{server.url}/api/v1/messages",
                json=body,
                headers={"Ocp-Apim-Subscription-Key": FAKEIO_KEY},
                timeout=10,
            )
            assert response.status_code == 201, response.text
            io_ids[code] = response.json()["id"]

        def open_message(code: str, **options: str) -> dict[str, Any]:
            response = requests.post(
                f"{server.url}/__fakeio__/messages/{io_ids[code]}/open", json=options, timeout=30
            )
            assert response.status_code == 200, response.text
            return response.json()

        for code, own in ((CITIZEN, files[CITIZEN]), (OTHER_CITIZEN, files[OTHER_CITIZEN])):
            result = open_message(code)
            assert result["status"] == 200 and result["error"] is None
            got = sorted(item["sha256"] for item in result["attachments"])
            expected = sorted(hashlib.sha256(data).hexdigest() for data in (files["shared"], own))
            assert got == expected  # exactly their own files, and nobody else's
            assert all(item["status"] == 200 for item in result["attachments"])

        # A wrong fiscal code or a wrong key gets nothing.
        wrong_cf = open_message(CITIZEN, fiscal_code=OTHER_CITIZEN)
        assert wrong_cf["status"] == 404 and wrong_cf["attachments"] == []
        wrong_key = open_message(CITIZEN, key="not-the-key")
        assert wrong_key["status"] == 401 and wrong_key["attachments"] == []

        # Opening makes IO report the message as read.
        entries = requests.get(f"{server.url}/__fakeio__/messages", timeout=5).json()
        assert {entry["read_status"] for entry in entries} == {"READ"}
    finally:
        server.stop()

    first = premium_deliveries["deliveries"][CITIZEN]
    summary = delivery_access_summary(delivery=first)
    assert summary["opened"] and summary["open_count"] == 1
    assert sorted(d["name"] for d in summary["downloads"]) == [
        "avviso-rossi.pdf",
        "informativa.pdf",
    ]
    assert summary["refused"] == 1
    refused = RemoteContentAccess.objects.filter(configuration=rc.configuration)
    assert refused.filter(outcome="unauthorized").count() == 1


# -- end to end: compose → qcluster → simulator → citizen opens through gunicorn → status ----

E2E_CSV_HEADER = "Codice fiscale;Nome;Allegato;Importo;Codice avviso\n"
PAID = "012345678901234568"  # the simulator's citizen pays notices ending with an even digit
PAID_TOO = "012345678901234566"  # a notice goes to one citizen only
UNPAID = "012345678901234567"


def test_premium_dispatch_end_to_end(
    gunicorn,
    clusters,
    client,
    login,
    organization,
    operator_user,
    admin_user,
    media_root,
    monkeypatch,
):
    """A Premium dispatch with a shared PDF and one PDF per citizen, composed through the
    pages, prepared and sent by real workers to the simulator; the simulator's citizens open
    their messages, which makes IO call the portal's remote-content server through gunicorn;
    the status refresh brings READ and PAID back to the dispatch page."""
    # The launch hands the list to the workers' preparation task, as for a big list.
    monkeypatch.setattr("ioportal.messaging.services.dispatches.PREPARE_INLINE_MAX", 0)
    # The simulator's citizens whose name part is NNN never read a message unless they open it.
    citizens = {
        name: fiscal_code(first15)
        for name, first15 in (
            ("anna", "RSSNNN80A41H501"),
            ("bruno", "VRDNNN75C15F205"),
            ("carla", "BNCNNN85T50A562"),
        )
    }
    notices = {"anna": PAID, "bruno": UNPAID, "carla": PAID_TOO}
    # Files told apart by their page count.
    own_files = {
        name: make_pdf(pages=pages, pdfa=True)
        for name, pages in (("anna", 2), ("bruno", 3), ("carla", 4))
    }
    shared_file = make_pdf(pages=1, pdfa=True)

    # IO's side: the account, the Premium service, the remote-content configuration.
    configuration, rc_key = rc_configuration_create(
        organization=organization,
        configuration_id=CONFIGURATION_ID,
        name="Tributi",
        header_name=HEADER,
        actor=admin_user,
    )
    config = simulator_config(organization, rate_limit=0, status_delay=0.3, read_delay=1)
    config["accounts"][0]["rc_configurations"] = [
        {
            "configuration_id": CONFIGURATION_ID,
            "base_url": f"{gunicorn}/io/remote-content/{CONFIGURATION_ID}",
            "header_key_name": HEADER,
            "key": rc_key,
        }
    ]
    server = make_server(parse_config(config)).start()
    try:
        service = builders.service(
            organization,
            **simulated_service(
                server.url + "/api/v1", remote_content_configuration_id=CONFIGURATION_ID
            ),
        )
        template = template_create(
            organization=organization,
            actor=operator_user,
            name="TARI Premium",
            subject="Avviso di pagamento TARI 2026",
            markdown=(
                "Gentile {{ nome }},\n\nin allegato trova l'avviso TARI 2026 e l'informativa "
                "sul calcolo della tariffa. Può pagare direttamente dall'app IO."
            ),
            placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
            feature_level=FeatureLevel.ADVANCED,
            has_payment=True,
        )

        # The operator composes: recipient list with a file column, the ZIP, a shared PDF.
        login(operator_user)
        bundle = {f"{name}.pdf": data for name, data in own_files.items()}
        rows = "".join(
            f"{citizens[name]};{name.title()};{name}.pdf;125,00;{notices[name]}\n"
            for name in citizens
        )
        response = client.post(
            reverse("messaging:compose"),
            {
                "template": template.pk,
                "service": service.pk,
                "file": SimpleUploadedFile("tari.csv", (E2E_CSV_HEADER + rows).encode()),
                "shared_pdf": SimpleUploadedFile("informativa.pdf", shared_file),
                "attachments_zip": SimpleUploadedFile("allegati.zip", zip_of(bundle)),
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        recipient_list = RecipientList.objects.get()
        response = client.post(
            reverse("messaging:list_mapping", args=[recipient_list.public_id]),
            {
                "map_fiscal_code": "Codice fiscale",
                "map_nome": "Nome",
                "map_attachment": "Allegato",
                "map_amount": "Importo",
                "map_notice_number": "Codice avviso",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        recipient_list.refresh_from_db()
        assert (recipient_list.valid_count, recipient_list.rejected_count) == (3, 0)
        response = client.post(
            reverse("messaging:list_confirm", args=[recipient_list.public_id]),
            {"when": "now", "launch_token": str(recipient_list.launch_token)},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        dispatch = Dispatch.objects.get(kind=Dispatch.Kind.LIST)
        assert dispatch.state == Dispatch.State.PREPARING and not dispatch.deliveries.exists()

        # Real workers prepare it (the launch enqueued the task), then send it.
        clusters.start()
        deliveries = Delivery.objects.filter(dispatch=dispatch)
        sent = wait_until(
            lambda: deliveries.filter(state="processed").count() == 3, timeout=90, tick=sweep
        )
        assert sent, f"{list(deliveries.values_list('state', flat=True))}\n{clusters.logs()}"
        io_ids = {
            name: deliveries.get(fiscal_code_hmac=fiscal_code_hmac(code)).io_message_id
            for name, code in citizens.items()
        }
        stored = requests.get(f"{server.url}/__fakeio__/messages", timeout=5).json()
        assert {entry["message"]["feature_level_type"] for entry in stored} == {"ADVANCED"}
        for entry in stored:
            content = entry["content"]
            assert content["third_party_data"]["configuration_id"] == CONFIGURATION_ID
            assert content["third_party_data"]["has_attachments"] is True
            assert content["payment_data"]["amount"] == 12500  # 125,00 euro, sent in cents

        def open_message(name: str, **options: str) -> dict[str, Any]:
            response = requests.post(
                f"{server.url}/__fakeio__/messages/{io_ids[name]}/open", json=options, timeout=30
            )
            assert response.status_code == 200, response.text
            return response.json()

        # Anna and Bruno open their message: each gets the shared file and their own only.
        for name in ("anna", "bruno"):
            result = open_message(name)
            assert result["status"] == 200 and result["error"] is None, result
            assert all(item["status"] == 200 for item in result["attachments"])
            got = sorted(item["sha256"] for item in result["attachments"])
            want = sorted(sha256(data) for data in (shared_file, own_files[name]))
            assert got == want
        # Someone else's fiscal code, or a wrong key, gets nothing.
        wrong_cf = open_message("anna", fiscal_code=citizens["bruno"])
        assert wrong_cf["status"] == 404 and wrong_cf["attachments"] == []
        wrong_key = open_message("carla", key="not-the-key")
        assert wrong_key["status"] == 401 and wrong_key["attachments"] == []

        # The status refresh brings read and payment status back.
        def settled() -> bool:
            status = {
                d.fiscal_code_hmac: (d.read_status, d.payment_status) for d in deliveries.all()
            }
            return status == {
                fiscal_code_hmac(citizens["anna"]): ("READ", "PAID"),
                fiscal_code_hmac(citizens["bruno"]): ("READ", "NOT_PAID"),
                fiscal_code_hmac(citizens["carla"]): ("UNREAD", "PAID"),
            }

        assert wait_until(settled, timeout=60, tick=sweep), (
            list(deliveries.values_list("read_status", "payment_status")),
            clusters.logs(),
        )
    finally:
        server.stop()

    # The dispatch page shows the read rate, the paid rate and who opened what.
    page = client.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    assert page.status_code == 200
    summary = page.content.decode()
    assert (
        "Letti: 2 su 3 messaggi Premium di cui IO sa se sono stati letti (66,7%)" in summary
        and "Pagati: 2 (67%)" in summary
    )
    assert "Aperti: 2" in summary and "Con allegati scaricati: 2" in summary
    assert summary.count("aperto, scaricato") == 2
    refused = RemoteContentAccess.objects.filter(configuration=configuration).exclude(outcome="ok")
    assert sorted(refused.values_list("outcome", flat=True)) == ["unauthorized", "wrong_recipient"]
