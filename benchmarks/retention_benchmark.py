"""Cost of the retention purge and of the Premium carnet figures on PostgreSQL.

Seeds (once; --reseed to start again) one organization with DISPATCHES Premium dispatches of
--deliveries deliveries in all, finished 400 days ago (past the default 365 days), each
delivery submitted to IO, and a carnet covering the submissions. Prints:

- the time of `premium_remaining` (the figures of the confirm page, the dashboard banner and
  the alerts) over those deliveries, median of REPEAT calls;
- the time of `retention_purge` over every dispatch, its deliveries per second and the peak
  Python memory of the run (tracemalloc), then the time of a second, idle run.

The purge changes the data: the next run needs --reseed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        .venv/bin/python benchmarks/retention_benchmark.py [--deliveries 200000] [--reseed] \\
        [--carnet-only]
"""

import datetime
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
os.environ.setdefault("DEBUG", "true")
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("Set DATABASE_URL to a PostgreSQL database (it is migrated and filled).")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# DEBUG only for the development defaults (SECRET_KEY…): no query log in the measurements.
settings.DEBUG = False

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from ioportal.accounts.models import Organization, User  # noqa: E402
from ioportal.core import crypto  # noqa: E402
from ioportal.core.fiscalcode import fiscal_code_hmac, mask_fiscal_code  # noqa: E402
from ioportal.ioservices.models import IOService, PremiumCarnet  # noqa: E402
from ioportal.messaging.carnet import premium_remaining  # noqa: E402
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel  # noqa: E402
from ioportal.retention.services import retention_purge  # noqa: E402

ORG_FISCAL_CODE = "80009990587"
DISPATCHES = 100
REPEAT = 20
BATCH = 5000


def _seed(total: int) -> Organization:
    Organization.objects.filter(fiscal_code=ORG_FISCAL_CODE).delete()
    organization = Organization.objects.create(name="Comune Benchmark", fiscal_code=ORG_FISCAL_CODE)
    author, _ = User.objects.get_or_create(username="bench-conservazione")
    service = IOService.objects.create(
        organization=organization,
        service_id="01JBENCHRETENT10N000000001",
        name="Tributi",
        premium_enabled=True,
    )
    ended = timezone.now() - datetime.timedelta(days=400)
    PremiumCarnet.objects.create(
        service=service,
        starts_on=timezone.localdate(ended) - datetime.timedelta(days=30),
        ends_on=timezone.localdate(ended) + datetime.timedelta(days=30),
        purchased=total * 2,
    )
    # One encrypted value for every row: encryption cost is the import's, not the purge's.
    encrypted = crypto.encrypt("RSSMRA80A01H501U")
    variables = crypto.encrypt('{"nome":"Mario Rossi","importo":"12,50"}')
    per_dispatch = total // DISPATCHES
    number = 0
    for index in range(DISPATCHES):
        dispatch = Dispatch.objects.create(
            organization=organization,
            service=service,
            title=f"Benchmark {index}",
            subject="Avviso",
            markdown="Gentile {{ nome }}",
            feature_level=FeatureLevel.ADVANCED,
            state=Dispatch.State.COMPLETED,
            created_by=author,
            finished_at=ended,
        )
        rows = []
        for row in range(per_dispatch):
            number += 1
            code = f"RSSMRA{number:09d}X"
            rows.append(
                Delivery(
                    dispatch=dispatch,
                    row_number=row + 1,
                    fiscal_code_encrypted=encrypted,
                    fiscal_code_hmac=fiscal_code_hmac(code),
                    fiscal_code_masked=mask_fiscal_code(code),
                    state=Delivery.State.PROCESSED,
                    io_message_id=f"01BENCH{number:019d}",
                    submitted_at=ended,
                    notice_number="302000100000009424",
                )
            )
            if len(rows) == BATCH:
                Delivery.objects.bulk_create(rows)
                rows = []
        Delivery.objects.bulk_create(rows)
        # The variables column directly: the rows above hold {}.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE messaging_delivery SET variables = %s WHERE dispatch_id = %s",
                [variables, dispatch.pk],
            )
    return organization


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=200_000)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument(
        "--carnet-only", action="store_true", help="measure premium_remaining, not the purge"
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    organization = Organization.objects.filter(fiscal_code=ORG_FISCAL_CODE).first()
    if organization is None or args.reseed:
        print(f"seeding {args.deliveries:,} deliveries…", flush=True)
        started = time.perf_counter()
        organization = _seed(args.deliveries)
        print(f"seeded in {time.perf_counter() - started:.0f} s")
        # What autovacuum does soon after a load: statistics and the visibility map (without
        # it an index-only scan still reads every row).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE messaging_delivery")
    total = Delivery.objects.filter(dispatch__organization=organization).count()
    print(f"\nPostgreSQL {connection.pg_version}, {total:,} deliveries\n")  # type: ignore[attr-defined]

    service = IOService.objects.get(organization=organization)
    carnet = PremiumCarnet.objects.get(service=service)
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        usage = premium_remaining(service=service, day=carnet.starts_on)
        times.append((time.perf_counter() - started) * 1000)
    assert usage is not None
    print(
        f"premium_remaining: median {statistics.median(times):7.1f} ms, "
        f"max {max(times):7.1f} ms (used {usage.used:,})"
    )
    if args.carnet_only:
        return 0

    tracemalloc.start()
    started = time.perf_counter()
    result = retention_purge()
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rate = result.deliveries / elapsed if elapsed else 0
    print(
        f"retention_purge: {elapsed:7.1f} s for {result.dispatches} dispatches, "
        f"{result.deliveries:,} deliveries ({rate:,.0f}/s), peak Python memory "
        f"{peak / 1024 / 1024:.1f} MiB"
    )
    started = time.perf_counter()
    again = retention_purge()
    print(
        f"retention_purge, second run: {(time.perf_counter() - started) * 1000:7.1f} ms, "
        f"{again.dispatches} dispatches"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
