"""The pipeline's settings, read at call time so tests can override them.

The operator's choices come from the environment through `ioportal.settings` (SENDING_*,
listed in the README). The constants below are the pipeline's own tuning, not meant to be
changed per installation; a Django setting of the same name (SENDING_<NAME>) overrides one,
which only tests do (tests/settings_workers.py runs worker processes with short leases).
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

LIMITER_BACKENDS = ("auto", "db", "redis")


def limiter_backend(value: str, redis_url: str) -> str:
    """The rate limiter's backend, "db" or "redis", for `SENDING_LIMITER` ("auto": Redis when
    REDIS_URL is set, else the database) and REDIS_URL. Raises ImproperlyConfigured for any
    other value, and for "redis" without REDIS_URL (docs/sending.md)."""
    choice = (value or "").strip().lower()
    if choice not in LIMITER_BACKENDS:
        raise ImproperlyConfigured(
            f"SENDING_LIMITER must be one of {', '.join(LIMITER_BACKENDS)}, not {value!r}."
        )
    if choice == "redis" and not redis_url:
        raise ImproperlyConfigured("SENDING_LIMITER=redis needs REDIS_URL.")
    if choice == "auto":
        return "redis" if redis_url else "db"
    return choice


def premium_poll_schedule(entries: list[str]) -> tuple[tuple[float, float], ...]:
    """Parse `SENDING_PREMIUM_POLL_SCHEDULE`: "AGE:INTERVAL" entries in seconds with rising
    ages, the last a bare "INTERVAL" (for every older delivery). Returns ((age, interval),
    ..., (inf, interval)). Raises ImproperlyConfigured on anything else."""
    steps: list[tuple[float, float]] = []
    problem = "SENDING_PREMIUM_POLL_SCHEDULE: "
    for position, entry in enumerate(entries):
        last = position == len(entries) - 1
        parts = str(entry).strip().split(":")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ImproperlyConfigured(
                f"{problem}{entry!r} is not AGE:INTERVAL in seconds."
            ) from None
        if last and len(numbers) == 1:
            numbers = [float("inf"), numbers[0]]
        if len(numbers) != 2 or numbers[1] <= 0:
            raise ImproperlyConfigured(
                f"{problem}{entry!r}: AGE:INTERVAL (seconds, interval > 0), the last one a "
                "bare INTERVAL."
            )
        if steps and numbers[0] <= steps[-1][0]:
            raise ImproperlyConfigured(f"{problem}ages must rise ({entry!r}).")
        steps.append((numbers[0], numbers[1]))
    if not steps or steps[-1][0] != float("inf"):
        raise ImproperlyConfigured(f"{problem}the last entry is a bare INTERVAL.")
    return tuple(steps)


# IO's rate-limit window, in seconds (docs/sending.md).
RATE_WINDOW = 5.0
# Token-bucket capacity as a share of the calls per window, at least one token: 0.01 = 1.5
# tokens at 150 calls/5 s, so IO's exact sliding window sees no burst (sending/limiter.py).
RATE_BURST = 0.01
# Deliveries claimed per database round trip by an account worker.
BATCH_SIZE = 10
# Seconds an account worker claims new work before handing over (fairness between accounts;
# stop a qcluster with this plus a minute of grace).
TASK_BUDGET = 60
# Seconds a claimed delivery stays reserved; after that the sweeper gives it to another worker.
LEASE_SECONDS = 180
# Retry back-off: uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempts)) seconds.
BACKOFF_BASE = 5.0
BACKOFF_CAP = 900.0
# Circuit breaker per account: this many consecutive IO failures pause calls for COOLDOWN s.
BREAKER_THRESHOLD = 10
BREAKER_COOLDOWN = 30.0
# Auto-pause: at least AUTOPAUSE_MIN of the first AUTOPAUSE_WINDOW outcomes, AUTOPAUSE_RATE of
# them refused by IO (a wrong list or template stops before it reaches everyone).
AUTOPAUSE_MIN = 20
AUTOPAUSE_RATE = 0.5
AUTOPAUSE_WINDOW = 200
# Subscriptions feed: days fetched back at most, and how many days the last synced day may
# lag behind yesterday before the pipeline stops trusting it.
FEED_BACKFILL_DAYS = 30
FEED_MAX_LAG_DAYS = 2


@dataclass(frozen=True)
class SendingSettings:
    rate_target: float  # share of IO's limit granted in any window (the budget)
    rate_burst: float  # pacing tolerance, in calls, as a share of the limit
    rate_window: float  # IO's window (5 s)
    batch_size: int
    workers_per_account: int
    concurrency: int  # IO calls in flight per account worker; 0 = from the account's limit
    accounts_per_worker: int  # accounts one worker process serves at once
    worker_processes: int  # the cluster's worker processes (Q_CLUSTER['workers'])
    task_budget: float  # seconds an account worker claims new work for
    lease_seconds: float
    max_attempts: int
    max_age_seconds: float
    backoff_base: float
    backoff_cap: float
    lenient_5xx: bool
    breaker_threshold: int
    breaker_cooldown: float
    poll_intervals: tuple[int, ...]
    poll_horizon_seconds: float
    premium_poll_seconds: float  # caps every interval of the schedule when > 0
    premium_poll_schedule: tuple[tuple[float, float], ...]  # (up to age, interval), s
    autopause_min: int
    autopause_rate: float
    autopause_window: int
    limiter: str  # "db" or "redis"
    feed_backfill_days: int
    feed_max_lag_days: int


def _tuning(name: str) -> Any:
    """The constant `name` of this module, unless a test set SENDING_<name>."""
    return getattr(settings, f"SENDING_{name}", globals()[name])


_current: SendingSettings | None = None


@receiver(setting_changed)
def _settings_changed(**kwargs: Any) -> None:
    global _current
    _current = None


def sending_settings() -> SendingSettings:
    """The pipeline's settings, read once per process (and again after a test changes a
    setting): the workers ask for them at every call, and building them was ~3 % of a
    worker's CPU."""
    global _current
    if _current is None:
        _current = _read_settings()
    return _current


def _read_settings() -> SendingSettings:
    s = settings
    return SendingSettings(
        rate_target=s.SENDING_RATE_TARGET,
        rate_burst=_tuning("RATE_BURST"),
        rate_window=RATE_WINDOW,
        batch_size=_tuning("BATCH_SIZE"),
        workers_per_account=s.SENDING_WORKERS_PER_ACCOUNT,
        concurrency=s.SENDING_CONCURRENCY,
        accounts_per_worker=s.SENDING_ACCOUNTS_PER_WORKER,
        worker_processes=int(getattr(s, "Q_CLUSTER", {}).get("workers", 1) or 1),
        task_budget=_tuning("TASK_BUDGET"),
        lease_seconds=_tuning("LEASE_SECONDS"),
        max_attempts=s.SENDING_MAX_ATTEMPTS,
        max_age_seconds=s.SENDING_MAX_AGE_HOURS * 3600,
        backoff_base=_tuning("BACKOFF_BASE"),
        backoff_cap=_tuning("BACKOFF_CAP"),
        lenient_5xx=s.SENDING_SUBMIT_5XX_POLICY == "lenient",
        breaker_threshold=_tuning("BREAKER_THRESHOLD"),
        breaker_cooldown=_tuning("BREAKER_COOLDOWN"),
        poll_intervals=tuple(s.SENDING_POLL_INTERVALS),
        poll_horizon_seconds=s.SENDING_POLL_HORIZON_DAYS * 86400,
        premium_poll_seconds=s.SENDING_PREMIUM_POLL_SECONDS,
        premium_poll_schedule=premium_poll_schedule(s.SENDING_PREMIUM_POLL_SCHEDULE),
        autopause_min=_tuning("AUTOPAUSE_MIN"),
        autopause_rate=_tuning("AUTOPAUSE_RATE"),
        autopause_window=_tuning("AUTOPAUSE_WINDOW"),
        limiter=limiter_backend(s.SENDING_LIMITER, s.REDIS_URL),
        feed_backfill_days=_tuning("FEED_BACKFILL_DAYS"),
        feed_max_lag_days=_tuning("FEED_MAX_LAG_DAYS"),
    )
