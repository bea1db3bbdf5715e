"""What APIM does in front of IO: subscription keys, the per-account rate limit, routing."""

import threading
import time

from tests.fakeio.support import (
    BASIC_KEY,
    BETA_KEY,
    PROD_KEY,
    PROD_SECONDARY_KEY,
    REACHABLE,
    TEST_KEY,
    FakeIO,
    message_body,
)


def test_missing_key_gets_apim_401(fakeio: FakeIO) -> None:
    response = fakeio.profile(REACHABLE, key="")

    assert response.status_code == 401
    assert response.json() == {
        "statusCode": 401,
        "message": "Access denied due to missing subscription key. Make sure to include "
        "subscription key when making requests to an API.",
    }
    assert "AzureApiManagementKey" in response.headers["WWW-Authenticate"]
    assert "x-rate-limit-remaining" not in response.headers


def test_unknown_key_gets_apim_401(fakeio: FakeIO) -> None:
    response = fakeio.submit(message_body(), key="not-a-key")

    assert response.status_code == 401
    assert response.json()["message"].startswith("Access denied due to invalid subscription key.")
    assert fakeio.inspect("stats")["messages"] == 0


def test_primary_and_secondary_keys_both_work(fakeio: FakeIO) -> None:
    assert fakeio.profile(REACHABLE, key=PROD_KEY).status_code == 200
    assert fakeio.profile(REACHABLE, key=PROD_SECONDARY_KEY).status_code == 200


def test_key_in_query_string_works_as_in_apim(fakeio: FakeIO) -> None:
    response = fakeio.session.post(
        f"{fakeio.url}/api/v1/profiles?subscription-key={PROD_KEY}",
        json={"fiscal_code": REACHABLE},
        timeout=5,
    )

    assert response.status_code == 200


def test_unknown_route_gets_apim_404(fakeio: FakeIO) -> None:
    response = fakeio.get("/services")

    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "message": "Resource not found"}


def test_rate_limit_is_shared_by_the_services_of_an_account(start_fakeio) -> None:
    fakeio = start_fakeio(accounts={"alpha": {"rate_limit": 3}})

    first = fakeio.profile(REACHABLE, key=PROD_KEY)
    second = fakeio.submit(message_body(), key=BASIC_KEY)
    third = fakeio.get(f"/messages/{REACHABLE}/01ARZ3NDEKTSV4RRFFQ69G5FAV", key=TEST_KEY)
    limited = fakeio.profile(REACHABLE, key=BASIC_KEY)

    assert [first.status_code, second.status_code, third.status_code] == [200, 201, 404]
    assert [r.headers["x-rate-limit-remaining"] for r in (first, second, third)] == ["2", "1", "0"]
    assert limited.status_code == 429
    retry_after = int(limited.headers["x-rate-limit-retry-after"])
    assert 1 <= retry_after <= 5
    assert limited.json() == {
        "statusCode": 429,
        "message": f"Rate limit is exceeded. Try again in {retry_after} seconds.",
    }
    assert "Retry-After" not in limited.headers
    assert "x-rate-limit-remaining" not in limited.headers
    assert fakeio.inspect("stats")["rate_limited"] == 1


def test_rate_limit_is_not_shared_across_accounts(start_fakeio) -> None:
    fakeio = start_fakeio(accounts={"alpha": {"rate_limit": 2}, "beta": {"rate_limit": 2}})
    for _ in range(2):
        assert fakeio.profile(REACHABLE, key=PROD_KEY).status_code == 200

    assert fakeio.profile(REACHABLE, key=PROD_KEY).status_code == 429
    assert fakeio.profile(REACHABLE, key=BETA_KEY).status_code == 200


def test_rate_limit_window_slides(start_fakeio) -> None:
    fakeio = start_fakeio(rate_window=0.5, accounts={"alpha": {"rate_limit": 2}})
    for _ in range(2):
        assert fakeio.profile(REACHABLE).status_code == 200
    assert fakeio.profile(REACHABLE).status_code == 429

    time.sleep(0.6)

    assert fakeio.profile(REACHABLE).status_code == 200


def test_rate_limit_zero_means_no_limit(start_fakeio) -> None:
    fakeio = start_fakeio(accounts={"alpha": {"rate_limit": 0}})

    responses = [fakeio.profile(REACHABLE) for _ in range(20)]

    assert {r.status_code for r in responses} == {200}
    assert "x-rate-limit-remaining" not in responses[0].headers


def test_rate_limit_is_exact_under_concurrent_clients(start_fakeio) -> None:
    fakeio = start_fakeio(accounts={"alpha": {"rate_limit": 50}})
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        session_fakeio = FakeIO(fakeio.server)
        for _ in range(10):
            status = session_fakeio.profile(REACHABLE).status_code
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses.count(200) == 50
    assert statuses.count(429) == 30
