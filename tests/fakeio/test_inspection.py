"""The /__fakeio__/ API tests use to see what reached "IO"."""

import json
import threading

import requests

from tests.fakeio.support import (
    BASIC_KEY,
    OTHER_REACHABLE,
    PROD_KEY,
    PROD_SECONDARY_KEY,
    REACHABLE,
    SANDBOX,
    TEST_KEY,
    FakeIO,
    message_body,
)


def test_counters_by_operation_and_status(fakeio: FakeIO) -> None:
    fakeio.profile(REACHABLE)
    fakeio.profile(REACHABLE, key="wrong")
    fakeio.submit(message_body())
    fakeio.submit({"content": {}})

    stats = fakeio.inspect("stats")

    assert stats["calls"] == {
        "getProfileByPOST": {"200": 1, "401": 1},
        "submitMessageforUserWithFiscalCodeInBody": {"201": 1, "400": 1},
    }
    assert stats["messages"] == 1
    assert stats["rate_limited"] == 0
    assert stats["duplicates"] == 0


def test_ledger_counts_the_same_message_delivered_twice(fakeio: FakeIO) -> None:
    body = message_body()
    first = fakeio.submit(body).json()["id"]
    second = fakeio.submit(body).json()["id"]
    fakeio.submit(message_body(OTHER_REACHABLE))
    fakeio.submit(message_body(content={"subject": "Un altro oggetto"}))
    fakeio.submit(body, key=BASIC_KEY)  # another service: not a duplicate

    duplicates = fakeio.inspect("ledger", duplicates="1")

    assert len(fakeio.inspect("ledger")) == 4
    assert len(duplicates) == 1
    assert duplicates[0]["service_id"] == "SRV-ALPHA-PROD"
    assert duplicates[0]["fiscal_code"] == REACHABLE
    assert duplicates[0]["count"] == 2
    assert duplicates[0]["message_ids"] == [first, second]
    assert len(duplicates[0]["content_hash"]) == 64
    assert fakeio.inspect("stats")["duplicates"] == 1


def test_path_and_body_variants_hash_alike(fakeio: FakeIO) -> None:
    fakeio.submit(message_body())
    fakeio.post(f"/messages/{REACHABLE}", json=message_body(fiscal_code=None))

    assert fakeio.inspect("ledger", duplicates="1")[0]["count"] == 2


def test_messages_list_with_filters(fakeio: FakeIO) -> None:
    fakeio.submit(message_body())
    fakeio.submit(message_body(SANDBOX))

    everything = fakeio.inspect("messages")
    for_sandbox = fakeio.inspect("messages", fiscal_code=SANDBOX)
    for_other_service = fakeio.inspect("messages", service_id="SRV-ALPHA-BASIC")

    assert len(everything) == 2
    assert [m["message"]["fiscal_code"] for m in for_sandbox] == [SANDBOX]
    assert for_sandbox[0]["status"] == "ACCEPTED"
    assert for_sandbox[0]["account"] == "alpha"
    assert for_sandbox[0]["content"]["subject"] == "Avviso di pagamento TARI"
    assert for_other_service == []


def test_reset_clears_messages_counters_and_rate_windows(start_fakeio) -> None:
    fakeio = start_fakeio(accounts={"alpha": {"rate_limit": 2}})
    fakeio.submit(message_body())
    fakeio.submit(message_body())
    assert fakeio.profile(REACHABLE).status_code == 429

    response = requests.post(f"{fakeio.url}/__fakeio__/reset", timeout=5)

    assert response.json() == {"reset": True}
    assert fakeio.inspect("stats") == {
        "calls": {},
        "rate_limited": 0,
        "faults": {},
        "messages": 0,
        "duplicates": 0,
    }
    assert fakeio.inspect("ledger") == []
    assert fakeio.profile(REACHABLE).status_code == 200


def test_config_lists_services_with_the_sandbox_recipient(fakeio: FakeIO) -> None:
    config = fakeio.inspect("config")

    services = {s["service_id"]: s for a in config["accounts"] for s in a["services"]}
    assert set(services) == {"SRV-ALPHA-PROD", "SRV-ALPHA-TEST", "SRV-ALPHA-BASIC", "SRV-BETA"}
    assert SANDBOX in services["SRV-ALPHA-BASIC"]["authorized_recipients"]
    assert services["SRV-ALPHA-TEST"]["test_mode"] is True


def test_config_shows_only_the_last_4_characters_of_each_key(fakeio: FakeIO) -> None:
    """The inspection endpoint is open to anyone who reaches the simulator: it shows a key
    as the portal's service page does, never whole."""
    text = json.dumps(fakeio.inspect("config"))
    for key in (PROD_KEY, PROD_SECONDARY_KEY, TEST_KEY, BASIC_KEY):
        assert key not in text
    (prod,) = (
        s
        for a in fakeio.inspect("config")["accounts"]
        for s in a["services"]
        if s["service_id"] == "SRV-ALPHA-PROD"
    )
    assert prod["primary_key_hint"] == "…mary" and prod["secondary_key_hint"] == "…dary"
    assert "primary_key" not in prod and "secondary_key" not in prod


def test_unknown_inspection_endpoint(fakeio: FakeIO) -> None:
    response = requests.get(f"{fakeio.url}/__fakeio__/nothing", timeout=5)

    assert response.status_code == 404


def test_concurrent_submissions_are_all_stored_once(fakeio: FakeIO) -> None:
    errors: list[int] = []

    def client(worker: int) -> None:
        own = FakeIO(fakeio.server)
        for index in range(25):
            body = message_body(content={"subject": f"Messaggio {worker}-{index:02d} di prova"})
            status = own.submit(body).status_code
            if status != 201:
                errors.append(status)

    threads = [threading.Thread(target=client, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert fakeio.inspect("stats")["messages"] == 200
    assert fakeio.inspect("ledger", duplicates="1") == []


def test_the_printed_inspection_address_lists_the_endpoints(fakeio: FakeIO) -> None:
    # The simulator prints `{url}/__fakeio__/` at start: that address must answer.
    response = requests.get(fakeio.url + "/__fakeio__/", timeout=5)

    assert response.status_code == 200
    assert "GET /__fakeio__/stats" in response.json()["inspection_api"]
    assert requests.get(fakeio.url + "/__fakeio__/nothing", timeout=5).status_code == 404
