"""Request bodies sent to IO, built from typed values and validated with IO's limits first.

`validate_new_message` returns every problem at once (field path + Italian sentence), so a form
or a CSV import can show them all; `build_message_payload` returns the JSON body or raises
`PayloadInvalidError`. The body is assembled field by field, so retired fields
(`prescription_data`, `legal_data`, `default_addresses`) and the deprecated `time_to_live` can
never be sent.
"""

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import messages_it as it
from .errors import FieldError, PayloadInvalidError
from .fiscalcode import FISCAL_CODE_RE, is_valid_fiscal_code, normalize_fiscal_code
from .results import FeatureLevel

SUBJECT_MIN, SUBJECT_MAX = 10, 120
MARKDOWN_MIN, MARKDOWN_MAX = 80, 10000
AMOUNT_MIN, AMOUNT_MAX = 1, 9_999_999_999  # euro cents (PaymentAmount)
NOTICE_NUMBER_RE = re.compile(r"^[0123][0-9]{17}$")
ORGANIZATION_FISCAL_CODE_RE = re.compile(r"^[0-9]{11}$")
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
# IO only asks for a non-empty id, but calls {base_url}/messages/{id} with it: keep it to URL
# "unreserved" characters so it needs no escaping and cannot change the path.
THIRD_PARTY_ID_MAX = 200
THIRD_PARTY_ID_RE = re.compile(r"^[A-Za-z0-9._~-]{1,200}$")


@dataclass(frozen=True)
class PaymentData:
    """A pagoPA payment notice attached to the message."""

    amount: int  # euro cents
    notice_number: str  # "Numero Avviso", 18 digits
    invalid_after_due_date: bool = False
    # 11-digit fiscal code of the creditor entity. Sending it needs the IO group
    # ApiMessageWriteWithPayee; when omitted IO uses the sending service's organization.
    payee_fiscal_code: str | None = None


@dataclass(frozen=True)
class ThirdPartyData:
    """Remote content: IO fetches details/attachments from the portal with `id`."""

    id: str
    configuration_id: str  # ULID of the remote-content configuration registered with IO
    has_attachments: bool = False  # only with FeatureLevel.ADVANCED


@dataclass(frozen=True)
class NewMessage:
    """One message for one citizen."""

    fiscal_code: str
    subject: str
    markdown: str
    feature_level_type: FeatureLevel = FeatureLevel.STANDARD
    due_date: datetime | None = None  # timezone-aware; sent in UTC
    payment_data: PaymentData | None = None
    third_party_data: ThirdPartyData | None = None
    # None leaves IO's service setting in force; True = push only, no e-mail.
    require_secure_channels: bool | None = None


def js_length(text: str) -> int:
    """Length as IO's runtime (JavaScript) counts it: UTF-16 code units, so an emoji is 2."""
    return len(text.encode("utf-16-le")) // 2


@functools.lru_cache(maxsize=256)
def format_timestamp(value: datetime) -> str:
    """IO's Timestamp: ISO-8601 in UTC with milliseconds and `Z`, e.g. 2026-01-31T23:59:59.000Z.
    Remembered per value: a list's messages usually share one due date."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def validate_fiscal_code(value: str, field: str = "fiscal_code") -> list[FieldError]:
    """Problems with a citizen fiscal code (IO's pattern, then check character and date)."""
    normalized = normalize_fiscal_code(value)
    if not normalized:
        return [FieldError.of(field, it.FISCAL_CODE_REQUIRED)]
    if not FISCAL_CODE_RE.match(normalized):
        return [FieldError.of(field, it.FISCAL_CODE_FORMAT)]
    if not is_valid_fiscal_code(normalized):
        return [FieldError.of(field, it.FISCAL_CODE_CHECKSUM)]
    return []


def format_euro(cents: int) -> str:
    """Cents as an Italian euro amount: 123456 -> "1.234,56 €"."""
    whole, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return f"{sign}{whole:,}".replace(",", ".") + f",{rest:02d} €"


def _amount_error(field: str, template: str, **cents: int) -> FieldError:
    """The problem of an amount: the Italian message with euro ("1.234,56 €"), the params in
    cents (messages_it.EURO_PARAMS), so a reader of another language gets its own notation."""
    message = template.format(**{name: format_euro(value) for name, value in cents.items()})
    return FieldError(field, message, template, tuple(cents.items()))


def _validate_payment(payment: PaymentData, max_allowed_amount: int | None) -> list[FieldError]:
    prefix = "content.payment_data"
    errors: list[FieldError] = []
    # bool is an int in Python; IO would reject true/false as an amount.
    if not isinstance(payment.amount, int) or isinstance(payment.amount, bool):
        errors.append(FieldError.of(f"{prefix}.amount", it.AMOUNT_TYPE))
    elif not AMOUNT_MIN <= payment.amount <= AMOUNT_MAX:
        errors.append(
            _amount_error(f"{prefix}.amount", it.AMOUNT_RANGE, min=AMOUNT_MIN, max=AMOUNT_MAX)
        )
    elif max_allowed_amount is not None and payment.amount > max_allowed_amount:
        errors.append(
            _amount_error(
                f"{prefix}.amount",
                it.AMOUNT_OVER_SERVICE_MAX,
                amount=payment.amount,
                max=max_allowed_amount,
            )
        )
    if not NOTICE_NUMBER_RE.match(payment.notice_number):
        errors.append(FieldError.of(f"{prefix}.notice_number", it.NOTICE_NUMBER_FORMAT))
    if payment.payee_fiscal_code is not None and not ORGANIZATION_FISCAL_CODE_RE.match(
        payment.payee_fiscal_code
    ):
        errors.append(FieldError.of(f"{prefix}.payee.fiscal_code", it.PAYEE_FISCAL_CODE_FORMAT))
    return errors


def _validate_third_party(data: ThirdPartyData, level: FeatureLevel | None) -> list[FieldError]:
    prefix = "content.third_party_data"
    errors: list[FieldError] = []
    if not THIRD_PARTY_ID_RE.match(data.id):
        errors.append(
            FieldError.of(f"{prefix}.id", it.THIRD_PARTY_ID_FORMAT, max=THIRD_PARTY_ID_MAX)
        )
    # IO answers 403 without configuration_id, so it is required here although the schema
    # marks it optional.
    if not ULID_RE.match(data.configuration_id):
        errors.append(FieldError.of(f"{prefix}.configuration_id", it.CONFIGURATION_ID_FORMAT))
    if data.has_attachments and level is not FeatureLevel.ADVANCED:
        errors.append(FieldError.of(f"{prefix}.has_attachments", it.ATTACHMENTS_NEED_ADVANCED))
    return errors


def validate_new_message(
    message: NewMessage, *, max_allowed_payment_amount: int | None = None
) -> list[FieldError]:
    """Every problem IO would reject `message` for, as (field, Italian sentence) pairs.

    `max_allowed_payment_amount` is the service's maximum in euro cents, when known (IO answers
    400 above it). An empty list means the message can be sent. No side effects.
    """
    errors = validate_fiscal_code(message.fiscal_code)

    subject_length = js_length(message.subject)
    if not SUBJECT_MIN <= subject_length <= SUBJECT_MAX:
        errors.append(
            FieldError.of(
                "content.subject",
                it.SUBJECT_LENGTH,
                min=SUBJECT_MIN,
                max=SUBJECT_MAX,
                actual=subject_length,
            )
        )
    markdown_length = js_length(message.markdown)
    if not MARKDOWN_MIN <= markdown_length <= MARKDOWN_MAX:
        errors.append(
            FieldError.of(
                "content.markdown",
                it.MARKDOWN_LENGTH,
                min=MARKDOWN_MIN,
                max=MARKDOWN_MAX,
                actual=markdown_length,
            )
        )

    level: FeatureLevel | None
    try:
        level = FeatureLevel(message.feature_level_type)
    except ValueError:
        level = None
        errors.append(FieldError.of("feature_level_type", it.FEATURE_LEVEL_UNKNOWN))

    if message.due_date is not None and message.due_date.utcoffset() is None:
        errors.append(FieldError.of("content.due_date", it.DUE_DATE_NAIVE))
    if message.payment_data is not None:
        errors += _validate_payment(message.payment_data, max_allowed_payment_amount)
    if message.third_party_data is not None:
        errors += _validate_third_party(message.third_party_data, level)
    return errors


def build_message_payload(
    message: NewMessage, *, max_allowed_payment_amount: int | None = None
) -> dict[str, Any]:
    """The JSON body of POST /messages (NewMessage with the fiscal code in the body).

    Raises PayloadInvalidError listing every problem. No side effects.
    """
    errors = validate_new_message(message, max_allowed_payment_amount=max_allowed_payment_amount)
    if errors:
        raise PayloadInvalidError(errors)
    return {
        "fiscal_code": normalize_fiscal_code(message.fiscal_code),
        "feature_level_type": FeatureLevel(message.feature_level_type).value,
        "content": message_content(message),
    }


def message_content(message: NewMessage) -> dict[str, Any]:
    """The `content` object of POST /messages (MessageContent in io-spec), unvalidated:
    subject, markdown, and when set require_secure_channels, due_date (UTC timestamp),
    payment_data (amount in euro cents) and third_party_data."""
    content: dict[str, Any] = {"subject": message.subject, "markdown": message.markdown}
    if message.require_secure_channels is not None:
        content["require_secure_channels"] = message.require_secure_channels
    if message.due_date is not None:
        content["due_date"] = format_timestamp(message.due_date)
    if message.payment_data is not None:
        payment = message.payment_data
        payment_body: dict[str, Any] = {
            "amount": payment.amount,
            "notice_number": payment.notice_number,
            "invalid_after_due_date": payment.invalid_after_due_date,
        }
        if payment.payee_fiscal_code is not None:
            payment_body["payee"] = {"fiscal_code": payment.payee_fiscal_code}
        content["payment_data"] = payment_body
    if message.third_party_data is not None:
        third_party = message.third_party_data
        content["third_party_data"] = {
            "id": third_party.id,
            "configuration_id": third_party.configuration_id,
            "has_attachments": third_party.has_attachments,
        }
    return content


def build_profile_payload(fiscal_code: str) -> dict[str, Any]:
    """The JSON body of POST /profiles (FiscalCodePayload). Raises PayloadInvalidError."""
    errors = validate_fiscal_code(fiscal_code)
    if errors:
        raise PayloadInvalidError(errors)
    return {"fiscal_code": normalize_fiscal_code(fiscal_code)}
