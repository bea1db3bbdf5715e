"""Strict reading of the operator's environment variables for `ioportal.settings`.

A value that is not understood stops the start with ImproperlyConfigured naming the variable,
what it accepts and what it got, instead of falling back to a default in silence (a typo such
as `DEBUG=ture` or `SENDING_LIMITER=redis` without Redis must not change behaviour unseen).
An unset or empty variable means its default.
"""

import os
from collections.abc import Iterable, Mapping

from django.core.exceptions import ImproperlyConfigured

# Variables earlier versions read that are now constants in the code; settings.py refuses
# to start while one is set.
NO_LONGER_READ = (
    "DB_CONN_MAX_AGE",
    "Q_TIMEOUT",
    "Q_RETRY",
    "IO_API_CONNECT_TIMEOUT",
    "IO_API_READ_TIMEOUT",
    "REMOTE_CONTENT_RETRY_AFTER_SECONDS",
    "RECIPIENTS_XLSX_MAX_UNCOMPRESSED_MB",
    "SENDING_RATE_BURST",
    "SENDING_BATCH_SIZE",
    "SENDING_TASK_BUDGET",
    "SENDING_LEASE_SECONDS",
    "SENDING_BACKOFF_BASE",
    "SENDING_BACKOFF_CAP",
    "SENDING_BREAKER_THRESHOLD",
    "SENDING_BREAKER_COOLDOWN",
    "SENDING_AUTOPAUSE_MIN",
    "SENDING_AUTOPAUSE_RATE",
    "SENDING_AUTOPAUSE_WINDOW",
    "SENDING_FEED_BACKFILL_DAYS",
    "SENDING_FEED_MAX_LAG_DAYS",
    "WORKER_HEARTBEAT_STALE_SECONDS",
)

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


class Environment:
    """Typed getters over a mapping of variables (default: `os.environ`, read at each call).

    Every getter raises ImproperlyConfigured when the value is malformed or out of range.
    """

    def __init__(self, variables: Mapping[str, str] | None = None) -> None:
        self._variables = variables

    def raw(self, name: str) -> str | None:
        """The stripped value, or None when the variable is unset or empty."""
        variables = os.environ if self._variables is None else self._variables
        value = variables.get(name, "").strip()
        return value or None

    def get_str(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def get_list(self, name: str, default: Iterable[str]) -> list[str]:
        """Comma-separated values, blanks dropped."""
        value = self.raw(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def get_bool(self, name: str, default: bool) -> bool:
        """true/yes/on/1 or false/no/off/0, in any case."""
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in TRUE_WORDS:
            return True
        if value.lower() in FALSE_WORDS:
            return False
        raise ImproperlyConfigured(
            f"{name} must be true or false (also yes/no, on/off, 1/0); got {value!r}."
        )

    def get_int(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be a whole number{_range(minimum, maximum)}; got {value!r}."
            ) from None
        _check_range(name, number, minimum, maximum, whole=True)
        return number

    def get_float(
        self,
        name: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        above: float | None = None,
    ) -> float:
        """A decimal number (dot as separator); `above` is an exclusive lower bound."""
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if number != number or number in (float("inf"), float("-inf")):
            raise ImproperlyConfigured(
                f"{name} must be a number{_range(minimum, maximum, above)}; got {value!r}."
            )
        _check_range(name, number, minimum, maximum, above=above)
        return number

    def get_choice(self, name: str, default: str, choices: Iterable[str]) -> str:
        """One of `choices`, compared without regard to case; returned as listed."""
        allowed = list(choices)
        value = self.raw(name)
        if value is None:
            return default
        for choice in allowed:
            if value.lower() == choice.lower():
                return choice
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(allowed)}; got {value!r}.")

    def get_int_list(self, name: str, default: Iterable[int], *, minimum: int = 1) -> list[int]:
        """Comma-separated whole numbers, at least one, each at least `minimum`."""
        value = self.raw(name)
        if value is None:
            return list(default)
        items = [item.strip() for item in value.split(",") if item.strip()]
        numbers: list[int] = []
        for item in items:
            try:
                numbers.append(int(item))
            except ValueError:
                numbers = []
                break
        if not numbers or min(numbers) < minimum:
            raise ImproperlyConfigured(
                f"{name} must be a comma-separated list of whole numbers of at least "
                f"{minimum}; got {value!r}."
            )
        return numbers


def _range(minimum: float | None, maximum: float | None, above: float | None = None) -> str:
    parts = []
    if above is not None:
        parts.append(f"greater than {above:g}")
    if minimum is not None:
        parts.append(f"at least {minimum:g}")
    if maximum is not None:
        parts.append(f"at most {maximum:g}")
    return (" " + " and ".join(parts)) if parts else ""


def _check_range(
    name: str,
    number: float,
    minimum: float | None,
    maximum: float | None,
    *,
    above: float | None = None,
    whole: bool = False,
) -> None:
    too_low = (minimum is not None and number < minimum) or (above is not None and number <= above)
    if too_low or (maximum is not None and number > maximum):
        kind = "a whole number" if whole else "a number"
        raise ImproperlyConfigured(
            f"{name} must be {kind}{_range(minimum, maximum, above)}; got {number:g}."
        )
