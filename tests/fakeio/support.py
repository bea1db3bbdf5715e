"""Test data and a small client for the simulator (fixtures are in conftest.py)."""

import time
from typing import Any

import requests

from ioportal.fakeio.citizens import check_character
from ioportal.fakeio.server import FakeIOServer


def fiscal_code(first15: str) -> str:
    """A fiscal code with a valid check character, as the portal will send."""
    return first15 + check_character(first15)


REACHABLE = fiscal_code("RSSMRA80A01H501")
OTHER_REACHABLE = fiscal_code("VRDGPP75C15F205")
NOT_ON_IO = fiscal_code("XXXMRA80A01H501")
BLOCKED = fiscal_code("YYYMRA80A01H501")
SLOW = fiscal_code("ZZZMRA80A01H501")
NEVER_READS = fiscal_code("RSSNNN80A01H501")
READ_DENIED = fiscal_code("RSSUUU80A01H501")
AUTHORIZED = fiscal_code("BNCLCU90D45L219")
SANDBOX = "AAAAAA00A00A000A"

ALPHA_CONFIGURATION = "01JA1PHA0C0NF1G00000000001"
BETA_CONFIGURATION = "01JBETA00C0NF1G00000000001"
PAID_NOTICE = "302000000000000012"  # ends with an even digit
UNPAID_NOTICE = "302000000000000013"

# Keys: alpha has a Premium production service, a test-mode service and a plain one;
# beta is a second account (its own rate-limit bucket).
PROD_KEY = "alpha-prod-primary"
PROD_SECONDARY_KEY = "alpha-prod-secondary"
TEST_KEY = "alpha-test-primary"
BASIC_KEY = "alpha-basic-primary"
BETA_KEY = "beta-primary"

BASE_CONFIG: dict[str, Any] = {
    "status_delay": 0.5,
    "slow_status_delay": 1.5,
    "read_delay": 0.6,
    "idle_timeout": 10,
    "seed": 1,
    "accounts": [
        {
            "name": "alpha",
            "rate_limit": 1000,
            "organization_fiscal_code": "80001230582",
            "rc_configurations": [ALPHA_CONFIGURATION],
            "services": [
                {
                    "service_id": "SRV-ALPHA-PROD",
                    "name": "Tributi",
                    "primary_key": PROD_KEY,
                    "secondary_key": PROD_SECONDARY_KEY,
                    "premium": True,
                    "max_allowed_payment_amount": 50_000,
                    "feed_access": True,
                },
                {
                    "service_id": "SRV-ALPHA-TEST",
                    "name": "Anagrafe (test)",
                    "primary_key": TEST_KEY,
                    "secondary_key": "alpha-test-secondary",
                    "test_mode": True,
                    "authorized_recipients": [AUTHORIZED],
                    "max_allowed_payment_amount": 50_000,
                },
                {
                    "service_id": "SRV-ALPHA-BASIC",
                    "name": "Scuola",
                    "primary_key": BASIC_KEY,
                    "secondary_key": "alpha-basic-secondary",
                },
            ],
        },
        {
            "name": "beta",
            "rate_limit": 1000,
            "rc_configurations": [BETA_CONFIGURATION],
            "services": [
                {
                    "service_id": "SRV-BETA",
                    "name": "Beta",
                    "primary_key": BETA_KEY,
                    "secondary_key": "beta-secondary",
                    "premium": True,
                }
            ],
        },
    ],
}


def message_body(fiscal_code: str | None = REACHABLE, **changes: Any) -> dict[str, Any]:
    """A valid NewMessage; `content` entries in `changes` are merged into the content."""
    body: dict[str, Any] = {
        "content": {
            "subject": "Avviso di pagamento TARI",
            "markdown": "Gentile cittadino, " + "questo è il testo del messaggio. " * 4,
        }
    }
    if fiscal_code is not None:
        body["fiscal_code"] = fiscal_code
    body["content"].update(changes.pop("content", {}))
    body.update(changes)
    return body


class FakeIO:
    """Client helper for one running simulator."""

    def __init__(self, server: FakeIOServer) -> None:
        self.server = server
        self.url = server.url
        self.session = requests.Session()

    def post(self, path: str, key: str | None = PROD_KEY, **kwargs: Any) -> requests.Response:
        headers = {"Ocp-Apim-Subscription-Key": key} if key else {}
        return self.session.post(self.url + "/api/v1" + path, headers=headers, timeout=5, **kwargs)

    def get(self, path: str, key: str | None = PROD_KEY, **kwargs: Any) -> requests.Response:
        headers = {"Ocp-Apim-Subscription-Key": key} if key else {}
        return self.session.get(self.url + "/api/v1" + path, headers=headers, timeout=5, **kwargs)

    def profile(self, code: str, key: str = PROD_KEY) -> requests.Response:
        return self.post("/profiles", key, json={"fiscal_code": code})

    def submit(self, body: dict[str, Any], key: str = PROD_KEY) -> requests.Response:
        return self.post("/messages", key, json=body)

    def message(self, code: str, message_id: str, key: str = PROD_KEY) -> requests.Response:
        return self.get(f"/messages/{code}/{message_id}", key)

    def wait_status(self, code: str, message_id: str, status: str, key: str = PROD_KEY) -> dict:
        deadline = time.monotonic() + 5
        while True:
            data = self.message(code, message_id, key).json()
            if data["status"] == status or time.monotonic() > deadline:
                return data
            time.sleep(0.05)

    def inspect(self, name: str, **params: str) -> Any:
        response = requests.get(f"{self.url}/__fakeio__/{name}", params=params, timeout=5)
        response.raise_for_status()
        return response.json()

    def set_faults(self, **faults: Any) -> requests.Response:
        return requests.put(f"{self.url}/__fakeio__/faults", json=faults, timeout=5)
