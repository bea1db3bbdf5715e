"""IO (PagoPA) services API: HTTP client, typed results, classified errors, payload builders.

A plain package: no Django models and no Django import, so it can be used and tested alone.
"""

from .client import (
    DEFAULT_BASE_URL,
    OPERATIONS,
    ConnectionPool,
    IOClient,
    Operation,
    classify_transport_error,
    parse_retry_after,
)
from .errors import (
    AmbiguousError,
    FieldError,
    IOApiError,
    KeyRejectedError,
    NotFoundError,
    PayloadInvalidError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from .fiscalcode import (
    SANDBOX_FISCAL_CODE,
    fiscal_code_hash,
    is_valid_fiscal_code,
    mask_fiscal_code,
    mask_fiscal_codes_in_text,
    normalize_fiscal_code,
)
from .messages_it import describe_error_it
from .payloads import (
    NewMessage,
    PaymentData,
    ThirdPartyData,
    build_message_payload,
    build_profile_payload,
    validate_fiscal_code,
    validate_new_message,
)
from .results import (
    FINAL_MESSAGE_STATUSES,
    CallInfo,
    CreatedMessage,
    FeatureLevel,
    MessageInfo,
    MessageStatus,
    PaymentStatus,
    Profile,
    ReadStatus,
    SubscriptionsFeed,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "FINAL_MESSAGE_STATUSES",
    "OPERATIONS",
    "SANDBOX_FISCAL_CODE",
    "AmbiguousError",
    "CallInfo",
    "ConnectionPool",
    "CreatedMessage",
    "FeatureLevel",
    "FieldError",
    "IOApiError",
    "IOClient",
    "KeyRejectedError",
    "MessageInfo",
    "MessageStatus",
    "NewMessage",
    "NotFoundError",
    "Operation",
    "PayloadInvalidError",
    "PaymentData",
    "PaymentStatus",
    "PermanentError",
    "Profile",
    "RateLimitedError",
    "ReadStatus",
    "SubscriptionsFeed",
    "ThirdPartyData",
    "TransientError",
    "build_message_payload",
    "build_profile_payload",
    "classify_transport_error",
    "describe_error_it",
    "fiscal_code_hash",
    "is_valid_fiscal_code",
    "mask_fiscal_code",
    "mask_fiscal_codes_in_text",
    "normalize_fiscal_code",
    "parse_retry_after",
    "validate_fiscal_code",
    "validate_new_message",
]
