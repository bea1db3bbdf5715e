"""Cost of the dashboard's figures on a large PostgreSQL database.

Uses the seed of `history_benchmark.py` (one organization, 2,000 dispatches one hour apart
over about 83 days, 1,000,000 deliveries by default; --reseed to start again). Prints:

- the time of `refresh_daily_stats` from an empty table (every day since the first
  dispatch) and of the next, incremental run (RECOMPUTE_DAYS before the last stored day);
- the server time of the supervisor's dashboard (per day and per month), through Django's
  test client in this process: median and slowest of REPEAT requests, and queries.

Target: dashboard median under 300 ms. Exits 1 when it is missed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        .venv/bin/python benchmarks/dashboard_benchmark.py [--deliveries 1000000] [--reseed]
"""

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
os.environ.setdefault("DEBUG", "true")
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("Set DATABASE_URL to a PostgreSQL database (it is migrated and filled).")

import django  # noqa: E402

# Set up before importing the history benchmark: its environment defaults are not needed.
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import reverse  # noqa: E402

from benchmarks import history_benchmark as history  # noqa: E402
from ioportal.accounts.models import Organization, User  # noqa: E402
from ioportal.dashboard import stats  # noqa: E402
from ioportal.dashboard.models import DailyDeliveryStats  # noqa: E402
from ioportal.messaging.models import Delivery  # noqa: E402


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    organization = Organization.objects.filter(fiscal_code=history.ORG_FISCAL_CODE).first()
    if organization is None or args.reseed:
        if organization is not None:
            sys.exit("--reseed: run history_benchmark.py --reseed first")
        print(f"seeding {args.deliveries:,} deliveries…", flush=True)
        history._seed(args.deliveries)
        organization = Organization.objects.get(fiscal_code=history.ORG_FISCAL_CODE)
    total = Delivery.objects.filter(dispatch__organization=organization).count()
    print(f"\nPostgreSQL {connection.pg_version}, {total:,} deliveries\n")  # type: ignore[attr-defined]

    DailyDeliveryStats.objects.all().delete()
    started = time.perf_counter()
    days = stats.refresh_daily_stats()
    full = (time.perf_counter() - started) * 1000
    rows = DailyDeliveryStats.objects.count()
    print(f"refresh_daily_stats, empty table: {full:8.0f} ms  days {days}, {rows} rows")
    started = time.perf_counter()
    days = stats.refresh_daily_stats()
    incremental = (time.perf_counter() - started) * 1000
    print(f"refresh_daily_stats, incremental: {incremental:8.0f} ms  days {days}\n")

    client = history._client(User.objects.get(username="bench-supervisore"))
    print(f"{'page':45} {'median':>9} {'max':>9} {'queries':>8}")
    missed = False
    for name, url in (
        ("dashboard, supervisor, per day", reverse("dashboard:dashboard")),
        ("dashboard, supervisor, per month", reverse("dashboard:dashboard") + "?periodo=mese"),
    ):
        median, slowest, queries = history._measure(client, url)
        flag = "" if median < history.TARGET_MS else "  > target"
        missed = missed or bool(flag)
        print(f"{name:45} {median:7.1f}ms {slowest:7.1f}ms {queries:8d}{flag}")
    author = history._client(User.objects.get(username="bench-autore"))
    median, slowest, queries = history._measure(author, reverse("dashboard:dashboard"))
    name = "dashboard, operator (author of all)"
    print(f"{name:45} {median:7.1f}ms {slowest:7.1f}ms {queries:8d}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
