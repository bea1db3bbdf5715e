"""The clock every worker agrees on: the database server's.

Leases, due times and the token bucket compare instants written by different processes,
possibly on different machines. A worker whose clock runs ahead would see leases expire
early (and turn live submissions into uncertain ones) or take tokens too soon. So the
pipeline reads time here: on PostgreSQL, the local clock corrected by its offset from the
server's `clock_timestamp()`, measured at most once a minute; on SQLite every process runs
on the database's own machine and the local clock is the database's.

An offset within the round trip of the measurement cannot be told from zero and is taken
as zero, so workers on the database's machine use exactly their own clock.
"""

import time as _time
from datetime import UTC, datetime

from django.db import connection

REFRESH_SECONDS = 60.0

_offset = 0.0
_measured_at: float | None = None


def _local_time() -> float:
    return _time.time()


def measure_offset() -> float:
    """Read the database server's clock now; return and keep its offset from the local one."""
    global _offset, _measured_at
    offset = 0.0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            before = _local_time()
            cursor.execute("SELECT extract(epoch FROM clock_timestamp())")
            server = float(cursor.fetchone()[0])
            after = _local_time()
        offset = server - (before + after) / 2
        if abs(offset) <= (after - before) / 2 + 0.001:
            offset = 0.0
    _offset = offset
    _measured_at = _time.monotonic()
    return offset


def offset() -> float:
    if _measured_at is None or _time.monotonic() - _measured_at > REFRESH_SECONDS:
        measure_offset()
    return _offset


def time() -> float:
    """Seconds since the epoch by the database's clock."""
    return _local_time() + offset()


def now() -> datetime:
    """An aware datetime (UTC) by the database's clock."""
    return datetime.fromtimestamp(time(), tz=UTC)


def forget() -> None:
    """Measure the offset again at the next read (tests)."""
    global _measured_at
    _measured_at = None
