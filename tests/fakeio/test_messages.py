"""POST /messages and GET /messages/{fiscal_code}/{id}: validation, 403s, status progression."""

import time
from typing import Any

import pytest

from ioportal.fakeio.config import ULID_RE
from ioportal.fakeio.validation import FISCAL_CODE_TYPE
from tests.fakeio.support import (
    ALPHA_CONFIGURATION,
    AUTHORIZED,
    BASIC_KEY,
    BETA_CONFIGURATION,
    BLOCKED,
    NEVER_READS,
    NOT_ON_IO,
    PAID_NOTICE,
    REACHABLE,
    READ_DENIED,
    SANDBOX,
    SLOW,
    TEST_KEY,
    UNPAID_NOTICE,
    FakeIO,
    message_body,
)

NOT_ALLOWED = "You are not allowed here"


def third_party(**changes: Any) -> dict[str, Any]:
    return {"id": "pratica-1", "configuration_id": ALPHA_CONFIGURATION, **changes}


def payment(amount: int = 10_000, notice: str = PAID_NOTICE) -> dict[str, Any]:
    return {"amount": amount, "notice_number": notice}


def test_submission_is_accepted_with_location(fakeio: FakeIO) -> None:
    response = fakeio.submit(message_body())

    assert response.status_code == 201
    message_id = response.json()["id"]
    assert ULID_RE.match(message_id)
    assert response.headers["Location"] == f"/api/v1/messages/{REACHABLE}/{message_id}"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"content": {"subject": "too short"}}, "root.content.subject"),
        ({"content": {"subject": "x" * 121}}, "root.content.subject"),
        ({"content": {"markdown": "x" * 79}}, "root.content.markdown"),
        ({"content": {"markdown": "x" * 10001}}, "root.content.markdown"),
        ({"content": {"due_date": "2026-13-01T00:00:00Z"}}, "root.content.due_date"),
        ({"content": {"due_date": "31/12/2026"}}, "root.content.due_date"),
        ({"content": {"payment_data": payment(amount=0)}}, "root.content.payment_data.amount"),
        ({"content": {"payment_data": payment(notice="12345")}}, "payment_data.notice_number"),
        (
            {"content": {"payment_data": {**payment(), "payee": {"fiscal_code": "123"}}}},
            "root.content.payment_data.payee.fiscal_code",
        ),
        ({"content": {"third_party_data": {"has_attachments": True}}}, "third_party_data.id"),
        (
            {"content": {"third_party_data": third_party(configuration_id="nope")}},
            "root.content.third_party_data.configuration_id",
        ),
        ({"time_to_live": 60}, "root.time_to_live"),
        ({"fiscal_code": "rssmra80a01h501u"}, "root.fiscal_code"),
        ({"feature_level_type": "PREMIUM"}, "root.feature_level_type"),
        ({"default_addresses": {"email": "not-an-email"}}, "root.default_addresses.email"),
    ],
)
def test_invalid_message_structure(fakeio: FakeIO, changes: dict, path: str) -> None:
    response = fakeio.submit(message_body(**changes))

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["title"] == "Invalid message structure"
    assert problem["status"] == 400
    assert path in problem["detail"]
    assert fakeio.inspect("stats")["messages"] == 0


def test_missing_content_and_non_json_body_are_invalid(fakeio: FakeIO) -> None:
    missing = fakeio.submit({"fiscal_code": REACHABLE})
    garbage = fakeio.post("/messages", data=b"not json")

    assert missing.json()["detail"] == (
        "value undefined at root.content is not a valid [MessageContent]"
    )
    assert garbage.status_code == 400
    assert garbage.json()["title"] == "Invalid message structure"


def test_unknown_fields_are_ignored_like_io_ts(fakeio: FakeIO) -> None:
    response = fakeio.submit(message_body(extra=1, content={"prescription_data": {"x": 1}}))

    assert response.status_code == 201


def test_fiscal_code_in_path_variant(fakeio: FakeIO) -> None:
    body = message_body(fiscal_code=None)

    accepted = fakeio.post(f"/messages/{REACHABLE}", json=body)
    both = fakeio.post(f"/messages/{REACHABLE}", json=message_body())
    neither = fakeio.submit(body)
    invalid = fakeio.post("/messages/NOTACODE", json=body)

    assert accepted.status_code == 201
    assert both.status_code == 400
    assert both.json() == {
        "detail": "The fiscalcode parameter must be specified in the path or in the payload but "
        "not in both",
        "status": 400,
        "title": "Bad parameters",
    }
    assert neither.json()["detail"] == (
        "The fiscalcode parameter must be specified in the path or in the payload"
    )
    assert invalid.json()["title"] == f"Invalid {FISCAL_CODE_TYPE}"


def test_advanced_without_premium_is_forbidden(fakeio: FakeIO) -> None:
    response = fakeio.submit(message_body(feature_level_type="ADVANCED"), key=BASIC_KEY)

    assert response.status_code == 403
    assert response.json() == {
        "detail": "You do not have enough permissions to send a Premium message",
        "status": 403,
        "title": NOT_ALLOWED,
    }


def test_third_party_data_without_premium_is_forbidden(fakeio: FakeIO) -> None:
    body = message_body(content={"third_party_data": third_party(has_attachments=True)})

    response = fakeio.submit(body, key=BASIC_KEY)

    assert response.status_code == 403
    assert response.json()["title"] == NOT_ALLOWED
    assert response.json()["detail"] == (
        "You do not have enough permissions to send a third party message"
    )


def test_attachments_on_a_standard_message_are_forbidden(fakeio: FakeIO) -> None:
    body = message_body(content={"third_party_data": third_party(has_attachments=True)})

    response = fakeio.submit(body)

    assert response.status_code == 403
    assert response.json()["title"] == "Attachments call forbidden"


def test_advanced_message_with_attachments_is_accepted(fakeio: FakeIO) -> None:
    body = message_body(
        feature_level_type="ADVANCED",
        content={"third_party_data": third_party(has_attachments=True)},
    )

    assert fakeio.submit(body).status_code == 201


def test_remote_content_configuration_checks(fakeio: FakeIO) -> None:
    def submit(data: dict[str, Any]) -> dict[str, Any]:
        body = message_body(feature_level_type="ADVANCED", content={"third_party_data": data})
        return fakeio.submit(body).json()

    missing = submit({"id": "pratica-1"})
    unknown = submit(third_party(configuration_id="01ARZ3NDEKTSV4RRFFQ69G5FAV"))
    foreign = submit(third_party(configuration_id=BETA_CONFIGURATION))

    assert (missing["status"], missing["title"]) == (403, "No configuration id for remote content")
    assert (unknown["status"], unknown["title"]) == (404, "Remote Content Configuration NOT FOUND")
    assert (foreign["status"], foreign["title"]) == (403, "Not your configuration")


def test_payee_needs_its_own_permission(fakeio: FakeIO) -> None:
    body = message_body(content={"payment_data": {**payment(), "payee": {"fiscal_code": "1" * 11}}})

    response = fakeio.submit(body)

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "You do not have enough permissions to send a payment message with payee"
    )


def test_eu_covid_cert_is_forbidden(fakeio: FakeIO) -> None:
    response = fakeio.submit(message_body(content={"eu_covid_cert": {"auth_code": "x"}}))

    assert response.status_code == 403
    assert response.json()["title"] == NOT_ALLOWED


def test_test_mode_forbids_recipients_not_authorised(fakeio: FakeIO) -> None:
    response = fakeio.submit(message_body(REACHABLE), key=TEST_KEY)

    assert response.status_code == 403
    assert response.json()["title"] == "Recipient forbidden"
    assert fakeio.submit(message_body(AUTHORIZED), key=TEST_KEY).status_code == 201
    assert fakeio.submit(message_body(SANDBOX), key=TEST_KEY).status_code == 201


def test_amount_over_the_service_maximum(fakeio: FakeIO) -> None:
    over = fakeio.submit(message_body(content={"payment_data": payment(amount=50_001)}))
    at_max = fakeio.submit(message_body(content={"payment_data": payment(amount=50_000)}))
    no_payments = fakeio.submit(message_body(content={"payment_data": payment()}), key=BASIC_KEY)

    assert over.status_code == 400
    assert over.json() == {
        "detail": "The requested amount (50001 cents) exceeds the maximum allowed for this "
        "service (50000 cents)",
        "status": 400,
        "title": "Error while sending payment metadata",
    }
    assert at_max.status_code == 201
    assert no_payments.json()["detail"].endswith("(0 cents)")


def test_checks_run_in_io_order(fakeio: FakeIO) -> None:
    invalid_and_not_premium = message_body(feature_level_type="ADVANCED", time_to_live=1)
    not_authorised_and_over = message_body(content={"payment_data": payment(amount=90_000)})

    first = fakeio.submit(invalid_and_not_premium, key=BASIC_KEY)
    second = fakeio.submit(not_authorised_and_over, key=TEST_KEY)

    assert first.json()["title"] == "Invalid message structure"
    assert second.json()["title"] == "Recipient forbidden"


def test_status_moves_from_accepted_to_processed(fakeio: FakeIO) -> None:
    body = message_body(content={"payment_data": payment()})
    message_id = fakeio.submit(body).json()["id"]

    accepted = fakeio.message(REACHABLE, message_id).json()
    processed = fakeio.wait_status(REACHABLE, message_id, "PROCESSED")

    assert accepted["status"] == "ACCEPTED"
    assert "content" not in accepted["message"]
    assert processed["status"] == "PROCESSED"
    assert processed["message"]["id"] == message_id
    assert processed["message"]["fiscal_code"] == REACHABLE
    assert processed["message"]["sender_service_id"] == "SRV-ALPHA-PROD"
    assert processed["message"]["feature_level_type"] == "STANDARD"
    assert processed["message"]["time_to_live"] == 3600
    assert processed["message"]["created_at"].endswith("Z")
    # IO fills the payee with the sender's organization when it stores the content.
    assert processed["message"]["content"]["payment_data"]["payee"] == {
        "fiscal_code": "80001230582"
    }
    assert "read_status" not in processed
    assert "payment_status" not in processed


@pytest.mark.parametrize(
    ("code", "reason"), [(NOT_ON_IO, "USER_NOT_FOUND"), (BLOCKED, "SERVICE_NOT_ALLOWED")]
)
def test_unreachable_citizens_end_rejected(fakeio: FakeIO, code: str, reason: str) -> None:
    message_id = fakeio.submit(message_body(code)).json()["id"]

    data = fakeio.wait_status(code, message_id, "REJECTED")

    assert data["status"] == "REJECTED"
    assert "content" not in data["message"]
    assert "rejection_reason" not in data  # IO keeps it internally only
    [stored] = fakeio.inspect("messages", fiscal_code=code)
    assert stored["rejection_reason"] == reason


def test_slow_citizens_take_longer(fakeio: FakeIO) -> None:
    normal_id = fakeio.submit(message_body(REACHABLE)).json()["id"]
    slow_id = fakeio.submit(message_body(SLOW)).json()["id"]

    assert fakeio.wait_status(REACHABLE, normal_id, "PROCESSED")["status"] == "PROCESSED"
    assert fakeio.message(SLOW, slow_id).json()["status"] == "ACCEPTED"
    assert fakeio.wait_status(SLOW, slow_id, "PROCESSED")["status"] == "PROCESSED"


def test_slow_share_makes_reachable_citizens_slow(start_fakeio) -> None:
    fakeio = start_fakeio(slow_share=1.0, slow_status_delay=30)
    message_id = fakeio.submit(message_body()).json()["id"]

    time.sleep(0.5)

    assert fakeio.message(REACHABLE, message_id).json()["status"] == "ACCEPTED"


def test_premium_message_reports_read_and_payment_status(fakeio: FakeIO) -> None:
    def send(code: str, notice: str) -> str:
        body = message_body(
            code, feature_level_type="ADVANCED", content={"payment_data": payment(notice=notice)}
        )
        return fakeio.submit(body).json()["id"]

    paying, not_paying = send(REACHABLE, PAID_NOTICE), send(REACHABLE, UNPAID_NOTICE)
    never, denied = send(NEVER_READS, PAID_NOTICE), send(READ_DENIED, PAID_NOTICE)

    pending = fakeio.message(REACHABLE, paying).json()
    processed = fakeio.wait_status(REACHABLE, paying, "PROCESSED")
    time.sleep(0.7)  # read_delay is 0.6 s

    assert "read_status" not in pending  # not while the message is pending
    assert (processed["read_status"], processed["payment_status"]) == ("UNREAD", "NOT_PAID")
    read = fakeio.message(REACHABLE, paying).json()
    assert (read["read_status"], read["payment_status"]) == ("READ", "PAID")
    unpaid = fakeio.message(REACHABLE, not_paying).json()
    assert (unpaid["read_status"], unpaid["payment_status"]) == ("READ", "NOT_PAID")
    assert fakeio.message(NEVER_READS, never).json()["read_status"] == "UNREAD"
    assert fakeio.message(READ_DENIED, denied).json()["read_status"] == "UNAVAILABLE"


def test_premium_message_without_payment_has_no_payment_status(fakeio: FakeIO) -> None:
    message_id = fakeio.submit(message_body(feature_level_type="ADVANCED")).json()["id"]

    data = fakeio.wait_status(REACHABLE, message_id, "PROCESSED")

    assert data["read_status"] == "UNREAD"
    assert "payment_status" not in data


def test_get_message_not_found(fakeio: FakeIO) -> None:
    message_id = fakeio.submit(message_body()).json()["id"]

    unknown = fakeio.message(REACHABLE, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    other_citizen = fakeio.message(SANDBOX, message_id)

    for response in (unknown, other_citizen):
        assert response.status_code == 404
        assert response.json() == {
            "detail": "The message that you requested was not found in the system.",
            "status": 404,
            "title": "Message not found",
        }


def test_only_the_sending_service_reads_a_message(fakeio: FakeIO) -> None:
    message_id = fakeio.submit(message_body()).json()["id"]

    response = fakeio.message(REACHABLE, message_id, key=BASIC_KEY)

    assert response.status_code == 403
    assert response.json()["detail"] == (
        "You are not allowed to read this message, you can only read messages that you have sent"
    )


def test_get_message_with_invalid_fiscal_code(fakeio: FakeIO) -> None:
    response = fakeio.message("ABC", "01ARZ3NDEKTSV4RRFFQ69G5FAV")

    assert response.status_code == 400
    assert response.json()["title"] == f"Invalid {FISCAL_CODE_TYPE}"
