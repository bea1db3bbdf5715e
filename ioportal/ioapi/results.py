"""Typed results of the IO client calls.

IO's enums are "extensible" (new values may appear without notice), so every status keeps the
raw string IO sent and exposes the known enum, or None, through a property.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar


class MessageStatus(StrEnum):
    """`status` of a submitted message (MessageStatusValue)."""

    ACCEPTED = "ACCEPTED"  # stored, processing not finished yet
    THROTTLED = "THROTTLED"  # temporary failure, IO retries (no current IO code sets it)
    FAILED = "FAILED"  # processing failed after IO's retries: final
    PROCESSED = "PROCESSED"  # in the citizen's inbox: final
    REJECTED = "REJECTED"  # citizen not on IO or sender blocked: final


FINAL_MESSAGE_STATUSES = frozenset(
    {MessageStatus.PROCESSED, MessageStatus.REJECTED, MessageStatus.FAILED}
)


class ReadStatus(StrEnum):
    """`read_status`: only for ADVANCED messages read by a caller allowed to see it."""

    UNAVAILABLE = "UNAVAILABLE"
    UNREAD = "UNREAD"
    READ = "READ"


class PaymentStatus(StrEnum):
    """`payment_status`: only for ADVANCED, PROCESSED messages with payment data."""

    PAID = "PAID"
    NOT_PAID = "NOT_PAID"


class FeatureLevel(StrEnum):
    """`feature_level_type`: ADVANCED is a Premium message (billed, needs a contract)."""

    STANDARD = "STANDARD"
    ADVANCED = "ADVANCED"


_E = TypeVar("_E", bound=StrEnum)


def _known(enum: type[_E], raw: str | None) -> _E | None:
    if raw is None:
        return None
    try:
        return enum(raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class CallInfo:
    """What one HTTP call to IO looked like; safe to store and log (CF masked, no key)."""

    operation: str
    method: str
    status_code: int | None  # None when no response arrived
    duration_ms: int
    outcome: str  # "ok" or the name of the error class raised
    fiscal_code_masked: str | None
    rate_limit_remaining: int | None  # header x-rate-limit-remaining, when IO sent it


@dataclass(frozen=True)
class Profile:
    """Answer of the profile check (POST /profiles, LimitedProfile)."""

    sender_allowed: bool
    preferred_languages: tuple[str, ...]
    call: CallInfo


@dataclass(frozen=True)
class CreatedMessage:
    """A message IO accepted (201). Accepted is not delivered: poll `get_message`."""

    id: str
    call: CallInfo


@dataclass(frozen=True)
class MessageInfo:
    """A submitted message as reported by GET /messages/{fiscal_code}/{id}."""

    id: str
    fiscal_code: str = field(repr=False)  # personal data: kept out of reprs and logs
    created_at: datetime | None
    sender_service_id: str | None
    feature_level_type: str | None
    status_raw: str | None
    read_status_raw: str | None
    payment_status_raw: str | None
    call: CallInfo

    @property
    def status(self) -> MessageStatus | None:
        """The known status, or None when IO sent none or a value unknown to this client."""
        return _known(MessageStatus, self.status_raw)

    @property
    def read_status(self) -> ReadStatus | None:
        return _known(ReadStatus, self.read_status_raw)

    @property
    def payment_status(self) -> PaymentStatus | None:
        return _known(PaymentStatus, self.payment_status_raw)

    @property
    def is_final(self) -> bool:
        """True for PROCESSED, REJECTED and FAILED: IO will not change the status any more."""
        return self.status in FINAL_MESSAGE_STATUSES


@dataclass(frozen=True)
class SubscriptionsFeed:
    """One UTC day of the subscriptions feed: SHA-256 hashes of fiscal codes (a daily delta)."""

    date_utc: date
    subscriptions: tuple[str, ...]
    unsubscriptions: tuple[str, ...]
    call: CallInfo
