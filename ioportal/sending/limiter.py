"""The rate limiter of each IO account, shared by every worker process, and the circuit breaker.

IO counts 150 (or 250) calls per 5 s per account, over all services and endpoints, in an
exact sliding window (shared/IO-API.md §5: APIM `rate-limit-by-key`). The limiter knows the calls it
granted in the last 5 s and grants a call only while fewer than the account's *budget* lie in
the window: floor(`SENDING_RATE_TARGET` × limit), default 0.98, so 147 of 150 and 245 of 250,
and at least `MIN_MARGIN` calls below the limit (57 of 60).
The budget is exact (no bucket to round down), so the rate reaches the budget; the calls the
budget keeps below IO's limit (3 at 150, 5 at 250) are the margin for the spread of the delay
between the grant and the request reaching IO (~100 ms at 30 calls/s).

Calls are also paced at IO's own rate (limit / 5 s) with a tolerance of
`RATE_BURST` (sending/conf.py) × limit calls (GCRA; 0.01 = 1.5 calls), so a window's budget is
spread over the window instead of leaving in one burst. Low-priority calls (status polls,
feed) wait `LOW_PRIORITY_RESERVE` × 1.5 intervals more than a submission (0.75 of an interval
by default), so a submission waiting for a call always gets it first and polls use the budget
submissions leave.

Time is the database server's (`clock.time()`) for the database backend, Redis's `TIME` for
Redis. Backends, chosen by `SENDING_LIMITER`:
- `db`: the `AccountState` row, locked for a short transaction; `take_tokens` reserves several
  calls (due within a short horizon) in one transaction, for callers making concurrent calls.
- `redis`: a hash and two sorted sets updated by one Lua script, atomically, without a
  transaction (one round trip per take).
- `auto` (default): `redis` when REDIS_URL is set, else `db`.
Both fail closed: no state, no call.

429 policy (`rate_limited`): the refused call waits IO's retry-after (the caller schedules
it). The account is paused for IO's wait and slowed down only when the 429s are not isolated:
more than `ISOLATED_429_SHARE` of the calls granted in the last window (and at least two).
Then the budget drops to the calls IO accepted in that window (at least `MIN_FACTOR` of it),
whether the overrun is our own (we were at the budget: the spread or a wrong limit) or caused
by calls we did not make (another client of the same account), and grows back by
`RECOVERY_PER_SECOND`. An isolated
429 (a spike of another client, a throttle of IO's) changes nothing for the other calls (the
former policy halved the rate on every 429: 2 % spurious 429s cut throughput by 62 %).
"""

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from ioportal.sending import clock
from ioportal.sending.conf import sending_settings
from ioportal.sending.models import AccountState

logger = logging.getLogger(__name__)

WINDOW = 5.0  # IO's window, seconds
RECOVERY_PER_SECOND = 0.1  # budget share regained per second after a slow-down (0.5 -> 1: 5 s)
MIN_FACTOR = 0.25
FAIL_CLOSED_WAIT = 1.0
LOW_PRIORITY_RESERVE = 0.5  # share of the pacing capacity a poll waits on top of its turn
ISOLATED_429_SHARE = 0.05  # 429s up to this share of the window's calls are isolated
AT_BUDGET = 0.95  # 429s with this share of the budget used in the window: our own overrun
MIN_MARGIN = 3  # the budget stays at least this many calls below IO's limit
EDGE = 0.001  # a call leaves the window this long after 5 s, not at the exact instant


def backend() -> str:
    """The backend in use: "db" or "redis" (`conf.limiter_backend`)."""
    return sending_settings().limiter


@dataclass(frozen=True)
class Plan:
    """What the limiter allows an account: `budget` calls in any `WINDOW`, paced one every
    `interval` s with `tolerance` s of early start (GCRA)."""

    budget: int
    interval: float
    tolerance: float
    low_priority_delay: float


def plan(limit: int, factor: float = 1.0) -> Plan:
    """The plan for an account of `limit` calls per 5 s at `factor` (0.25–1) of its budget:
    floor(limit × target), at most limit − MIN_MARGIN, at least one call."""
    conf = sending_settings()
    full = max(1, min(math.floor(limit * conf.rate_target + 1e-9), limit - MIN_MARGIN))
    budget = max(1, math.floor(full * factor + 1e-9))
    interval = conf.rate_window / max(1e-9, limit * factor)
    capacity = max(1.0, limit * conf.rate_burst)
    return Plan(
        budget=budget,
        interval=interval,
        tolerance=(capacity - 1) * interval,
        low_priority_delay=capacity * LOW_PRIORITY_RESERVE * interval,
    )


def _factor(factor: float, factor_at: float, now: float) -> float:
    if factor_at <= 0:
        return 1.0
    return min(1.0, factor + RECOVERY_PER_SECOND * max(0.0, now - factor_at))


def reserve(
    *,
    now: float,
    calls: list[float],
    next_call_at: float,
    plan: Plan,
    count: int,
    horizon: float,
    low_priority: bool,
) -> tuple[list[float], float, float]:
    """The scheduling rule both backends apply (the Lua script mirrors it).

    `calls`: moments granted in the last window, ascending (pruned in place, grants appended).
    Returns (moments granted, each within `horizon` s of `now`; the wait in s before the next
    call could be granted when none was; the new `next_call_at`)."""
    while calls and calls[0] <= now - WINDOW:
        calls.pop(0)
    granted: list[float] = []
    wait = 0.0
    for _ in range(count):
        at = max(now, next_call_at - plan.tolerance)
        if low_priority:
            at = max(at, next_call_at - plan.tolerance + plan.low_priority_delay)
        if len(calls) >= plan.budget:
            at = max(at, calls[-plan.budget] + WINDOW + EDGE)
        if at > now + horizon:
            if not granted:
                wait = at - now
            break
        granted.append(at)
        calls.append(at)
        next_call_at = max(next_call_at, at) + plan.interval
    return granted, wait, next_call_at


def judge_429(
    *, now: float, calls: Sequence[float], rejections: list[float], budget: int
) -> tuple[str, float | None]:
    """Classify a 429 (its moment already in `rejections`, pruned in place to the window);
    `budget` is the account's full budget (factor 1).

    Returns ("isolated", None): nothing to do for the other calls; or (kind, new budget
    share): pause the account and lower the budget to the calls IO accepted in the window;
    kind "overrun" when we were at our budget (`AT_BUDGET` of it), "foreign" when IO counted
    calls we did not make."""
    while rejections and rejections[0] <= now - WINDOW:
        rejections.pop(0)
    own = sum(1 for at in calls if now - WINDOW < at <= now)
    refused = len(rejections)
    if refused < 2 or refused <= ISOLATED_429_SHARE * own:
        return "isolated", None
    kind = "overrun" if own >= AT_BUDGET * budget else "foreign"
    return kind, max(0.0, own - refused) / max(1, budget)


# -- database ---------------------------------------------------------------------------------

_known_rows: set[int] = set()


def _ensure_row(organization_id: int) -> None:
    if organization_id not in _known_rows:
        AccountState.objects.get_or_create(organization_id=organization_id)
        _known_rows.add(organization_id)


def _not_durable() -> None:
    """On PostgreSQL, commit this transaction without waiting for the disk: a limiter update
    lost in a crash of the database server costs nothing (the calls it counted are minutes
    old by the time the server is back), and the fsync was most of a take's time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


@cache
def _take_sql(vendor: str) -> tuple[str, str]:
    """The two statements of a take on the database: the account's row, locked, and its
    update. Written out rather than built by the ORM at every take: building them was about
    a fifth of a worker's CPU in the fairness benchmark, spent on SQLite while holding the
    database's one write lock, which every account run waits for."""
    table = connection.ops.quote_name(AccountState._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    calls = "CAST(%s AS jsonb)" if vendor == "postgresql" else "%s"
    # Only the model's table name and fixed SQL are formatted in; the values are parameters.
    return (
        f"SELECT paused_until, rate_factor, factor_at, next_call_at, recent_calls FROM {table} "  # noqa: S608
        f"WHERE organization_id = %s{lock}",
        f"UPDATE {table} SET recent_calls = {calls}, next_call_at = %s "  # noqa: S608
        "WHERE organization_id = %s",
    )


def _take_db(
    organization_id: int, limit: int, count: int, horizon: float, low_priority: bool
) -> tuple[list[float], float]:
    _ensure_row(organization_id)
    select, update = _take_sql(connection.vendor)
    # Inside the caller's transaction (a run claiming submissions: one transaction, one
    # write lock on SQLite, for both) the commit is the caller's, durable as it needs.
    inside = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if not inside:
            _not_durable()
        cursor.execute(select, [organization_id])
        paused_until, rate_factor, factor_at, next_call_at, recent = cursor.fetchone()
        now = clock.time()
        if paused_until > now:
            return [], paused_until - now
        factor = _factor(rate_factor, factor_at, now)
        if isinstance(recent, str):  # the column's JSON text (SQLite; jsonb as Django reads it)
            recent = json.loads(recent)
        calls = [float(at) for at in recent]
        granted, wait, next_call_at = reserve(
            now=now,
            calls=calls,
            next_call_at=next_call_at,
            plan=plan(limit, factor),
            count=count,
            horizon=horizon,
            low_priority=low_priority,
        )
        if granted:
            cursor.execute(
                update,
                [json.dumps([round(at, 6) for at in calls]), next_call_at, organization_id],
            )
        return [max(0.0, at - now) for at in granted], wait


def _rate_limited_db(organization_id: int, limit: int, retry_after: float) -> str:
    _ensure_row(organization_id)
    with transaction.atomic():
        state = AccountState.objects.select_for_update().get(organization_id=organization_id)
        now = clock.time()
        factor = _factor(state.rate_factor, state.factor_at, now)
        rejections = [float(at) for at in state.recent_429s] + [now]
        kind, share = judge_429(
            now=now,
            calls=state.recent_calls,
            rejections=rejections,
            budget=plan(limit).budget,
        )
        fields: dict[str, object] = {"recent_429s": rejections, "last_429_at": timezone.now()}
        if share is not None:
            until = max(state.paused_until, now + retry_after)
            fields.update(
                paused_until=until,
                rate_factor=max(MIN_FACTOR, min(factor, share)),
                factor_at=until,
                # After the pause the window starts again from the calls IO accepted.
                next_call_at=until,
            )
        AccountState.objects.filter(organization_id=organization_id).update(**fields)
        return kind


# -- Redis ------------------------------------------------------------------------------------

# KEYS: the account's hash (next, paused, factor, fat, seq), its calls (sorted set, score =
# moment), its 429s (sorted set). ARGV: mode ("take" / "429"), limit, target, window, burst,
# recovery, min factor, low-priority reserve, count, horizon, low priority (0/1), retry after,
# isolated share, edge, at budget, min margin. "take" returns {wait µs, granted offsets µs...};
# "429" returns {kind, 0}.
LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local mode = ARGV[1]
local limit, target, window = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local burst, recovery, minf = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local reserve_share, count, horizon = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local low, retry, isolated = ARGV[11] == '1', tonumber(ARGV[12]), tonumber(ARGV[13])
local edge_margin, at_budget = tonumber(ARGV[14]), tonumber(ARGV[15])
local min_margin = tonumber(ARGV[16])
local h = redis.call('HMGET', KEYS[1], 'next', 'paused', 'factor', 'fat', 'seq')
local nxt = tonumber(h[1]) or 0
local paused = tonumber(h[2]) or 0
local factor = tonumber(h[3]) or 1
local fat = tonumber(h[4]) or 0
local seq = tonumber(h[5]) or 0
if fat > 0 then factor = math.min(1, factor + recovery * math.max(0, now - fat)) end
local full = math.max(1, math.min(math.floor(limit * target + 1e-9), limit - min_margin))
local budget = math.max(1, math.floor(full * factor + 1e-9))
local interval = window / math.max(1e-9, limit * factor)
local capacity = math.max(1, limit * burst)
local tolerance = (capacity - 1) * interval
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if mode == '429' then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
  seq = seq + 1
  redis.call('ZADD', KEYS[3], now, tostring(seq))
  redis.call('HSET', KEYS[1], 'seq', seq)
  local own = redis.call('ZCOUNT', KEYS[2], '(' .. (now - window), now)
  local refused = redis.call('ZCARD', KEYS[3])
  redis.call('EXPIRE', KEYS[1], 86400)
  redis.call('EXPIRE', KEYS[3], 60)
  if refused < 2 or refused <= isolated * own then return {'isolated', 0} end
  local kind = 'foreign'
  if own >= at_budget * full then kind = 'overrun' end
  local share = math.max(0, own - refused) / full
  local untl = math.max(paused, now + retry)
  redis.call('HSET', KEYS[1], 'paused', untl, 'factor', math.max(minf, math.min(factor, share)),
             'fat', untl, 'next', untl)
  return {kind, 0}
end
if paused > now then return {math.ceil((paused - now) * 1000000)} end
local result = {0}
for i = 1, count do
  local at = math.max(now, nxt - tolerance)
  if low then at = math.max(at, nxt - tolerance + capacity * reserve_share * interval) end
  local n = redis.call('ZCARD', KEYS[2])
  if n >= budget then
    local edge = redis.call('ZRANGE', KEYS[2], n - budget, n - budget, 'WITHSCORES')
    at = math.max(at, tonumber(edge[2]) + window + edge_margin)
  end
  if at > now + horizon then
    if i == 1 then result[1] = math.max(1, math.ceil((at - now) * 1000000)) end
    break
  end
  seq = seq + 1
  redis.call('ZADD', KEYS[2], at, tostring(seq))
  result[#result + 1] = math.floor((at - now) * 1000000)
  nxt = math.max(nxt, at) + interval
end
if #result > 1 then
  redis.call('HSET', KEYS[1], 'next', nxt, 'factor', factor, 'fat', now, 'seq', seq)
  redis.call('EXPIRE', KEYS[1], 86400)
  redis.call('EXPIRE', KEYS[2], 60)
end
return result
"""


@cache
def _redis_script():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return client.register_script(LUA)


def redis_key(organization_id: int) -> str:
    # The database name keeps installations (and test runs) sharing a Redis apart.
    return f"ioportal:limiter:{connection.settings_dict['NAME']}:{organization_id}"


def redis_keys(organization_id: int) -> list[str]:
    """The account's hash, its calls and its 429s."""
    key = redis_key(organization_id)
    return [key, f"{key}:calls", f"{key}:429"]


def _redis_call(
    organization_id: int,
    limit: int,
    mode: str,
    *,
    count: int = 1,
    horizon: float = 0.0,
    low_priority: bool = False,
    retry: float = 0.0,
) -> list:
    conf = sending_settings()
    return _redis_script()(
        keys=redis_keys(organization_id),
        args=[
            mode,
            limit,
            conf.rate_target,
            conf.rate_window,
            conf.rate_burst,
            RECOVERY_PER_SECOND,
            MIN_FACTOR,
            LOW_PRIORITY_RESERVE,
            count,
            horizon,
            1 if low_priority else 0,
            retry,
            ISOLATED_429_SHARE,
            EDGE,
            AT_BUDGET,
            MIN_MARGIN,
        ],
    )


# -- public API -------------------------------------------------------------------------------


def take_tokens(
    *,
    organization_id: int,
    limit: int,
    count: int,
    horizon: float = 0.1,
    low_priority: bool = False,
) -> tuple[list[float], float]:
    """Reserve up to `count` calls from the account's budget in one round trip.

    Returns (delays, wait): `delays` in seconds from now, ascending, each ≤ `horizon`: the
    caller may make exactly one IO call at (not before) each; when empty, `wait` is the
    seconds to wait before trying again. A reserved call not made is lost budget, so keep
    `horizon` short (the default 0.1 s is 3 calls at 150/5 s). Fails closed: when the backing
    store is unavailable, ([], FAIL_CLOSED_WAIT).
    """
    if count < 1:
        return [], 0.0
    if backend() == "redis":
        try:
            reply = _redis_call(
                organization_id,
                limit,
                "take",
                count=count,
                horizon=horizon,
                low_priority=low_priority,
            )
        except Exception:  # any Redis failure: fail closed
            logger.warning("rate limiter unavailable (Redis): no call for %ss", FAIL_CLOSED_WAIT)
            return [], FAIL_CLOSED_WAIT
        delays = [int(v) / 1_000_000 for v in reply[1:]]
        return delays, 0.0 if delays else int(reply[0]) / 1_000_000
    try:
        return _take_db(organization_id, limit, count, horizon, low_priority)
    except Exception:
        logger.exception("rate limiter unavailable (database): no call")
        return [], FAIL_CLOSED_WAIT


def take_token(*, organization_id: int, limit: int, low_priority: bool = False) -> float:
    """Try to take one call from the account's budget, now.

    Returns 0.0 when granted (the caller may make exactly one IO call), else the seconds to
    wait before trying again. Fails closed: when the backing store is unavailable it returns
    a wait, never a grant.
    """
    delays, wait = take_tokens(
        organization_id=organization_id,
        limit=limit,
        count=1,
        horizon=0.0,
        low_priority=low_priority,
    )
    return 0.0 if delays else max(wait, 1e-6)


def rate_limited(*, organization_id: int, limit: int, retry_after: float) -> str:
    """IO answered 429 to one of the account's calls: record it and decide (module docstring).

    Returns "isolated" (the other calls go on at the same rate), "overrun" or "foreign" (every
    worker of the account waits `retry_after` s and the budget drops to what IO accepted in
    the last window), or "unknown" when the store is unavailable. The refused call itself
    must wait `retry_after` (its caller schedules it)."""
    try:
        if backend() == "redis":
            kind = _decode(_redis_call(organization_id, limit, "429", retry=retry_after))
        else:
            kind = _rate_limited_db(organization_id, limit, retry_after)
    except Exception:
        logger.exception(
            "rate limiter unavailable: 429 of account %s not recorded", organization_id
        )
        return "unknown"
    if kind == "isolated":
        logger.info("IO 429 for account %s: isolated, rate unchanged", organization_id)
    else:
        logger.warning(
            "IO 429s for account %s (%s): pausing %.1fs and slowing down",
            organization_id,
            kind,
            retry_after,
        )
    return kind


def _decode(reply: list) -> str:
    kind = reply[0]
    return kind.decode() if isinstance(kind, bytes) else str(kind)


def state(*, organization_id: int, limit: int) -> dict[str, float]:
    """The account's limiter now (pages, benchmarks, tests): calls granted in the last
    window, its budget, the budget share in force and seconds of pause left."""
    if backend() == "redis":
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        key, calls_key, _ = redis_keys(organization_id)
        seconds, micros = client.time()
        now = seconds + micros / 1_000_000
        raw = client.hmget(key, "paused", "factor", "fat")
        paused, factor, fat = (float(v) if v is not None else 0.0 for v in raw)
        if raw[1] is None:
            factor = 1.0
        calls = client.zcount(calls_key, f"({now - WINDOW}", now)
    else:
        _ensure_row(organization_id)
        row = AccountState.objects.get(organization_id=organization_id)
        now = clock.time()
        paused, factor, fat = row.paused_until, row.rate_factor, row.factor_at
        calls = sum(1 for at in row.recent_calls if now - WINDOW < at <= now)
    factor = _factor(factor, fat, now)
    return {
        "calls": calls,
        "budget": plan(limit, factor).budget,
        "factor": factor,
        "paused": max(0.0, paused - now),
    }


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
