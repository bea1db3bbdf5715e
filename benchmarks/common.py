"""What the benchmark scripts share: a throw-away SQLite database in var/."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def use_throwaway_database(name: str) -> Path | None:
    """Point DATABASE_URL at a new SQLite file in var/, unless the caller chose a database.
    Call before django.setup(). Returns the file, or None when DATABASE_URL was given."""
    if os.environ.get("DATABASE_URL"):
        return None
    db = ROOT / "var" / f"{name}-{os.getpid()}.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    return db


def remove_throwaway_database(db: Path | None) -> None:
    """Delete the file made by use_throwaway_database (with its WAL files and its writers
    lock, `core/sqlitebackend`), if any."""
    if db is None:
        return
    from django.db import connections

    connections.close_all()
    for suffix in ("", "-wal", "-shm", "-writers"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def use_production_settings() -> None:
    """Run with DEBUG off, as deployed (call before django.setup(); the qcluster processes a
    benchmark starts inherit it): Django then keeps no copy of every SQL statement. The
    secrets production requires are made up for the run, unless the caller set them."""
    import base64
    import secrets

    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault(
        "FIELD_ENCRYPTION_KEYS", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    )
    os.environ.setdefault("FISCAL_CODE_HMAC_KEY", secrets.token_urlsafe(48))


def run_counters(log: Path) -> dict[str, int]:
    """The counters of every account run in a cluster's log, summed: the "run ended" lines
    of `ioportal.sending.worker` (calls, submitted, late: calls whose reserved moment had
    passed, not sent, and so on)."""
    totals: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        _, found, counters = line.partition(": run ended: ")
        if not found:
            continue
        for pair in counters.split():
            name, _, value = pair.partition("=")
            if value.isdigit():
                totals[name] = totals.get(name, 0) + int(value)
    return totals


class MachineCpu:
    """The whole machine's CPU over a stretch of time, from Linux's /proc/stat: every process
    counts (the workers, the simulator, the database server, Redis, anything else running),
    which the benchmark's own `getrusage` figures leave out. `busy` is in core-seconds.
    On a system without /proc/stat every figure is None."""

    PATH = Path("/proc/stat")

    def __init__(self) -> None:
        self.started = self._read()

    def _read(self) -> tuple[float, float] | None:
        """(busy, idle) core-seconds since boot: the first line of /proc/stat, in clock
        ticks (user nice system idle iowait irq softirq steal ...); idle counts iowait."""
        try:
            fields = self.PATH.read_text().splitlines()[0].split()
        except (OSError, IndexError):
            return None
        if not fields or fields[0] != "cpu":
            return None
        ticks = [int(value) for value in fields[1:9]]
        per_second = os.sysconf("SC_CLK_TCK")
        idle = ticks[3] + ticks[4]
        return (sum(ticks) - idle) / per_second, idle / per_second

    def busy(self) -> tuple[float, float] | None:
        """Since this object was made: (core-seconds busy, share of the cores busy 0–1)."""
        now = self._read()
        if self.started is None or now is None:
            return None
        busy = now[0] - self.started[0]
        idle = now[1] - self.started[1]
        return busy, busy / (busy + idle) if busy + idle else 0.0
