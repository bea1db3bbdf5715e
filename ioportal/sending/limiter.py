"""One token bucket per IO account, shared by every worker process, plus the circuit breaker.

IO counts 150 (or 250) calls per 5 s per account, over all services and endpoints, in an
exact sliding window. The bucket refills at `SENDING_RATE_TARGET` of that rate and holds
`SENDING_RATE_BURST` × limit tokens, at least one. In any 5-second window IO then sees at most
capacity + rate × (5 s + spread of the delay between taking a token and the request reaching
IO) calls: with the defaults (0.96, 0.01) 1.5 + 144 + 28.8/s × spread at 150 calls/5 s, under
the limit while that spread stays below ~150 ms. The half token above one is not a burst: a
bucket of exactly one token drops whatever accrues between the token becoming whole and the
next taker reaching the limiter (~1 ms a call: sleep overshoot, lock or round trip, Redis's
1 ms waits), 3% of the rate at 150 calls/5 s.

Two implementations with the same behaviour: a row per account in the database (default), or
a Redis hash updated by one Lua script (when REDIS_URL is set). Both fail closed: no token, no
call.

On a 429 every worker of the account waits for IO's retry-after and the rate is halved
(AIMD), then grows back by RECOVERY_PER_SECOND. Low-priority calls (status polls, feed) need
a reserve on top of their token (`_need`), so they only use budget the submissions leave.
"""

import logging
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from ioportal.sending import clock
from ioportal.sending.conf import sending_settings
from ioportal.sending.models import AccountState

logger = logging.getLogger(__name__)

RECOVERY_PER_SECOND = 0.05  # rate factor regained per second after a 429 (0.5 -> 1 in 10 s)
MIN_FACTOR = 0.25
FAIL_CLOSED_WAIT = 1.0
LOW_PRIORITY_RESERVE = 0.5  # share of the bucket a poll must leave for submissions


def _rate_and_capacity(limit: int) -> tuple[float, float]:
    conf = sending_settings()
    return limit * conf.rate_target / conf.rate_window, max(1.0, limit * conf.rate_burst)


def _need(capacity: float, low_priority: bool) -> float:
    """Tokens accrued (counted without the cap) before a call is granted: 1, or for a
    low-priority call 1 plus LOW_PRIORITY_RESERVE of the capacity. With a bucket of less than
    two tokens that is more than it holds: a poll then goes only once the full bucket has been
    left untaken for a while (~26 ms with 1.5 tokens at 150 calls/5 s), so a submission
    waiting for a token always wins it and polls use only the budget submissions leave."""
    return 1.0 + (capacity * LOW_PRIORITY_RESERVE if low_priority else 0.0)


def _ensure_row(organization_id: int) -> None:
    if organization_id not in _known_rows:
        AccountState.objects.get_or_create(organization_id=organization_id)
        _known_rows.add(organization_id)


_known_rows: set[int] = set()


# -- database ---------------------------------------------------------------------------------


def _take_db(organization_id: int, limit: int, low_priority: bool, count: int = 1) -> float:
    granted, wait = _take_many_db(organization_id, limit, low_priority, count)
    return 0.0 if granted else wait


def _take_many_db(
    organization_id: int, limit: int, low_priority: bool, count: int
) -> tuple[int, float]:
    rate, capacity = _rate_and_capacity(limit)
    _ensure_row(organization_id)
    with transaction.atomic():
        state = AccountState.objects.select_for_update().get(organization_id=organization_id)
        now = clock.time()
        if state.paused_until > now:
            return 0, state.paused_until - now
        factor = 1.0
        if state.factor_at:
            factor = min(1.0, state.rate_factor + RECOVERY_PER_SECOND * (now - state.factor_at))
        effective = rate * factor
        need = _need(capacity, low_priority)
        if state.refilled_at:
            # Uncapped: a low-priority call may need more than the capacity (see _need).
            accrued = state.tokens + effective * max(0.0, now - state.refilled_at)
        else:
            accrued = max(capacity, need)  # never used: idle
        if accrued < need:
            return 0, (need - accrued) / effective
        # As many as the bucket holds (never more than its capacity), at least one.
        granted = max(1, min(count, int(min(capacity, accrued) - need) + 1))
        AccountState.objects.filter(organization_id=organization_id).update(
            tokens=min(capacity, accrued) - granted,
            refilled_at=now,
            rate_factor=factor,
            factor_at=now,
        )
        return granted, 0.0


def _rate_limited_db(organization_id: int, retry_after: float) -> None:
    _ensure_row(organization_id)
    with transaction.atomic():
        state = AccountState.objects.select_for_update().get(organization_id=organization_id)
        now = clock.time()
        factor = state.rate_factor
        if state.factor_at:
            factor = min(1.0, factor + RECOVERY_PER_SECOND * (now - state.factor_at))
        until = max(state.paused_until, now + retry_after)
        AccountState.objects.filter(organization_id=organization_id).update(
            paused_until=until,
            tokens=0,
            refilled_at=until,
            rate_factor=max(MIN_FACTOR, factor / 2),
            factor_at=until,
            last_429_at=timezone.now(),
        )


# -- Redis ------------------------------------------------------------------------------------

# KEYS[1] = the account's hash. ARGV: rate, capacity, need, recovery, min_factor, mode, retry.
# mode "take": returns wait in ms (0 = token granted). mode "429": pauses and halves the rate.
LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local h = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'paused', 'factor', 'fat')
local rate, cap, need = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local recovery, minf = tonumber(ARGV[4]), tonumber(ARGV[5])
local paused = tonumber(h[3]) or 0
local factor = tonumber(h[4]) or 1
local fat = tonumber(h[5]) or 0
if fat > 0 then factor = math.min(1, factor + recovery * math.max(0, now - fat)) end
if ARGV[6] == '429' then
  local untl = math.max(paused, now + tonumber(ARGV[7]))
  redis.call('HSET', KEYS[1], 'tokens', 0, 'at', untl, 'paused', untl,
             'factor', math.max(minf, factor / 2), 'fat', untl)
  redis.call('EXPIRE', KEYS[1], 86400)
  return 0
end
if paused > now then return math.ceil((paused - now) * 1000) end
local eff = rate * factor
local at = tonumber(h[2])
local tokens = math.max(cap, need)
if at then tokens = tonumber(h[1]) + eff * math.max(0, now - at) end
if tokens < need then return math.max(1, math.ceil((need - tokens) / eff * 1000)) end
redis.call('HSET', KEYS[1], 'tokens', math.min(cap, tokens) - 1, 'at', now, 'factor', factor,
           'fat', now)
redis.call('EXPIRE', KEYS[1], 86400)
return 0
"""


@cache
def _redis_script():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return client.register_script(LUA)


def redis_key(organization_id: int) -> str:
    # The database name keeps installations (and test runs) sharing a Redis apart.
    return f"ioportal:limiter:{connection.settings_dict['NAME']}:{organization_id}"


def _redis_call(
    organization_id: int, limit: int, low_priority: bool, mode: str, retry: float
) -> float:
    rate, capacity = _rate_and_capacity(limit)
    need = _need(capacity, low_priority)
    try:
        waited = _redis_script()(
            keys=[redis_key(organization_id)],
            args=[rate, capacity, need, RECOVERY_PER_SECOND, MIN_FACTOR, mode, retry],
        )
    except Exception:  # any Redis failure: fail closed
        logger.warning("rate limiter unavailable (Redis): no call for %ss", FAIL_CLOSED_WAIT)
        return FAIL_CLOSED_WAIT
    return int(waited) / 1000


# -- public API -------------------------------------------------------------------------------


def take_token(*, organization_id: int, limit: int, low_priority: bool = False) -> float:
    """Try to take one call from the account's budget.

    Returns 0.0 when granted (the caller may make exactly one IO call), else the seconds to
    wait before trying again. Side effect: spends a token. Fails closed: when the backing
    store is unavailable it returns a wait, never a grant.
    """
    if sending_settings().limiter == "redis":
        return _redis_call(organization_id, limit, low_priority, "take", 0)
    try:
        return _take_db(organization_id, limit, low_priority)
    except Exception:
        logger.exception("rate limiter unavailable (database): no call")
        return FAIL_CLOSED_WAIT


def take_tokens(
    *, organization_id: int, limit: int, count: int, low_priority: bool = False
) -> tuple[int, float]:
    """Take up to `count` calls from the account's budget at once: (granted, wait).

    `granted` ≥ 1 when the bucket had a token (the caller may make that many IO calls, now:
    tokens kept for later would bunch calls past the bucket's spread), else 0 and the seconds
    to wait. The database backend grants them in one transaction (one per call otherwise);
    Redis, whose script costs no transaction, grants one. Fails closed like `take_token`.
    """
    if count <= 1 or sending_settings().limiter == "redis":
        wait = take_token(organization_id=organization_id, limit=limit, low_priority=low_priority)
        return (0, wait) if wait > 0 else (1, 0.0)
    try:
        return _take_many_db(organization_id, limit, low_priority, count)
    except Exception:
        logger.exception("rate limiter unavailable (database): no call")
        return 0, FAIL_CLOSED_WAIT


def rate_limited(*, organization_id: int, limit: int, retry_after: float) -> None:
    """IO answered 429: pause every worker of the account for `retry_after` and halve the rate.

    Idempotent in effect (the pause takes the later of the two ends).
    """
    logger.warning("IO 429 for account %s: pausing %.1fs", organization_id, retry_after)
    if sending_settings().limiter == "redis":
        _redis_call(organization_id, limit, False, "429", retry_after)
    _rate_limited_db(organization_id, retry_after)


# -- circuit breaker --------------------------------------------------------------------------


def breaker_allows(*, organization_id: int) -> tuple[bool, bool]:
    """(may call, is a probe). Closed: (True, False). Open: (False, False) until the
    cool-down passes; then exactly one caller wins a half-open probe (compare-and-set) and
    gets (True, True): it must make one call and report it."""
    _ensure_row(organization_id)
    state = AccountState.objects.get(organization_id=organization_id)
    conf = sending_settings()
    if state.breaker_failures < conf.breaker_threshold:
        return True, False
    now = clock.time()
    if state.breaker_open_until > now:
        return False, False
    won = AccountState.objects.filter(
        organization_id=organization_id, breaker_open_until=state.breaker_open_until
    ).update(breaker_open_until=now + conf.breaker_cooldown)
    return bool(won), bool(won)


def breaker_failure(*, organization_id: int) -> None:
    """Count one failure (timeout, 5xx, connection error); open the circuit at the threshold."""
    conf = sending_settings()
    AccountState.objects.filter(organization_id=organization_id).update(
        breaker_failures=F("breaker_failures") + 1
    )
    AccountState.objects.filter(
        organization_id=organization_id,
        breaker_failures__gte=conf.breaker_threshold,
        breaker_open_until__lte=clock.time(),
    ).update(breaker_open_until=clock.time() + conf.breaker_cooldown)


def breaker_success(*, organization_id: int) -> None:
    """IO answered: close the circuit."""
    AccountState.objects.filter(organization_id=organization_id, breaker_failures__gt=0).update(
        breaker_failures=0, breaker_open_until=0
    )
