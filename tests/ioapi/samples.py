"""Sample values and IO answers shared by the client and contract tests.

The answers follow IO-API.md §2 and the official spec; test_contract.py validates each one
against the spec's response schemas, and test_client.py feeds each one through the client.
"""

from datetime import UTC, datetime
from typing import Any

from ioportal.ioapi import FeatureLevel, NewMessage, PaymentData, ThirdPartyData

API_KEY = "s3cr3t-K3Y-0123456789abcdef"
BASE_URL = "https://io.example.test/api/v1"

CF = "RSSMRA85T10A562S"  # valid check character
CF_OMOCODIA = "RSSMRA85T10A56NH"  # same person, last digit replaced by its omocodia letter
PAYEE_FISCAL_CODE = "01234567890"
NOTICE_NUMBER = "302000100000009424"
CONFIGURATION_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
MESSAGE_ID = "01BX9NSMKVXXS5PSP2FATZMYYY"
SERVICE_ID = "01BX9NSMKVXXS5PSP2FATZM6QX"

SUBJECT = "Avviso di pagamento TARI 2026"
MARKDOWN = (
    "Gentile cittadino,\n\nle ricordiamo che è disponibile l'avviso di pagamento della "
    "**TARI 2026**. Può pagarlo direttamente dall'app IO entro la data di scadenza."
)
DUE = datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC)


def new_message(**overrides: Any) -> NewMessage:
    values: dict[str, Any] = {"fiscal_code": CF, "subject": SUBJECT, "markdown": MARKDOWN}
    values.update(overrides)
    return NewMessage(**values)


# Every kind of message body the client can build (used by the contract tests).
MESSAGE_VARIANTS: dict[str, NewMessage] = {
    "standard": new_message(),
    "sandbox_recipient": new_message(fiscal_code="AAAAAA00A00A000A"),
    "secure_channels": new_message(require_secure_channels=True),
    "due_date": new_message(due_date=DUE),
    "payment": new_message(
        due_date=DUE,
        payment_data=PaymentData(amount=12050, notice_number=NOTICE_NUMBER),
    ),
    "payment_with_payee": new_message(
        due_date=DUE,
        payment_data=PaymentData(
            amount=9_999_999_999,
            notice_number=NOTICE_NUMBER,
            invalid_after_due_date=True,
            payee_fiscal_code=PAYEE_FISCAL_CODE,
        ),
    ),
    "standard_remote_content": new_message(
        third_party_data=ThirdPartyData(id="dispatch-42.cf-7", configuration_id=CONFIGURATION_ID),
    ),
    "advanced_attachments": new_message(
        feature_level_type=FeatureLevel.ADVANCED,
        due_date=DUE,
        payment_data=PaymentData(
            amount=1, notice_number=NOTICE_NUMBER, payee_fiscal_code=PAYEE_FISCAL_CODE
        ),
        third_party_data=ThirdPartyData(
            id="3f1c9a52-7d1e-4b8e-9a0b-2c55f0e6d111",
            configuration_id=CONFIGURATION_ID,
            has_attachments=True,
        ),
    ),
}

PROFILE_ALLOWED: dict[str, Any] = {"sender_allowed": True, "preferred_languages": ["it_IT"]}
PROFILE_BLOCKED: dict[str, Any] = {"sender_allowed": False}

FEED: dict[str, Any] = {
    "dateUTC": "2026-03-01",
    "subscriptions": ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    "unsubscriptions": [],
}

CREATED: dict[str, Any] = {"id": MESSAGE_ID}

MESSAGE_ACCEPTED: dict[str, Any] = {
    "message": {
        "id": MESSAGE_ID,
        "fiscal_code": CF,
        "created_at": "2026-03-01T10:00:00.000Z",
        "sender_service_id": SERVICE_ID,
        "feature_level_type": "STANDARD",
    },
    "status": "ACCEPTED",
}

MESSAGE_ADVANCED_PAID: dict[str, Any] = {
    "message": {
        "id": MESSAGE_ID,
        "fiscal_code": CF,
        "created_at": "2026-03-01T10:00:00.000Z",
        "sender_service_id": SERVICE_ID,
        "time_to_live": 3600,
        "feature_level_type": "ADVANCED",
        "content": {
            "subject": SUBJECT,
            "markdown": MARKDOWN,
            "due_date": "2026-03-31T21:59:59.000Z",
            "payment_data": {
                "amount": 12050,
                "notice_number": NOTICE_NUMBER,
                "invalid_after_due_date": False,
                "payee": {"fiscal_code": PAYEE_FISCAL_CODE},
            },
            "third_party_data": {
                "id": "3f1c9a52-7d1e-4b8e-9a0b-2c55f0e6d111",
                "configuration_id": CONFIGURATION_ID,
                "has_attachments": True,
            },
        },
    },
    "status": "PROCESSED",
    "read_status": "READ",
    "payment_status": "PAID",
}

PROBLEM_INVALID_MESSAGE: dict[str, Any] = {
    "title": "Invalid message structure",
    "detail": f'value ["{CF}"] at [root.fiscal_code] is not a valid [FiscalCode]',
    "status": 400,
}
PROBLEM_RECIPIENT_FORBIDDEN: dict[str, Any] = {
    "title": "Recipient forbidden",
    "detail": "You are not allowed to issue requests for the recipient.",
    "status": 403,
}
PROBLEM_PROFILE_NOT_FOUND: dict[str, Any] = {
    "title": "Profile not found",
    "detail": "The profile you requested was not found in the system.",
    "status": 404,
}
PROBLEM_FEED_NOT_READY: dict[str, Any] = {
    "title": "Data not available yet",
    "detail": "Subscription data for 2026-03-01 will be available from 2026-03-02",
    "status": 404,
}
GATEWAY_KEY_INVALID: dict[str, Any] = {
    "statusCode": 401,
    "message": "Access denied due to invalid subscription key. Make sure to provide a valid key.",
}
GATEWAY_RATE_LIMITED: dict[str, Any] = {
    "statusCode": 429,
    "message": "Rate limit is exceeded. Try again in 4 seconds.",
}
