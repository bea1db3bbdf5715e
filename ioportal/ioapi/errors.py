"""Every failure of an IO call, classified by what the caller may safely do next.

    IOApiError                      base class: catch it to catch everything
    ├── RateLimitedError            429: not accepted; wait `retry_after` seconds, then retry
    ├── TransientError              not done, retry later with backoff (see `maybe_processed`)
    ├── AmbiguousError              the request may have reached IO: never resend blindly
    └── PermanentError              IO refused; retrying the same request will not help
        ├── KeyRejectedError        401: the subscription key is missing, wrong or revoked
        ├── NotFoundError           404 (profile not on IO, message or feed day not found)
        └── PayloadInvalidError     refused locally before sending, with per-field errors

The split: only a failure that *certainly* did not reach IO is
Transient; anything that may have been received after the request was written is Ambiguous.
Messages and reprs never contain the subscription key, and fiscal codes in them are masked.
"""

from dataclasses import dataclass

from .results import CallInfo


@dataclass(frozen=True)
class FieldError:
    """One validation problem: `field` is a dotted path in IO's payload, `message` Italian text.

    `template` is the text of `messages_it` the message was made from and `params` the values
    filled into it with str.format, as (name, value) pairs: the portal translates `template`
    and fills it again (ioportal.core.io_texts). An empty template means `message` is it.
    """

    field: str
    message: str
    template: str = ""
    params: tuple[tuple[str, str | int], ...] = ()

    @classmethod
    def of(cls, field: str, template: str, **params: str | int) -> "FieldError":
        """The problem of `field` told by `template` (a messages_it text) with `params`."""
        return cls(field, template.format(**params), template, tuple(params.items()))


class IOApiError(Exception):
    """Base of every error raised by the IO client.

    `call` describes the HTTP call (None when nothing was sent); `status_code` is the HTTP
    status when a response arrived.
    """

    def __init__(self, message: str, *, call: CallInfo | None = None) -> None:
        super().__init__(message)
        self.call = call

    @property
    def status_code(self) -> int | None:
        return self.call.status_code if self.call else None

    @property
    def operation(self) -> str | None:
        return self.call.operation if self.call else None


class RateLimitedError(IOApiError):
    """429 from IO's gateway: the account's shared quota (150 or 250 calls / 5 s) is spent.

    The request was not processed. `retry_after` is in seconds, read from
    `x-rate-limit-retry-after`, then `Retry-After`, then the "Try again in N seconds" text of the
    gateway's JSON body, else a default; `retry_after_source` says which one was used.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        retry_after_source: str,
        call: CallInfo | None = None,
    ) -> None:
        super().__init__(message, call=call)
        self.retry_after = retry_after
        self.retry_after_source = retry_after_source


class TransientError(IOApiError):
    """A failure expected to go away: retry later with backoff.

    Raised when the request certainly never reached IO (DNS failure, connection refused,
    connect timeout, certificate rejected, connection pool closed) and for HTTP 5xx and 408.

    `maybe_processed` is True for a 5xx/408 answer to a message submission: IO stores the
    message in the last step before answering 201, so an error raised after that step may
    follow a successful write, and the client cannot tell a gateway error from a backend one.
    The caller decides (by installation setting) whether to treat it as ambiguous.
    """

    def __init__(
        self, message: str, *, maybe_processed: bool = False, call: CallInfo | None = None
    ) -> None:
        super().__init__(message, call=call)
        self.maybe_processed = maybe_processed


class AmbiguousError(IOApiError):
    """No usable answer, and the request may have been received and processed by IO.

    Raised for a read timeout, a connection reset or closed after the request was written
    (RemoteDisconnected, ProtocolError), a truncated or undecodable body, a TLS error other than
    certificate verification, any unrecognised transport error, and a 2xx answer to a
    submission whose message id cannot be read. A submission in this state must never be
    resent automatically: IO has no idempotency key, a resend may deliver a duplicate.
    For reads (profile, status, feed) the caller may simply retry.
    """


class PermanentError(IOApiError):
    """IO answered and refused the request (4xx other than 408/429, or an unusable 3xx).

    Keeps IO's problem+json fields: `title` (short English summary, stable per cause, e.g.
    "Recipient forbidden"), `detail` (free text, fiscal codes masked), `problem_status`,
    `problem_type`. For the gateway's own JSON errors (`{"statusCode", "message"}`) `detail`
    holds `message` and `title` is None.
    """

    def __init__(
        self,
        message: str,
        *,
        title: str | None = None,
        detail: str | None = None,
        problem_status: int | None = None,
        problem_type: str | None = None,
        call: CallInfo | None = None,
    ) -> None:
        super().__init__(message, call=call)
        self.title = title
        self.detail = detail
        self.problem_status = problem_status
        self.problem_type = problem_type

    @property
    def is_recipient_forbidden(self) -> bool:
        """403 "Recipient forbidden": the service is in limited (test) mode and the citizen is
        not among its authorized recipients."""
        return self.status_code == 403 and self.title == "Recipient forbidden"

    @property
    def is_amount_over_max(self) -> bool:
        """400 "Error while sending payment metadata": the payment amount is above the
        service's `max_allowed_payment_amount` (IO-API.md, submitMessage)."""
        return self.status_code == 400 and self.title == "Error while sending payment metadata"

    @property
    def refusal(self) -> str:
        """What IO refused, for the caller's outcome: "recipient_forbidden" (test mode, not an
        authorised recipient), "amount_over_max", "forbidden" (other 403), "content" (other
        400), "not_found" (404), "key" (401) or "other"."""
        if self.is_recipient_forbidden:
            return "recipient_forbidden"
        if self.is_amount_over_max:
            return "amount_over_max"
        if self.status_code == 401:
            return "key"
        if self.status_code == 403:
            return "forbidden"
        if self.status_code == 404:
            return "not_found"
        if self.status_code == 400:
            return "content"
        return "other"


class KeyRejectedError(PermanentError):
    """401: the gateway rejected the subscription key. Every call with this key will fail
    until an administrator fixes it: pause the service's sending."""


class NotFoundError(PermanentError):
    """404. For the profile check: the citizen has no IO profile or disabled the inbox.
    For the feed: title "Data not available yet" means the day is not over (retry after
    00:00 UTC of the next day). For get_message: unknown id for that fiscal code."""


class PayloadInvalidError(PermanentError):
    """The payload was refused locally, before any call; `errors` lists every problem."""

    def __init__(self, errors: list[FieldError] | tuple[FieldError, ...]) -> None:
        self.errors = tuple(errors)
        text = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        super().__init__(
            f"Dati del messaggio non validi: {text}", title="Invalid payload", detail=text
        )
