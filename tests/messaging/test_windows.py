"""The pure send-window module: openings, holidays, DST, midnight, daily caps, estimates."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from ioportal.messaging.windows import (
    PRESET_WORKING_DAYS,
    ROME,
    Pacing,
    Schedule,
    closing,
    day_interval,
    days_with_window,
    estimate_last,
    is_holiday,
    is_open,
    national_holidays,
    next_opening,
    open_seconds,
    quota_today,
    shortfall,
    upcoming_holidays,
)

P = PRESET_WORKING_DAYS


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)  # type: ignore[misc]


def test_national_holidays_come_from_the_library() -> None:
    days = national_holidays(2026)
    assert date(2026, 4, 6) in days  # Easter Monday 2026
    assert date(2027, 3, 29) in national_holidays(2027)  # Easter Monday 2027
    for fixed in [(1, 1), (1, 6), (4, 25), (5, 1), (6, 2), (8, 15), (11, 1), (12, 8), (12, 25)]:
        assert date(2026, *fixed) in days
    assert date(2026, 12, 26) in days
    assert not is_holiday(date(2026, 12, 7))
    assert "Natale" in national_holidays(2026)[date(2026, 12, 25)]
    assert "Christmas" in national_holidays(2026, language="en_US")[date(2026, 12, 25)]


def test_upcoming_holidays_cross_the_year() -> None:
    found = upcoming_holidays(date(2026, 12, 20), days=15)
    assert [d for d, _n in found] == [date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1)]


def test_no_schedule_is_always_open() -> None:
    at = rome(2026, 12, 25, 3, 0)
    assert is_open(None, at)
    assert next_opening(None, at) == at
    assert closing(None, at) is None
    assert quota_today(None, Pacing(), at, remaining=10, used_today=0) is None


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (rome(2026, 12, 7, 7, 59), False),  # Monday before 8
        (rome(2026, 12, 7, 8, 0), True),  # opens exactly at 8
        (rome(2026, 12, 7, 19, 59, 59), True),
        (rome(2026, 12, 7, 20, 0), False),  # closes exactly at 20
        (rome(2026, 12, 8, 10, 0), False),  # Immacolata, a Tuesday
        (rome(2026, 12, 12, 10, 0), True),  # Saturday is a working day
        (rome(2026, 12, 13, 10, 0), False),  # Sunday
        (rome(2026, 4, 6, 10, 0), False),  # Easter Monday
        (rome(2026, 4, 7, 10, 0), True),
    ],
)
def test_preset_working_days(at: datetime, open_: bool) -> None:
    assert is_open(P, at) is open_


def test_next_opening_skips_sunday_and_holidays() -> None:
    # Saturday 5 December 2026, 21:00 → Sunday closed → Monday 7 at 08:00.
    assert next_opening(P, rome(2026, 12, 5, 21, 0)) == rome(2026, 12, 7, 8, 0)
    # Monday 7 December 20:00 → Tuesday 8 is a holiday → Wednesday 9 at 08:00.
    assert next_opening(P, rome(2026, 12, 7, 20, 0)) == rome(2026, 12, 9, 8, 0)
    # Christmas Eve evening → 25, 26 (Saturday) holidays, 27 Sunday → Monday 28.
    assert next_opening(P, rome(2026, 12, 24, 20, 30)) == rome(2026, 12, 28, 8, 0)
    # Already open: the moment itself, with the closing time.
    assert next_opening(P, rome(2026, 12, 9, 9, 15)) == rome(2026, 12, 9, 9, 15)
    assert closing(P, rome(2026, 12, 9, 9, 15)) == rome(2026, 12, 9, 20, 0)
    assert closing(P, rome(2026, 12, 9, 21, 0)) is None


def test_results_are_utc() -> None:
    opening = next_opening(P, rome(2026, 12, 5, 21, 0))
    assert opening is not None and opening.tzinfo is UTC
    assert opening == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # 08:00 CET = 07:00 UTC


def test_holidays_can_be_sent_on_when_not_skipped() -> None:
    schedule = Schedule(hours=P.hours, skip_holidays=False)
    assert is_open(schedule, rome(2026, 12, 8, 10, 0))


def test_summer_time_windows_keep_local_hours() -> None:
    # 08:00 in summer is 06:00 UTC; in winter 07:00 UTC.
    assert day_interval(P, date(2026, 7, 1)) == (
        datetime(2026, 7, 1, 6, tzinfo=UTC),
        datetime(2026, 7, 1, 18, tzinfo=UTC),
    )
    assert day_interval(P, date(2026, 1, 7)) == (
        datetime(2026, 1, 7, 7, tzinfo=UTC),
        datetime(2026, 1, 7, 19, tzinfo=UTC),
    )


def test_dst_spring_forward_day() -> None:
    # 29 March 2026 (Sunday): 02:00 → 03:00. A window 00:00–24:00 lasts 23 hours.
    sunday = Schedule(hours={6: (time(0), time(0))}, skip_holidays=False)
    opens, closes = day_interval(sunday, date(2026, 3, 29))  # type: ignore[misc]
    assert closes - opens == timedelta(hours=23)
    # A window starting in the skipped hour (02:30) starts at 03:30 summer time.
    gap = Schedule(hours={6: (time(2, 30), time(4, 0))}, skip_holidays=False)
    assert day_interval(gap, date(2026, 3, 29)) == (
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 0, tzinfo=UTC),
    )
    assert open_seconds(gap, rome(2026, 3, 29, 0, 0), rome(2026, 3, 30, 0, 0)) == 1800


def test_dst_fall_back_day() -> None:
    # 25 October 2026 (Sunday): 03:00 → 02:00. A window 00:00–24:00 lasts 25 hours; one
    # from the repeated hour starts at its first occurrence.
    sunday = Schedule(hours={6: (time(0), time(0))}, skip_holidays=False)
    opens, closes = day_interval(sunday, date(2026, 10, 25))  # type: ignore[misc]
    assert closes - opens == timedelta(hours=25)
    twice = Schedule(hours={6: (time(2, 30), time(3, 30))}, skip_holidays=False)
    assert day_interval(twice, date(2026, 10, 25)) == (
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 30, tzinfo=UTC),
    )
    # Sending 08–20 across the change: still 08:00 local on Monday.
    assert next_opening(P, rome(2026, 10, 24, 21, 0)) == datetime(2026, 10, 26, 7, tzinfo=UTC)


def test_window_to_midnight_and_across_midnight() -> None:
    late = Schedule(hours={0: (time(18), time(0))}, skip_holidays=False)
    assert is_open(late, rome(2026, 12, 7, 23, 59, 59))
    assert not is_open(late, rome(2026, 12, 8, 0, 0))
    assert closing(late, rome(2026, 12, 7, 23, 0)) == rome(2026, 12, 8, 0, 0)
    # The next opening after Monday's midnight is the next Monday.
    assert next_opening(late, rome(2026, 12, 8, 0, 0)) == rome(2026, 12, 14, 18, 0)


def test_invalid_schedules_are_refused() -> None:
    with pytest.raises(ValueError):
        Schedule(hours={0: (time(20), time(8))})
    with pytest.raises(ValueError):
        Schedule(hours={7: (time(8), time(20))})
    assert next_opening(Schedule(hours={}), rome(2026, 12, 7, 10)) is None


def test_days_with_window() -> None:
    # From Friday 11 at 10:00 to Wednesday 16 at 09:00: Fri, Sat, Mon, Tue, Wed.
    assert days_with_window(P, rome(2026, 12, 11, 10), rome(2026, 12, 16, 9)) == 5
    # Friday after closing until Monday 07:00: Saturday only.
    assert days_with_window(P, rome(2026, 12, 11, 21), rome(2026, 12, 14, 7)) == 1


def test_without_a_schedule_every_day_is_a_sending_day() -> None:
    # Wednesday 9 at 10:00 to Saturday 12 at 20:00: Wed, Thu, Fri, Sat, as with windows open
    # on every one of those days, whatever the hour.
    now, by = rome(2026, 12, 9, 10), rome(2026, 12, 12, 20)
    assert days_with_window(None, now, by) == 4
    assert days_with_window(None, now, rome(2026, 12, 9, 23)) == 1
    # A deadline at midnight does not count the day it opens.
    assert days_with_window(None, now, rome(2026, 12, 12, 0)) == 3
    # The day of 25 hours (clocks back, 25 October) is one day.
    assert days_with_window(None, rome(2026, 10, 24, 12), rome(2026, 10, 26, 12)) == 3
    # 1,200 due in four days: 300 today, not all of them.
    assert quota_today(None, Pacing(send_by=by), now, remaining=1200, used_today=0) == 300
    assert quota_today(None, Pacing(send_by=by), now, remaining=900, used_today=300) == 0
    # Open all along, in one interval per local day.
    assert open_seconds(None, now, by) == (by - now).total_seconds()
    assert next_opening(None, now) == now


def test_daily_cap_quota() -> None:
    now = rome(2026, 12, 9, 10)
    cap = Pacing(daily_cap=2000)
    assert quota_today(P, cap, now, remaining=10_000, used_today=0) == 2000
    assert quota_today(P, cap, now, remaining=10_000, used_today=1990) == 10
    assert quota_today(P, cap, now, remaining=10_000, used_today=2000) == 0
    assert quota_today(P, cap, now, remaining=10_000, used_today=2100) == 0  # never negative


def test_deadline_spreads_evenly_within_the_cap() -> None:
    # Wednesday 9 at 10:00, by Saturday 12 at 20:00: Wed, Thu, Fri, Sat = 4 days.
    now, by = rome(2026, 12, 9, 10), rome(2026, 12, 12, 20)
    assert quota_today(P, Pacing(send_by=by), now, remaining=1000, used_today=0) == 250
    assert quota_today(P, Pacing(send_by=by), now, remaining=750, used_today=250) == 0
    assert quota_today(P, Pacing(send_by=by, daily_cap=100), now, remaining=1000, used_today=0) == (
        100
    )
    # On the last day everything left may go.
    last = rome(2026, 12, 12, 9)
    assert quota_today(P, Pacing(send_by=by), last, remaining=333, used_today=0) == 333
    # A passed deadline no longer limits (the cap still does).
    after = rome(2026, 12, 14, 9)
    assert quota_today(P, Pacing(send_by=by), after, remaining=333, used_today=0) is None
    assert quota_today(P, Pacing(send_by=by, daily_cap=5), after, remaining=9, used_today=0) == 5


def test_estimate_without_limits_is_count_over_rate() -> None:
    start = rome(2026, 12, 9, 10)
    assert estimate_last(None, Pacing(), start, 3000, 15.0) == start + timedelta(seconds=200)
    assert estimate_last(None, Pacing(), start, 0, 15.0) == start
    with pytest.raises(ValueError):
        estimate_last(None, Pacing(), start, 10, 0)


def test_estimate_with_a_window_ending_mid_dispatch() -> None:
    # Friday 11 December 19:50: 10 minutes left at 1/s = 600 messages; Saturday opens at
    # 08:00, the remaining 400 go by 08:06:40.
    start = rome(2026, 12, 11, 19, 50)
    assert estimate_last(P, Pacing(), start, 1000, 1.0) == rome(2026, 12, 12, 8, 6, 40)
    # Started outside the window: waits for the opening.
    assert estimate_last(P, Pacing(), rome(2026, 12, 13, 12), 60, 1.0) == rome(2026, 12, 14, 8, 1)


def test_estimate_with_a_daily_cap() -> None:
    # 5,000 at 2,000 a day from Wednesday 9 at 10:00 (fast rate): Wed, Thu, then Fri.
    start = rome(2026, 12, 9, 10)
    last = estimate_last(P, Pacing(daily_cap=2000), start, 5000, 100.0)
    assert last == rome(2026, 12, 11, 8, 0, 10)  # 1,000 on Friday at 100/s
    # Cap of a multiple: finishes on the day the last batch goes, on Saturday (skips Sunday).
    assert estimate_last(P, Pacing(daily_cap=1000), start, 4000, 100.0) == rome(
        2026, 12, 12, 8, 0, 10
    )


def test_estimate_across_holidays_and_dst() -> None:
    # From Thursday 24 December 19:59 at 1/s: 60 go that day, then 25, 26, 27 are closed.
    last = estimate_last(P, Pacing(), rome(2026, 12, 24, 19, 59), 120, 1.0)
    assert last == rome(2026, 12, 28, 8, 1)
    # From Saturday 28 March 19:59 (winter time) to Monday 30 (summer time).
    last = estimate_last(P, Pacing(), rome(2026, 3, 28, 19, 59), 120, 1.0)
    assert last == rome(2026, 3, 30, 8, 1)
    assert last is not None and last.utcoffset() == timedelta(0)


def test_estimate_with_an_even_spread() -> None:
    # 1,000 by Saturday 12 at 20:00 from Wednesday 9 at 10:00: 250 a day, last on Saturday.
    last = estimate_last(
        P, Pacing(send_by=rome(2026, 12, 12, 20)), rome(2026, 12, 9, 10), 1000, 100.0
    )
    assert last == rome(2026, 12, 12, 8, 0, 2, 500000)


def test_estimate_with_an_even_spread_and_no_schedule() -> None:
    # 1,200 by Saturday 12 at 20:00 from Wednesday 9 at 10:00, no windows: 300 a day, the last
    # 300 on Saturday from 08:00 (a paced dispatch without windows goes in daytime), not at
    # midnight, and not all of them on Wednesday.
    by = rome(2026, 12, 12, 20)
    last = estimate_last(None, Pacing(send_by=by), rome(2026, 12, 9, 10), 1200, 15.0)
    assert last == rome(2026, 12, 12, 8, 0, 20)
    assert shortfall(None, Pacing(send_by=by), rome(2026, 12, 9, 10), 1200, 15.0) is None
    # A cap alone without a schedule: 500 a day, the third day's 200 from its 08:00.
    last = estimate_last(None, Pacing(daily_cap=500), rome(2026, 12, 9, 10), 1200, 10.0)
    assert last == rome(2026, 12, 11, 8, 0, 20)
    # Not paced: at once, at any hour.
    assert estimate_last(None, Pacing(), rome(2026, 12, 9, 23), 10, 10.0) == rome(
        2026, 12, 9, 23, 0, 1
    )


def test_a_paced_dispatch_without_windows_sends_in_daytime() -> None:
    """Each day's share starts at 08:00 and ends by 20:00 local, never at midnight; the days
    counted for the even spread are those with daytime left."""
    from ioportal.messaging.windows import PACED_DAYTIME, pacing_schedule

    by = rome(2026, 12, 12, 20)
    assert pacing_schedule(None, Pacing(send_by=by)) is PACED_DAYTIME
    assert pacing_schedule(None, Pacing(daily_cap=5)) is PACED_DAYTIME
    assert pacing_schedule(None, Pacing()) is None
    assert pacing_schedule(P, Pacing(send_by=by)) is P
    # Launched at 22:00 on Wednesday: Thursday, Friday and Saturday remain, 400 a day.
    assert (
        quota_today(None, Pacing(send_by=by), rome(2026, 12, 9, 22), remaining=1200, used_today=0)
        == 400
    )
    # The first of 1,200 leaves on Thursday at 08:00, the last on Saturday morning.
    last = estimate_last(None, Pacing(send_by=by), rome(2026, 12, 9, 22), 1200, 10.0)
    assert last == rome(2026, 12, 12, 8, 0, 40)
    # The night of a paced dispatch is no open time; 08:00 is.
    assert not is_open(PACED_DAYTIME, rome(2026, 12, 10, 0, 0))
    assert is_open(PACED_DAYTIME, rome(2026, 12, 25, 8, 0))  # holidays too


def test_estimate_beyond_the_horizon_is_none() -> None:
    assert estimate_last(P, Pacing(daily_cap=1), rome(2026, 12, 9, 10), 10_000, 1.0) is None
    assert estimate_last(Schedule(hours={}), Pacing(), rome(2026, 12, 9, 10), 1, 1.0) is None


def test_shortfall_refuses_a_deadline_the_cap_cannot_meet() -> None:
    start = rome(2026, 12, 9, 10)
    by_friday = rome(2026, 12, 11, 20)
    # 3 days (Wed, Thu, Fri) × 2,000 = 6,000 ≥ 5,000: feasible.
    assert shortfall(P, Pacing(daily_cap=2000, send_by=by_friday), start, 5000, 100.0) is None
    # 7,000 need a fourth day: the last would go on Saturday.
    late = shortfall(P, Pacing(daily_cap=2000, send_by=by_friday), start, 7000, 100.0)
    assert late == rome(2026, 12, 12, 8, 0, 10)
    # The account's rate alone can make it impossible: 1/s for 10 hours is 36,000.
    assert shortfall(P, Pacing(send_by=rome(2026, 12, 9, 20)), start, 40_000, 1.0) is not None
    assert shortfall(P, Pacing(daily_cap=10), start, 40_000, 1.0) is None  # no deadline


def test_stored_form_round_trips() -> None:
    from ioportal.messaging.windows import hours_to_stored, schedule_from_hours

    stored = hours_to_stored(P.hours)
    assert stored["0"] == ["08:00", "20:00"] and "6" not in stored
    assert schedule_from_hours(stored, skip_holidays=True) == P
    with pytest.raises(ValueError):
        schedule_from_hours({"0": ["25:00", "26:00"]}, skip_holidays=True)
