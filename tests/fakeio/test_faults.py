"""Injected latency and faults, set at start or at runtime through /__fakeio__/faults."""

import socket
import time

import pytest
import requests

from tests.fakeio.support import REACHABLE, FakeIO, message_body


def ledger_count(fakeio: FakeIO) -> int:
    return sum(entry["count"] for entry in fakeio.inspect("ledger"))


def test_server_error_before_storing(fakeio: FakeIO) -> None:
    fakeio.set_faults(error_rate=1.0)

    response = fakeio.submit(message_body())

    assert response.status_code == 500
    assert response.json()["title"] == "Internal server error"
    assert ledger_count(fakeio) == 0
    stats = fakeio.inspect("stats")
    assert stats["faults"] == {"server_error": 1}
    assert stats["calls"]["submitMessageforUserWithFiscalCodeInBody"] == {"500": 1}


def test_gateway_style_error_status(fakeio: FakeIO) -> None:
    fakeio.set_faults(error_rate=1.0, error_status=503)

    response = fakeio.profile(REACHABLE)

    assert response.status_code == 503
    assert response.json() == {"statusCode": 503, "message": "Service Unavailable"}


def test_server_error_after_storing(fakeio: FakeIO) -> None:
    fakeio.set_faults(error_after_store_rate=1.0)

    response = fakeio.submit(message_body())
    profile = fakeio.profile(REACHABLE)

    assert response.status_code == 500
    assert ledger_count(fakeio) == 1
    assert profile.status_code == 200  # only submissions store something


def test_dropped_connection(fakeio: FakeIO) -> None:
    fakeio.set_faults(drop_rate=1.0)

    with pytest.raises(requests.ConnectionError):
        fakeio.submit(message_body())

    assert ledger_count(fakeio) == 0
    assert fakeio.inspect("stats")["faults"] == {"dropped": 1}


def test_accepted_but_answer_lost(fakeio: FakeIO) -> None:
    fakeio.set_faults(lost_answer_rate=1.0)

    with pytest.raises(requests.ConnectionError):
        fakeio.submit(message_body())
    profile = fakeio.profile(REACHABLE)

    assert ledger_count(fakeio) == 1
    assert profile.status_code == 200
    assert fakeio.inspect("stats")["calls"]["submitMessageforUserWithFiscalCodeInBody"] == {
        "lost_answer": 1
    }


def test_slow_answer_triggers_the_client_read_timeout(fakeio: FakeIO) -> None:
    fakeio.set_faults(slow_rate=1.0, slow_ms=1500)

    with pytest.raises(requests.ReadTimeout):
        fakeio.session.post(
            f"{fakeio.url}/api/v1/messages",
            json=message_body(),
            headers={"Ocp-Apim-Subscription-Key": "alpha-prod-primary"},
            timeout=(1, 0.3),
        )

    assert ledger_count(fakeio) == 1  # stored before the answer was delayed


def test_latency_and_jitter(start_fakeio) -> None:
    fakeio = start_fakeio(faults={"latency_ms": 150, "jitter_ms": 50})

    started = time.monotonic()
    fakeio.profile(REACHABLE)
    elapsed = time.monotonic() - started

    assert 0.15 <= elapsed < 1


def test_forced_throttling(fakeio: FakeIO) -> None:
    fakeio.set_faults(throttle_rate=1.0)

    response = fakeio.profile(REACHABLE)

    assert response.status_code == 429
    assert response.headers["x-rate-limit-retry-after"] == "5"


def test_faults_can_target_some_operations(fakeio: FakeIO) -> None:
    fakeio.set_faults(error_rate=1.0, operations=["getMessage"])

    message_id = fakeio.submit(message_body()).json()["id"]

    assert fakeio.message(REACHABLE, message_id).status_code == 500
    assert fakeio.profile(REACHABLE).status_code == 200


def test_fault_config_get_put_and_validation(fakeio: FakeIO) -> None:
    changed = fakeio.set_faults(drop_rate=0.25, latency_ms=10)
    bad_rate = fakeio.set_faults(drop_rate=2)
    unknown = fakeio.set_faults(explode=True)
    bad_operation = fakeio.set_faults(operations=["sendPigeon"])

    assert changed.status_code == 200
    assert changed.json()["drop_rate"] == 0.25
    assert fakeio.inspect("faults")["latency_ms"] == 10
    assert [r.status_code for r in (bad_rate, unknown, bad_operation)] == [400, 400, 400]
    assert "explode" in unknown.json()["error"]
    assert fakeio.inspect("faults")["drop_rate"] == 0.25


def test_faults_from_the_config_and_reset_restores_them(start_fakeio) -> None:
    fakeio = start_fakeio(faults={"error_rate": 1.0})
    assert fakeio.profile(REACHABLE).status_code == 500
    fakeio.set_faults(error_rate=0)
    assert fakeio.profile(REACHABLE).status_code == 200

    requests.post(f"{fakeio.url}/__fakeio__/reset", timeout=5)

    assert fakeio.inspect("faults")["error_rate"] == 1.0


def raw_request(path: str = "/__fakeio__/stats") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: fakeio\r\n\r\n".encode()


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(4096)
    return head


def test_keep_alive_serves_several_requests_on_one_connection(fakeio: FakeIO) -> None:
    host, port = fakeio.server.server_address[:2]
    with socket.create_connection((str(host), port), timeout=2) as sock:
        for _ in range(3):
            sock.sendall(raw_request())
            assert read_response(sock).startswith(b"HTTP/1.1 200")


def test_idle_keep_alive_connections_are_closed(start_fakeio) -> None:
    fakeio = start_fakeio(idle_timeout=0.3)
    host, port = fakeio.server.server_address[:2]
    with socket.create_connection((str(host), port), timeout=2) as sock:
        sock.sendall(raw_request())
        read_response(sock)
        time.sleep(0.6)

        assert sock.recv(1) == b""  # the server closed it
