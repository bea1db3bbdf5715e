"""The pipeline's settings, read at call time so tests can override them."""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class SendingSettings:
    rate_target: float  # share of IO's limit the bucket refills at
    rate_burst: float  # bucket capacity as a share of the limit
    rate_window: float  # IO's window (5 s)
    batch_size: int
    workers_per_account: int
    concurrency: int  # IO calls in flight per account worker; 0 = from the account's limit
    accounts_per_worker: int  # accounts one worker process serves at once
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
    premium_poll_seconds: float
    autopause_min: int
    autopause_rate: float
    autopause_window: int
    limiter: str  # "db" or "redis"
    feed_backfill_days: int
    feed_max_lag_days: int


def sending_settings() -> SendingSettings:
    s = settings
    return SendingSettings(
        rate_target=s.SENDING_RATE_TARGET,
        rate_burst=s.SENDING_RATE_BURST,
        rate_window=5.0,
        batch_size=s.SENDING_BATCH_SIZE,
        workers_per_account=s.SENDING_WORKERS_PER_ACCOUNT,
        concurrency=s.SENDING_CONCURRENCY,
        accounts_per_worker=s.SENDING_ACCOUNTS_PER_WORKER,
        task_budget=s.SENDING_TASK_BUDGET,
        lease_seconds=s.SENDING_LEASE_SECONDS,
        max_attempts=s.SENDING_MAX_ATTEMPTS,
        max_age_seconds=s.SENDING_MAX_AGE_HOURS * 3600,
        backoff_base=s.SENDING_BACKOFF_BASE,
        backoff_cap=s.SENDING_BACKOFF_CAP,
        lenient_5xx=s.SENDING_SUBMIT_5XX_POLICY == "lenient",
        breaker_threshold=s.SENDING_BREAKER_THRESHOLD,
        breaker_cooldown=s.SENDING_BREAKER_COOLDOWN,
        poll_intervals=tuple(s.SENDING_POLL_INTERVALS),
        poll_horizon_seconds=s.SENDING_POLL_HORIZON_DAYS * 86400,
        premium_poll_seconds=s.SENDING_PREMIUM_POLL_SECONDS,
        autopause_min=s.SENDING_AUTOPAUSE_MIN,
        autopause_rate=s.SENDING_AUTOPAUSE_RATE,
        autopause_window=s.SENDING_AUTOPAUSE_WINDOW,
        limiter="redis" if s.REDIS_URL and s.SENDING_LIMITER != "db" else "db",
        feed_backfill_days=s.SENDING_FEED_BACKFILL_DAYS,
        feed_max_lag_days=s.SENDING_FEED_MAX_LAG_DAYS,
    )
