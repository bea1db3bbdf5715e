"""Send windows and pacing: when messages may reach citizens, and how fast a dispatch goes.

Pure functions (no database, no clock of their own): every instant is an aware datetime
passed in by the caller, and the result is an aware datetime in UTC.

- A `Schedule` is an organization's send windows: for each weekday (Monday = 0) at most one
  interval of local time in `tz` (Europe/Rome, with its daylight saving time), optionally
  closed on Italy's national holidays (from the `holidays` library: New Year, Epiphany,
  Easter Monday, 25 April, 1 May, 2 June, 15 August, 4 October from 2026, 1 November,
  8, 25 and 26 December). No schedule (`None`) means always open: every local day is a
  day with a window, from midnight to midnight.
- An interval ending at 00:00 ends at the following midnight (a day of 23 or 25 hours on the
  days the clocks change is counted as it is). A local start or end that does not exist
  (the skipped hour in March) is read with the offset before the change, one that exists
  twice (the repeated hour in October) as its first occurrence (PEP 495, fold=0).
- A `Pacing` spreads one dispatch: at most `daily_cap` submissions per local day, and, with
  a `send_by` deadline, an even share of what is left per remaining day with an open window
  (never more than the cap). A deadline already passed no longer limits anything.
- A paced dispatch of an organization without windows is sent in daytime
  (`PACED_DAYTIME`, 08:00–20:00 local, every day): each day's share starts at 08:00, not at
  midnight (`pacing_schedule`). A dispatch that is not paced still goes at once, at any hour.
"""

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

ROME = ZoneInfo("Europe/Rome")
# Searches for an opening or a last message stop after this many days.
HORIZON_DAYS = 400
MIDNIGHT = time(0, 0)


@dataclass(frozen=True)
class Schedule:
    """Weekday (0 = Monday … 6 = Sunday) → (start, end) in local time; end 00:00 = midnight
    at the end of the day. A weekday that is absent is closed all day."""

    hours: Mapping[int, tuple[time, time]]
    skip_holidays: bool = True
    tz: ZoneInfo = field(default=ROME)

    def __post_init__(self) -> None:
        for weekday, (start, end) in self.hours.items():
            if weekday not in range(7):
                raise ValueError(f"weekday {weekday} is not 0..6")
            if end != MIDNIGHT and end <= start:
                raise ValueError(f"weekday {weekday}: the window ends before it starts")


# The ready preset "giorni feriali 8–20, festività escluse": Monday to Saturday (Saturday is
# a working day, "feriale", in Italian usage), 08:00–20:00, national holidays closed.
PRESET_WORKING_DAYS = Schedule(
    hours={weekday: (time(8, 0), time(20, 0)) for weekday in range(6)}, skip_holidays=True
)


# The hours of a paced dispatch (daily cap or deadline) when the organization has no send
# windows: its daily shares reach citizens in daytime, every day of the week, holidays too
# (without windows no day is closed), never at midnight when a new day's quota begins.
PACED_DAYTIME = Schedule(
    hours={weekday: (time(8, 0), time(20, 0)) for weekday in range(7)}, skip_holidays=False
)


def pacing_schedule(schedule: "Schedule | None", pacing: "Pacing") -> "Schedule | None":
    """The hours in which a dispatch with `pacing` may send: the organization's windows, or,
    without windows, PACED_DAYTIME for a paced dispatch and always (None) for the others."""
    if schedule is None and pacing.is_paced:
        return PACED_DAYTIME
    return schedule


def _parse_time(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def schedule_from_hours(stored: Mapping[str, list[str]], *, skip_holidays: bool) -> Schedule:
    """A Schedule from its stored form {"0": ["08:00", "20:00"], …}. Raises ValueError."""
    return Schedule(
        hours={
            int(day): (_parse_time(pair[0]), _parse_time(pair[1])) for day, pair in stored.items()
        },
        skip_holidays=skip_holidays,
    )


def hours_to_stored(hours: Mapping[int, tuple[time, time]]) -> dict[str, list[str]]:
    """The stored form of Schedule.hours (see `schedule_from_hours`)."""
    return {
        str(day): [start.strftime("%H:%M"), end.strftime("%H:%M")]
        for day, (start, end) in sorted(hours.items())
    }


@dataclass(frozen=True)
class Pacing:
    """How one dispatch is spread: `daily_cap` submissions per local day at most (None: no
    cap), all of them by `send_by` (None: no deadline)."""

    daily_cap: int | None = None
    send_by: datetime | None = None

    @property
    def is_paced(self) -> bool:
        return self.daily_cap is not None or self.send_by is not None


# -- holidays ---------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _holidays_of(year: int, language: str) -> dict[date, str]:
    calendar = holidays.country_holidays("IT", years=year, language=language)
    return dict(calendar.items())


def national_holidays(year: int, *, language: str = "it_IT") -> dict[date, str]:
    """Italy's national holidays of `year`: date → name ("it_IT" or "en_US"), from `holidays`."""
    return dict(_holidays_of(year, language))


def is_holiday(day: date) -> bool:
    return day in _holidays_of(day.year, "it_IT")


def upcoming_holidays(start: date, *, days: int = 366, language: str = "it_IT") -> list[tuple]:
    """[(date, name), …] of the national holidays from `start` for `days` days, in order."""
    end = start + timedelta(days=days)
    found: list[tuple[date, str]] = []
    for year in range(start.year, end.year + 1):
        found += [(d, n) for d, n in _holidays_of(year, language).items() if start <= d < end]
    return sorted(found)


# -- local days and intervals -----------------------------------------------------------------


def local_day(at: datetime, tz: ZoneInfo = ROME) -> date:
    return at.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo = ROME) -> datetime:
    """The first instant of local `day` (UTC)."""
    return datetime.combine(day, MIDNIGHT, tzinfo=tz).astimezone(UTC)


def day_interval(schedule: Schedule, day: date) -> tuple[datetime, datetime] | None:
    """The open interval of local `day` as UTC instants, or None when closed all day."""
    hours = schedule.hours.get(day.weekday())
    if hours is None or (schedule.skip_holidays and is_holiday(day)):
        return None
    start, end = hours
    opens = datetime.combine(day, start, tzinfo=schedule.tz).astimezone(UTC)
    if end == MIDNIGHT:
        closes = day_start(day + timedelta(days=1), schedule.tz)
    else:
        closes = datetime.combine(day, end, tzinfo=schedule.tz).astimezone(UTC)
    return (opens, closes) if closes > opens else None


def open_intervals(
    schedule: Schedule | None, start: datetime, end: datetime | None = None
) -> Iterator[tuple[datetime, datetime]]:
    """The open intervals from `start` (to `end`, or for HORIZON_DAYS), clipped, in order.
    No schedule is open every day all day: one interval per local day (Europe/Rome), so
    whoever counts the days with an open window counts each of them."""
    start = start.astimezone(UTC)
    limit = start + timedelta(days=HORIZON_DAYS) if end is None else end.astimezone(UTC)
    if schedule is None:
        opens = start
        while opens < limit:
            closes = min(day_start(local_day(opens) + timedelta(days=1)), limit)
            yield opens, closes
            opens = closes
        return
    day = local_day(start, schedule.tz) - timedelta(days=1)  # an interval may end after 00:00
    while True:
        interval = day_interval(schedule, day)
        if interval is not None:
            opens, closes = max(interval[0], start), min(interval[1], limit)
            if closes > opens:
                yield opens, closes
        if day_start(day + timedelta(days=1), schedule.tz) >= limit:
            return
        day += timedelta(days=1)


def is_open(schedule: Schedule | None, at: datetime) -> bool:
    """Whether messages may reach citizens at `at`."""
    if schedule is None:
        return True
    for day in (local_day(at, schedule.tz) - timedelta(days=1), local_day(at, schedule.tz)):
        interval = day_interval(schedule, day)
        if interval is not None and interval[0] <= at < interval[1]:
            return True
    return False


def next_opening(schedule: Schedule | None, at: datetime) -> datetime | None:
    """`at` when open, else the next moment a window opens (UTC); None if none within
    HORIZON_DAYS (a schedule with no weekday)."""
    for opens, _closes in open_intervals(schedule, at):
        return opens
    return None


def closing(schedule: Schedule | None, at: datetime) -> datetime | None:
    """When the window open at `at` closes (UTC); None when closed at `at` or always open."""
    if schedule is None or not is_open(schedule, at):
        return None
    for _opens, closes in open_intervals(schedule, at):
        return closes
    return None  # pragma: no cover - is_open guarantees an interval


def open_seconds(schedule: Schedule | None, start: datetime, end: datetime) -> float:
    return sum((b - a).total_seconds() for a, b in open_intervals(schedule, start, end))


# -- pacing -----------------------------------------------------------------------------------


def days_with_window(schedule: Schedule | None, start: datetime, end: datetime) -> int:
    """Local days with some open time in [start, end)."""
    tz = schedule.tz if schedule is not None else ROME
    return len({local_day(a, tz) for a, _b in open_intervals(schedule, start, end)})


def quota_today(
    schedule: Schedule | None,
    pacing: Pacing,
    now: datetime,
    *,
    remaining: int,
    used_today: int,
) -> int | None:
    """How many more submissions the dispatch may make today (local day of `now`).

    `remaining`: deliveries not yet submitted nor in flight; `used_today`: submitted since
    local midnight plus in flight. None = no limit. Never negative. Without windows, the days
    counted are those with daytime left (`pacing_schedule`).
    """
    schedule = pacing_schedule(schedule, pacing)
    allowed: int | None = None
    if pacing.daily_cap is not None:
        allowed = pacing.daily_cap - used_today
    if pacing.send_by is not None and pacing.send_by > now:
        days = days_with_window(schedule, now, pacing.send_by)
        if days:
            share = math.ceil((remaining + used_today) / days) - used_today
            allowed = share if allowed is None else min(allowed, share)
    return None if allowed is None else max(0, allowed)


def estimate_last(
    schedule: Schedule | None,
    pacing: Pacing,
    start: datetime,
    count: int,
    per_second: float,
) -> datetime | None:
    """When the last of `count` submissions goes (UTC), starting at `start`, at `per_second`
    submissions per second while a window is open, within the pacing's daily quota.
    `start` itself when `count` is 0; None beyond HORIZON_DAYS. Raises ValueError when
    `per_second` is not positive."""
    if per_second <= 0:
        raise ValueError("per_second must be positive")
    if count <= 0:
        return start.astimezone(UTC)
    schedule = pacing_schedule(schedule, pacing)
    tz = schedule.tz if schedule is not None else ROME
    remaining = count
    moment = start.astimezone(UTC)
    for _ in range(HORIZON_DAYS + 1):
        day = local_day(moment, tz)
        day_end = day_start(day + timedelta(days=1), tz)
        intervals = list(open_intervals(schedule, moment, day_end))
        if intervals:
            quota = quota_today(
                schedule, pacing, intervals[0][0], remaining=remaining, used_today=0
            )
            today = remaining if quota is None else min(remaining, quota)
            for opens, closes in intervals:
                if today <= 0:
                    break
                capacity = (closes - opens).total_seconds() * per_second
                if today <= capacity:
                    if today == remaining:
                        return opens + timedelta(seconds=today / per_second)
                    remaining -= today
                    today = 0
                    break
                sent = math.floor(capacity)
                today -= sent
                remaining -= sent
        moment = day_end
    return None


def shortfall(
    schedule: Schedule | None, pacing: Pacing, start: datetime, count: int, per_second: float
) -> datetime | None:
    """The estimated last submission when it falls after `pacing.send_by` (the deadline
    cannot be met with the daily cap, the account's rate and the windows), else None. The
    estimate ignores the even spread a deadline itself asks for."""
    if pacing.send_by is None:
        return None
    schedule = pacing_schedule(schedule, pacing)
    last = estimate_last(schedule, Pacing(daily_cap=pacing.daily_cap), start, count, per_second)
    if last is None or last > pacing.send_by:
        return last or start + timedelta(days=HORIZON_DAYS)
    return None


def describe_moment(moment: datetime) -> str:
    """A moment for a sentence, in the portal's time zone and the active language: "lunedì
    14 dicembre 2026, 08:00", "Monday 14 December 2026, 08:00" (Django's names of weekdays and
    months; the portal's Italian catalog writes them in lower case, as Italian does)."""
    from django.utils import timezone
    from django.utils.formats import date_format

    return date_format(timezone.localtime(moment), "l j F Y, H:i")
