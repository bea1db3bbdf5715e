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

from ioportal.fakeio.config import parse_config
from ioportal.fakeio.server import make_server
from ioportal.messaging.models import Delivery
from ioportal.remotecontent.models import RemoteContentAccess
from ioportal.remotecontent.selectors import delivery_access_summary
from ioportal.remotecontent.services import third_party_data_for
from tests.processes import ROOT, free_port, process_env
from tests.remotecontent.conftest import (
    CITIZEN,
    CONFIGURATION_ID,
    HEADER,
    OTHER_CITIZEN,
    make_pdf,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

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
                requests.get(f"{url}/io/remote-content/x/messages/y", timeout=2)
                break
            except requests.ConnectionError:
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
