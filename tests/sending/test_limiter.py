"""The account token bucket: capacity, refill rate, low priority, against a fake clock (DB)
and Redis's own clock (Redis)."""

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ioportal.accounts.models import Organization
from ioportal.sending import limiter
from tests.conftest import require_service

LIMIT = 150  # calls per 5 s


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


def grants(organization: Organization, clock: Clock, seconds: float, late: float = 0.0) -> int:
    """Calls granted in `seconds` to a taker that asks again at once after a grant, and `late`
    seconds after the end of every wait it is told."""
    granted = 0
    end = clock.now + seconds
    while clock.now < end:
        wait = take(organization)
        if wait <= 0:
            granted += 1
        else:
            clock.now += max(wait, 1e-6) + late  # a rounding-sized wait must move the clock
    return granted


RATE = LIMIT * 0.96 / 5  # default target: 28.8 tokens/s
CAPACITY = 1.5  # default burst 0.01 × 150, above the one-token minimum


def test_defaults_hold_a_token_and_a_half_and_refill_at_the_target(
    organization: Organization, clock: Clock
) -> None:
    assert take(organization) == 0
    wait = take(organization)
    assert wait == pytest.approx((1 - (CAPACITY - 1)) / RATE)  # no burst: half a token left
    clock.now += 10  # idle: the bucket still holds 1.5 tokens, not ten seconds' worth
    assert take(organization) == 0
    assert take(organization) > 0
    # In (almost) 5 seconds: the capacity plus the refill, under IO's limit by 4 calls.
    clock.now += 10
    assert grants(organization, clock, 4.99) == int(CAPACITY + RATE * 4.99) == 145


def test_half_a_token_of_slack_keeps_the_rate_when_takers_are_late(
    organization: Organization, clock: Clock, settings: Any
) -> None:
    # Each taker reaches the limiter 1 ms after the token is due (sleep, lock, round trip).
    assert grants(organization, clock, 20, late=0.001) >= int(RATE * 20)
    # With exactly one token, what accrues in that ms is dropped every time: 3% of the rate.
    settings.SENDING_RATE_BURST = 0
    clock.now += 60
    assert grants(organization, clock, 20, late=0.001) <= int(20 / (1 / RATE + 0.001)) + 1
    assert int(20 / (1 / RATE + 0.001)) < RATE * 20 * 0.975


def test_burst_setting_sets_the_capacity(
    organization: Organization, clock: Clock, settings: Any
) -> None:
    settings.SENDING_RATE_TARGET = 0.9
    settings.SENDING_RATE_BURST = 0.02  # 3 tokens at 150 calls/5 s
    assert [take(organization) for _ in range(3)] == [0, 0, 0]
    assert take(organization) == pytest.approx(5 / (LIMIT * 0.9))
    clock.now += 60
    assert grants(organization, clock, 4.99) == 3 + int(LIMIT * 0.9 / 5 * 4.99)


def test_low_priority_uses_only_the_budget_submissions_leave(
    organization: Organization, clock: Clock
) -> None:
    poll_need = 1 + CAPACITY / 2  # more than the bucket holds: counted past the cap
    # An idle bucket (never used, or full for a while) serves a poll at once.
    assert take(organization, low_priority=True) == 0
    clock.now += 1
    assert take(organization, low_priority=True) == 0
    # Just after a call, a poll waits longer than a submission ...
    left = CAPACITY - 1
    poll_wait = take(organization, low_priority=True)
    submission_wait = take(organization)
    assert poll_wait == pytest.approx((poll_need - left) / RATE)
    assert submission_wait == pytest.approx((1 - left) / RATE)
    # ... so a submission waiting for the token gets it first, and the poll waits again.
    clock.now += submission_wait + 1e-9
    assert take(organization) == 0
    assert take(organization, low_priority=True) == pytest.approx(poll_need / RATE)
    # Nobody takes a token: the poll gets one once the bucket has been full for a while.
    clock.now += CAPACITY / RATE
    assert take(organization, low_priority=True) == pytest.approx((poll_need - CAPACITY) / RATE)
    clock.now += (poll_need - CAPACITY) / RATE + 1e-9
    assert take(organization, low_priority=True) == 0


def test_429_pauses_and_halves_the_rate(organization: Organization, clock: Clock) -> None:
    assert take(organization) == 0
    limiter.rate_limited(organization_id=organization.pk, limit=LIMIT, retry_after=3)
    assert take(organization) == pytest.approx(3)
    clock.now += 3
    # Empty after the pause, refilling at half the rate (plus the linear recovery).
    assert take(organization) == pytest.approx(1 / (RATE * 0.5))


@pytest.fixture
def redis_limiter(settings: Any) -> Iterator[None]:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        available = True
    except Exception:
        available = False
    require_service("Redis", available, "set REDIS_URL or run redis-server on 127.0.0.1:6379")
    settings.REDIS_URL = url
    settings.SENDING_LIMITER = "auto"
    limiter._redis_script.cache_clear()
    yield
    limiter._redis_script.cache_clear()


@pytest.mark.redis
def test_redis_bucket_holds_a_token_and_a_half_and_serves_idle_polls(
    organization: Organization, redis_limiter: None
) -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    key = limiter.redis_key(organization.pk)
    client.delete(key)
    try:
        assert take(organization, low_priority=True) == 0  # never used: idle
        wait = take(organization)  # half a token left
        assert 0 < wait <= 0.5 / RATE + 0.002
        time.sleep(1.0)  # idle: 1.5 tokens, not 28.8
        assert take(organization) == 0
        assert take(organization) > 0
        poll_wait = take(organization, low_priority=True)
        submission_wait = take(organization)
        assert poll_wait > submission_wait + 0.5 / RATE  # the reserve on top of the token
        time.sleep(poll_wait + 0.01)
        assert take(organization, low_priority=True) == 0
    finally:
        client.delete(key)


def test_take_tokens_grants_what_the_bucket_holds_in_one_go(
    organization: Organization, clock: Clock, settings: Any
) -> None:
    settings.SENDING_RATE_BURST = 0.1  # 15 tokens at 150 calls / 5 s
    granted, wait = limiter.take_tokens(organization_id=organization.pk, limit=150, count=40)
    assert (granted, wait) == (15, 0.0)
    granted, wait = limiter.take_tokens(organization_id=organization.pk, limit=150, count=40)
    assert granted == 0 and wait > 0
    clock.now += 0.1  # 2.88 tokens accrued at 28.8/s
    granted, _wait = limiter.take_tokens(organization_id=organization.pk, limit=150, count=40)
    assert granted == 2
