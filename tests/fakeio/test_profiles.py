"""POST /profiles (and the legacy GET /profiles/{fiscal_code})."""

from ioportal.fakeio.validation import FISCAL_CODE_TYPE
from tests.fakeio.support import (
    AUTHORIZED,
    BLOCKED,
    NOT_ON_IO,
    REACHABLE,
    SANDBOX,
    SLOW,
    TEST_KEY,
    FakeIO,
)


def test_reachable_citizen_allows_the_sender(fakeio: FakeIO) -> None:
    response = fakeio.profile(REACHABLE)

    assert response.status_code == 200
    assert response.json() == {"sender_allowed": True, "preferred_languages": ["it_IT"]}
    assert response.headers["Content-Type"].startswith("application/json")


def test_slow_citizen_is_reachable(fakeio: FakeIO) -> None:
    assert fakeio.profile(SLOW).json()["sender_allowed"] is True


def test_citizen_not_on_io_gets_404(fakeio: FakeIO) -> None:
    response = fakeio.profile(NOT_ON_IO)

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json() == {
        "detail": "The profile you requested was not found in the system.",
        "status": 404,
        "title": "Profile not found",
    }


def test_citizen_who_blocked_the_service_is_not_allowed(fakeio: FakeIO) -> None:
    response = fakeio.profile(BLOCKED)

    assert response.status_code == 200
    assert response.json()["sender_allowed"] is False


def test_test_mode_forbids_recipients_not_authorised(fakeio: FakeIO) -> None:
    # Also for a citizen not on IO: IO answers 403 first so as not to reveal it.
    for code in (REACHABLE, NOT_ON_IO):
        response = fakeio.profile(code, key=TEST_KEY)

        assert response.status_code == 403
        assert response.json() == {
            "detail": "You are not allowed to issue requests for the recipient.",
            "status": 403,
            "title": "Recipient forbidden",
        }


def test_test_mode_allows_authorised_recipients_and_the_sandbox_code(fakeio: FakeIO) -> None:
    assert fakeio.profile(AUTHORIZED, key=TEST_KEY).status_code == 200
    assert fakeio.profile(SANDBOX, key=TEST_KEY).json()["sender_allowed"] is True


def test_invalid_payload_gets_invalid_fiscal_code_payload(fakeio: FakeIO) -> None:
    response = fakeio.post("/profiles", json={"fiscal_code": REACHABLE.lower()})

    assert response.status_code == 400
    assert response.json()["title"] == "Invalid FiscalCodePayload"
    assert response.json()["detail"] == (
        f'value ["{REACHABLE.lower()}"] at [root.fiscal_code] is not a valid [{FISCAL_CODE_TYPE}]'
    )
    payloads: list[object] = [{}, ["x"]]
    for payload in payloads:
        assert fakeio.post("/profiles", json=payload).json()["title"] == "Invalid FiscalCodePayload"


def test_body_that_is_not_json_is_invalid(fakeio: FakeIO) -> None:
    response = fakeio.post("/profiles", data=b"{not json")

    assert response.status_code == 400
    assert response.json()["title"] == "Invalid FiscalCodePayload"


def test_legacy_get_profile_by_path(fakeio: FakeIO) -> None:
    assert fakeio.get(f"/profiles/{REACHABLE}").json()["sender_allowed"] is True
    assert fakeio.get(f"/profiles/{NOT_ON_IO}").status_code == 404

    invalid = fakeio.get("/profiles/RSSMRA80A01H501")

    assert invalid.status_code == 400
    assert invalid.json()["title"] == f"Invalid {FISCAL_CODE_TYPE}"


def test_citizens_listed_in_the_config_override_the_rule(start_fakeio) -> None:
    fakeio = start_fakeio(citizens={REACHABLE: "not_on_io", NOT_ON_IO: {"outcome": "blocked"}})

    assert fakeio.profile(REACHABLE).status_code == 404
    assert fakeio.profile(NOT_ON_IO).json()["sender_allowed"] is False


def test_authorized_cidrs_exclude_other_addresses(start_fakeio) -> None:
    fakeio = start_fakeio(
        accounts={
            "beta": {
                "services": [
                    {
                        "service_id": "SRV-BETA-CIDR",
                        "name": "Beta",
                        "primary_key": "cidr-key",
                        "secondary_key": "cidr-key-2",
                        "authorized_cidrs": ["10.0.0.0/8"],
                    }
                ]
            }
        }
    )

    response = fakeio.profile(REACHABLE, key="cidr-key")

    assert response.status_code == 403
    assert response.json()["title"] == "You are not allowed here"
