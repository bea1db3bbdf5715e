"""The account rate limiter: the sliding window of the calls it granted, the pacing, low
priority, batched reservations and the 429 policy; against a fake clock (database backend)
and, for the same rules, Redis's own clock (Lua script)."""

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from ioportal.accounts.models import Organization
from ioportal.sending import limiter
from ioportal.sending.conf import limiter_backend
from ioportal.sending.models import AccountState
from tests.conftest import require_service

LIMIT = 150  # calls per 5 s
BUDGET = 147  # default target 0.98
INTERVAL = 5 / LIMIT  # pacing at IO's own rate: one call every 33 ms
TOLERANCE = 0.5 * INTERVAL  # default burst 0.01 × 150 = 1.5 calls


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Clock:
    settings.SENDING_LIMITER = "db"
    fake = Clock()
    monkeypatch.setattr(limiter, "clock", fake)
    return fake


def take(organization: Organization, low_priority: bool = False) -> float:
    return limiter.take_token(
        organization_id=organization.pk, limit=LIMIT, low_priority=low_priority
    )


def grant_moments(
    organization: Organization, clock: Clock, seconds: float, late: float = 0.0
) -> list[float]:
    """Moments of the calls granted in `seconds` to a taker that asks again at once after a
    grant, and `late` seconds after the end of every wait it is told."""
    moments = []
    end = clock.now + seconds
    while clock.now < end:
        wait = take(organization)
        if wait <= 0:
            moments.append(clock.now)
        else:
            clock.now += max(wait, 1e-6) + late  # a rounding-sized wait must move the clock
    return moments


def busiest(moments: list[float], window: float = 5.0) -> int:
    worst, start = 0, 0
    for end, at in enumerate(moments):
        while moments[start] <= at - window:
            start += 1
        worst = max(worst, end - start + 1)
    return worst


def test_calls_are_paced_at_io_rate_without_a_burst(
    organization: Organization, clock: Clock
) -> None:
    assert take(organization) == 0
    # The tolerance lets the next call start half an interval early, no more.
    assert take(organization) == pytest.approx(INTERVAL - TOLERANCE)
    clock.now += 10  # idle: still one call and a half, not ten seconds' worth
    assert take(organization) == 0
    assert take(organization) > 0


def test_the_window_holds_the_budget_and_utilisation_reaches_it(
    organization: Organization, clock: Clock
) -> None:
    moments = grant_moments(organization, clock, 30.0)
    # Pacing alone would allow 151 calls in 5 s; the window stops at the budget.
    assert busiest(moments) == BUDGET
    assert len(moments) >= 6 * BUDGET - 1  # 98 % of IO's limit over 30 s
    # The same with takers 1 ms late after every wait (sleep overshoot, lock, round trip).
    clock.now += 10
    late = grant_moments(organization, clock, 30.0, late=0.001)
    assert busiest(late) <= BUDGET
    assert len(late) >= 0.97 * LIMIT * 6


def test_target_sets_the_budget(organization: Organization, clock: Clock, settings: Any) -> None:
    settings.SENDING_RATE_TARGET = 0.9
    settings.SENDING_RATE_BURST = 1.0  # no pacing limit within the window
    assert [take(organization) for _ in range(135)] == [0.0] * 135  # floor(0.9 × 150)
    assert take(organization) == pytest.approx(5.0 + limiter.EDGE)


def test_low_priority_uses_only_the_budget_submissions_leave(
    organization: Organization, clock: Clock
) -> None:
    poll_delay = 1.5 * 0.5 * INTERVAL  # half the tolerance in calls, on top of the turn
    # An idle account serves a poll at once.
    assert take(organization, low_priority=True) == 0
    clock.now += 1
    assert take(organization, low_priority=True) == 0
    # Just after a call, a poll waits longer than a submission ...
    poll_wait = take(organization, low_priority=True)
    submission_wait = take(organization)
    assert submission_wait == pytest.approx(INTERVAL - TOLERANCE)
    assert poll_wait == pytest.approx(INTERVAL - TOLERANCE + poll_delay)
    # ... so a submission waiting for its turn gets it first, and the poll waits again.
    clock.now += submission_wait + 1e-9
    assert take(organization) == 0
    # (that submission started half an interval early: the next turn is a whole one away)
    assert take(organization, low_priority=True) == pytest.approx(INTERVAL + poll_delay)


def test_take_tokens_reserves_several_calls_in_one_round_trip(
    organization: Organization, clock: Clock
) -> None:
    delays, wait = limiter.take_tokens(
        organization_id=organization.pk, limit=LIMIT, count=5, horizon=0.1
    )
    # Paced: now, then every interval from half an interval on, up to the horizon.
    assert delays == pytest.approx([0, 0.5 * INTERVAL, 1.5 * INTERVAL, 2.5 * INTERVAL])
    assert wait == 0
    # The reservations count in the window and the pacing: the next call comes after them.
    assert take(organization) == pytest.approx(3.5 * INTERVAL)
    assert limiter.take_tokens(organization_id=organization.pk, limit=LIMIT, count=0) == ([], 0)


def rejected(organization: Organization, retry_after: float = 5) -> str:
    return limiter.rate_limited(
        organization_id=organization.pk, limit=LIMIT, retry_after=retry_after
    )


def test_an_isolated_429_neither_pauses_nor_slows_the_account(
    organization: Organization, clock: Clock
) -> None:
    grant_moments(organization, clock, 5.0)
    assert rejected(organization) == "isolated"
    # The next call comes at its turn, as if nothing happened.
    assert take(organization) < INTERVAL
    # 2 % of the calls refused, for half a minute: never a pause, the budget intact.
    kinds = set()
    for _ in range(6):
        moments = grant_moments(organization, clock, 5.0)
        assert len(moments) >= BUDGET - 2
        kinds |= {rejected(organization), rejected(organization), rejected(organization)}
    assert kinds == {"isolated"}
    state = limiter.state(organization_id=organization.pk, limit=LIMIT)
    assert state["factor"] == 1.0 and state["paused"] == 0


def test_repeated_429s_we_did_not_cause_pause_and_slow_down_then_recover(
    organization: Organization, clock: Clock
) -> None:
    # Half the budget in use, and IO refuses: its window holds calls we did not make.
    moments = grant_moments(organization, clock, 2.5)
    own = len(moments)
    assert rejected(organization) == "isolated"
    kinds = [rejected(organization, retry_after=3) for _ in range(19)]
    assert kinds[-1] == "foreign"
    # Every worker waits IO's wait ...
    assert take(organization) == pytest.approx(3)
    state = limiter.state(organization_id=organization.pk, limit=LIMIT)
    assert state["budget"] < BUDGET
    assert state["factor"] == pytest.approx((own - 20) / BUDGET, abs=0.01)
    # ... then goes on with the budget IO accepted, which grows back within seconds.
    clock.now += 5
    assert take(organization) == 0
    clock.now += (1 - state["factor"]) / limiter.RECOVERY_PER_SECOND - 2 + 0.01
    assert limiter.state(organization_id=organization.pk, limit=LIMIT)["factor"] == 1.0


def test_429s_at_our_own_budget_are_an_overrun(organization: Organization, clock: Clock) -> None:
    grant_moments(organization, clock, 5.0)
    kinds = [rejected(organization, retry_after=1) for _ in range(10)]
    assert kinds[:7] == ["isolated"] * 7  # up to 5 % of the 147 calls in the window
    assert kinds[7:] == ["overrun"] * 3
    assert take(organization) == pytest.approx(1)
    row = AccountState.objects.get(organization=organization)
    assert row.rate_factor == pytest.approx((BUDGET - 10) / BUDGET, abs=0.01)


def test_backend_choice_is_validated() -> None:
    assert limiter_backend("auto", "") == "db"
    assert limiter_backend("auto", "redis://h/1") == "redis"
    assert limiter_backend("DB", "redis://h/1") == "db"
    assert limiter_backend("redis", "redis://h/1") == "redis"
    with pytest.raises(ImproperlyConfigured, match="needs REDIS_URL"):
        limiter_backend("redis", "")
    with pytest.raises(ImproperlyConfigured, match="must be one of"):
        limiter_backend("memcached", "redis://h/1")


def test_an_unknown_backend_is_a_system_check_error(settings: Any) -> None:
    from ioportal.sending.checks import check_limiter

    settings.SENDING_LIMITER = "reddis"
    assert [e.id for e in check_limiter()] == ["sending.E005"]
    settings.SENDING_LIMITER = "db"
    settings.SENDING_RATE_TARGET = 1.2
    assert [e.id for e in check_limiter()] == ["sending.E006"]


# -- the same rules on each backend, on the real clock ---------------------------------------


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        available = True
    except Exception:
        available = False
    require_service("Redis", available, "set REDIS_URL or run redis-server on 127.0.0.1:6379")
    return url


@pytest.fixture(params=["db", pytest.param("redis", marks=pytest.mark.redis)])
def backend(
    request: pytest.FixtureRequest, settings: Any, organization: Organization
) -> Iterator[str]:
    settings.SENDING_LIMITER = request.param
    if request.param == "redis":
        import redis

        settings.REDIS_URL = request.getfixturevalue("redis_url")
        limiter._redis_script.cache_clear()
        client = redis.Redis.from_url(settings.REDIS_URL)
        client.delete(*limiter.redis_keys(organization.pk))
        yield request.param
        client.delete(*limiter.redis_keys(organization.pk))
        limiter._redis_script.cache_clear()
    else:
        yield request.param


def test_backend_holds_the_window_budget(
    organization: Organization, backend: str, settings: Any
) -> None:
    settings.SENDING_RATE_BURST = 1.0  # the whole limit at once: only the window binds
    limit = 20
    granted = [limiter.take_token(organization_id=organization.pk, limit=limit) for _ in range(20)]
    # floor(0.98 × 20) = 19, but at least 3 calls of margin: 17
    assert granted[:17] == [0.0] * 17
    assert all(4.5 < wait <= 5.01 for wait in granted[17:])
    assert limiter.state(organization_id=organization.pk, limit=limit)["calls"] == 17


def test_backend_paces_and_reserves(organization: Organization, backend: str) -> None:
    interval = 5 / LIMIT
    delays, wait = limiter.take_tokens(
        organization_id=organization.pk, limit=LIMIT, count=5, horizon=0.1
    )
    assert len(delays) == 4 and wait == 0
    assert delays[0] == pytest.approx(0, abs=0.002)
    assert delays[-1] == pytest.approx(2.5 * interval, abs=0.005)
    assert 0 < take(organization) <= 3.5 * interval
    poll_wait = take(organization, low_priority=True)
    assert poll_wait > take(organization)  # a poll waits for the reserve on top of its turn


def test_backend_429_policy(organization: Organization, backend: str) -> None:
    assert take(organization) == 0
    assert rejected(organization, retry_after=2) == "isolated"
    assert take(organization) < 1
    # Two refusals for one call of ours: IO counts calls we did not make.
    assert rejected(organization, retry_after=2) == "foreign"
    state = limiter.state(organization_id=organization.pk, limit=LIMIT)
    assert 1.5 < state["paused"] <= 2.0
    assert state["factor"] == pytest.approx(limiter.MIN_FACTOR)
    assert 1.5 < take(organization) <= 2.0
