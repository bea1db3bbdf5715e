import json
from datetime import datetime, timedelta, timezone

import pytest

from ioportal.ioapi import (
    FeatureLevel,
    FieldError,
    PayloadInvalidError,
    PaymentData,
    ThirdPartyData,
    build_message_payload,
    build_profile_payload,
    validate_new_message,
)
from ioportal.ioapi.payloads import format_timestamp, js_length

from .samples import (
    CF,
    CONFIGURATION_ID,
    MARKDOWN,
    MESSAGE_VARIANTS,
    NOTICE_NUMBER,
    PAYEE_FISCAL_CODE,
    new_message,
)

RETIRED_FIELDS = {"prescription_data", "legal_data", "default_addresses", "time_to_live"}


def _fields(errors: list[FieldError]) -> list[str]:
    return [e.field for e in errors]


def test_standard_message_payload() -> None:
    payload = build_message_payload(new_message(fiscal_code=f"  {CF.lower()} "))
    assert payload == {
        "fiscal_code": CF,
        "feature_level_type": "STANDARD",
        "content": {"subject": new_message().subject, "markdown": MARKDOWN},
    }


def test_full_advanced_payload() -> None:
    payload = build_message_payload(MESSAGE_VARIANTS["advanced_attachments"])
    assert payload["feature_level_type"] == "ADVANCED"
    assert payload["content"]["due_date"] == "2026-03-31T21:59:59.000Z"
    assert payload["content"]["payment_data"] == {
        "amount": 1,
        "notice_number": NOTICE_NUMBER,
        "invalid_after_due_date": False,
        "payee": {"fiscal_code": PAYEE_FISCAL_CODE},
    }
    assert payload["content"]["third_party_data"] == {
        "id": "3f1c9a52-7d1e-4b8e-9a0b-2c55f0e6d111",
        "configuration_id": CONFIGURATION_ID,
        "has_attachments": True,
    }


@pytest.mark.parametrize("name", sorted(MESSAGE_VARIANTS))
def test_payloads_never_carry_retired_fields(name: str) -> None:
    payload = build_message_payload(MESSAGE_VARIANTS[name])
    text = json.dumps(payload)
    for field in RETIRED_FIELDS:
        assert field not in text


def test_require_secure_channels_sent_only_when_set() -> None:
    assert "require_secure_channels" not in build_message_payload(new_message())["content"]
    payload = build_message_payload(new_message(require_secure_channels=False))
    assert payload["content"]["require_secure_channels"] is False


def test_due_date_converted_to_utc_with_milliseconds() -> None:
    rome = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2026, 6, 30, 23, 59, 59, 123456, tzinfo=rome)) == (
        "2026-06-30T21:59:59.123Z"
    )


def test_sandbox_fiscal_code_accepted() -> None:
    assert validate_new_message(MESSAGE_VARIANTS["sandbox_recipient"]) == []


def test_lengths_are_counted_like_io_in_utf16_units() -> None:
    assert js_length("€") == 1
    assert js_length("😀") == 2
    # 9 characters but 10 UTF-16 units: IO accepts it as a 10-character subject.
    assert validate_new_message(new_message(subject="Avviso 😀!")) == []


@pytest.mark.parametrize(
    ("subject", "ok"), [("x" * 9, False), ("x" * 10, True), ("x" * 120, True), ("x" * 121, False)]
)
def test_subject_limits(subject: str, ok: bool) -> None:
    errors = validate_new_message(new_message(subject=subject))
    assert (errors == []) is ok
    if not ok:
        assert errors[0].field == "content.subject"
        assert "da 10 a 120 caratteri" in errors[0].message


@pytest.mark.parametrize(("length", "ok"), [(79, False), (80, True), (10000, True), (10001, False)])
def test_markdown_limits(length: int, ok: bool) -> None:
    errors = validate_new_message(new_message(markdown="m" * length))
    assert (errors == []) is ok


@pytest.mark.parametrize(
    ("amount", "ok"),
    [(0, False), (1, True), (9_999_999_999, True), (10_000_000_000, False), (True, False)],
)
def test_amount_limits(amount: int, ok: bool) -> None:
    message = new_message(payment_data=PaymentData(amount=amount, notice_number=NOTICE_NUMBER))
    assert (validate_new_message(message) == []) is ok


def test_amount_over_service_maximum() -> None:
    message = new_message(payment_data=PaymentData(amount=5001, notice_number=NOTICE_NUMBER))
    errors = validate_new_message(message, max_allowed_payment_amount=5000)
    assert _fields(errors) == ["content.payment_data.amount"]
    assert "supera il massimo" in errors[0].message


@pytest.mark.parametrize(
    "notice",
    ["402000100000009424", "30200010000000942", "3020001000000094245", "30200010000000942a"],
)
def test_bad_notice_numbers(notice: str) -> None:
    message = new_message(payment_data=PaymentData(amount=100, notice_number=notice))
    assert _fields(validate_new_message(message)) == ["content.payment_data.notice_number"]


def test_bad_payee() -> None:
    payment = PaymentData(amount=100, notice_number=NOTICE_NUMBER, payee_fiscal_code="0123456789")
    errors = validate_new_message(new_message(payment_data=payment))
    assert _fields(errors) == ["content.payment_data.payee.fiscal_code"]


def test_attachments_need_advanced() -> None:
    data = ThirdPartyData(id="abc", configuration_id=CONFIGURATION_ID, has_attachments=True)
    errors = validate_new_message(new_message(third_party_data=data))
    assert _fields(errors) == ["content.third_party_data.has_attachments"]
    advanced = new_message(third_party_data=data, feature_level_type=FeatureLevel.ADVANCED)
    assert validate_new_message(advanced) == []


def test_third_party_id_and_configuration_checked() -> None:
    data = ThirdPartyData(id="a/../b", configuration_id="not-a-ulid")
    errors = validate_new_message(new_message(third_party_data=data))
    assert _fields(errors) == [
        "content.third_party_data.id",
        "content.third_party_data.configuration_id",
    ]


def test_all_errors_collected_in_italian() -> None:
    message = new_message(
        fiscal_code="RSSMRA85T10A562X",
        subject="corto",
        markdown="breve",
        due_date=datetime(2026, 1, 1),  # naive
        feature_level_type="PREMIUM",
        payment_data=PaymentData(amount=0, notice_number="123"),
    )
    errors = validate_new_message(message)
    assert _fields(errors) == [
        "fiscal_code",
        "content.subject",
        "content.markdown",
        "feature_level_type",
        "content.due_date",
        "content.payment_data.amount",
        "content.payment_data.notice_number",
    ]
    assert "carattere di controllo" in errors[0].message
    with pytest.raises(PayloadInvalidError) as excinfo:
        build_message_payload(message)
    assert len(excinfo.value.errors) == 7
    # The recipient's fiscal code is never echoed in error texts.
    assert "RSSMRA85T10A562X" not in str(excinfo.value)


def test_fiscal_code_format_error_is_distinct_from_checksum() -> None:
    errors = validate_new_message(new_message(fiscal_code="NOT-A-CF"))
    assert errors[0].field == "fiscal_code"
    assert "formato" in errors[0].message


def test_profile_payload() -> None:
    assert build_profile_payload(f" {CF.lower()}") == {"fiscal_code": CF}
    with pytest.raises(PayloadInvalidError):
        build_profile_payload("")
