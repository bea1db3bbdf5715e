"""What the compose pages need to know of how a dispatch will be sent: the organization's send
windows, the deliveries per second its IO account allows and the pipeline's clock.

They live in `ioportal.sending` (its models and settings), which sits above messaging, so
`ioportal.sending` registers them here once (`SendingConfig.ready`) and the pages and forms
of messaging ask through this module. The arithmetic on them is `messaging.windows`'s.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ioportal.accounts.models import Organization
from ioportal.messaging import windows


@dataclass(frozen=True)
class SendConditions:
    """The sending side's answers, as registered by `ioportal.sending`.

    - `schedule_for(organization_id)`: the organization's send windows as stored now
      (None: always open).
    - `deliveries_per_second(organization)`: deliveries per second (float, ≥ 0) the account's
      IO rate limit allows the pipeline.
    - `now()`: an aware datetime (UTC) by the clock the workers share.
    """

    schedule_for: Callable[[int], windows.Schedule | None]
    deliveries_per_second: Callable[[Organization], float]
    now: Callable[[], datetime]


_registered: list[SendConditions] = []


def register_send_conditions(conditions: SendConditions) -> None:
    """Set where the send conditions come from (called once by `ioportal.sending`)."""
    _registered[:] = [conditions]


def send_conditions() -> SendConditions:
    """The registered send conditions; RuntimeError when `ioportal.sending` is not installed."""
    if not _registered:
        raise RuntimeError("no send conditions registered: is ioportal.sending installed?")
    return _registered[0]


def estimate_last(
    *, organization: Organization, count: int, start: datetime, pacing: windows.Pacing
) -> datetime | None:
    """When the last of `count` deliveries would be submitted, from `start` (aware), under the
    organization's windows and its account's rate (see `windows.estimate_last`); None when
    never (no open window within the horizon, or an account allowed no calls at all)."""
    conditions = send_conditions()
    schedule = conditions.schedule_for(organization.pk)
    rate = conditions.deliveries_per_second(organization)
    if rate <= 0:
        return None
    return windows.estimate_last(schedule, pacing, start, count, rate)


def shortfall(
    *, organization: Organization, count: int, start: datetime, pacing: windows.Pacing
) -> datetime | None:
    """The estimated last submission when it misses `pacing.send_by`, else None (see
    `windows.shortfall`). An account allowed no calls misses any deadline: the horizon's end."""
    conditions = send_conditions()
    schedule = conditions.schedule_for(organization.pk)
    rate = conditions.deliveries_per_second(organization)
    if rate <= 0:
        return start + timedelta(days=windows.HORIZON_DAYS) if pacing.send_by else None
    return windows.shortfall(schedule, pacing, start, count, rate)
