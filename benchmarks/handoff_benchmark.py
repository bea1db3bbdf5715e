"""Time and peak memory of the hand-off list (reports.handoff) of a large dispatch.

Creates a dispatch of N deliveries (default 100,000) through the preparation's own insert,
makes every one unreached (not on IO, blocked, not authorised, rejected, failed in turn),
then writes the list as CSV and as XLSX and prints, for each: wall time, CPU time of the
process (the database's share included on SQLite, which runs in the process), rows, file size
and the process's maximum resident size; with --trace it exports once more under
tracemalloc and prints the peak of Python allocations during that export. Every row is
decrypted (fiscal code and values), as in a real download.

    .venv/bin/python benchmarks/handoff_benchmark.py [--deliveries 100000] [--trace]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python \\
        benchmarks/handoff_benchmark.py

Without DATABASE_URL a throw-away SQLite file in var/ is used and deleted at the end; a
PostgreSQL database is migrated and the benchmark's organization removed afterwards.
"""

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
os.environ.setdefault("DEBUG", "true")

from benchmarks.common import remove_throwaway_database, use_throwaway_database  # noqa: E402

THROWAWAY = use_throwaway_database("handoff")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from ioportal.accounts.models import Membership, Organization, User  # noqa: E402
from ioportal.ioservices.services import ioservice_create  # noqa: E402
from ioportal.messaging.models import Delivery, Dispatch  # noqa: E402
from ioportal.messaging.services.preparation import create_deliveries  # noqa: E402
from ioportal.reports import handoff  # noqa: E402

# Its own organization: the export benchmark keeps its 1,000,000-delivery seed under another.
ORG_FISCAL_CODE = "80000000036"
LETTERS = "BCDFGHLMNPRSTVZ"


def _codes(count: int) -> list[str]:
    """`count` distinct codes of the right shape (the list is not validated here)."""
    codes = []
    for i in range(count):
        name = "".join(LETTERS[(i // 15**k) % 15] for k in range(3))
        surname = "".join(LETTERS[(i // 15 ** (k + 3)) % 15] for k in range(3))
        codes.append(f"{surname}{name}80A01H501U")
    return codes


def _seed(count: int) -> tuple[Dispatch, User]:
    organization = Organization.objects.create(
        name="Comune del benchmark (elenco)", fiscal_code=ORG_FISCAL_CODE
    )
    user = User.objects.create_user(username="bench-elenco", password="x" * 20)
    Membership.objects.create(user=user, organization=organization, role=Membership.Role.SUPERVISOR)
    service = ioservice_create(
        organization=organization,
        actor="benchmark",
        service_id="01JBENCHHAND0FF00000000001",
        name="Tributi",
        primary_key="a1" + "0" * 30,
        secondary_key="b2" + "0" * 30,
    )
    dispatch = Dispatch.objects.create(
        organization=organization,
        service=service,
        state=Dispatch.State.COMPLETED,
        created_by=user,
        finished_at=timezone.now(),
        title="TARI 2026",
        subject="Avviso TARI 2026",
        markdown="Gentile {{ nome }}, importo {{ importo }}.",
        placeholders=[{"name": "nome", "type": "text"}, {"name": "importo", "type": "euro"}],
    )
    rows = (
        {
            "line": n + 2,
            "fiscal_code": code,
            "variables": {"nome": f"Cittadina {n}", "importo": f"{n % 500},50"},
            "amount": 100 * (n % 500) + 50,
            "notice_number": f"3010000{n:011d}",
        }
        for n, code in enumerate(_codes(count))
    )
    create_deliveries(dispatch, rows)
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:
        # Five reasons in turn, by row number.
        cursor.execute(
            f"UPDATE {table} SET state = CASE row_number %% 5 "  # noqa: S608
            "WHEN 0 THEN 'skipped' WHEN 1 THEN 'skipped' WHEN 2 THEN 'skipped' "
            "WHEN 3 THEN 'failed' ELSE 'rejected' END, "
            "skip_reason = CASE row_number %% 5 WHEN 0 THEN 'not_on_io' "
            "WHEN 1 THEN 'blocked' WHEN 2 THEN 'not_authorized' ELSE '' END, "
            "last_error_code = CASE row_number %% 5 WHEN 3 THEN 'retries_exhausted' ELSE '' END, "
            "io_message_id = CASE row_number %% 5 WHEN 4 THEN 'BENCH' || id ELSE NULL END "
            "WHERE dispatch_id = %s",
            [dispatch.pk],
        )
    return dispatch, user


def _export(dispatch: Dispatch, user: User, file_format: str) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds, rows, bytes) of one export."""
    started, cpu_started = time.perf_counter(), time.process_time()
    export = handoff.handoff_export(dispatch=dispatch, actor=user, file_format=file_format)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    export.file.seek(0, os.SEEK_END)
    size = export.file.tell()
    export.file.close()
    return elapsed, cpu, export.rows, size


def _measure(dispatch: Dispatch, user: User, file_format: str, *, trace: bool) -> None:
    elapsed, cpu, rows, size = _export(dispatch, user, file_format)
    line = (
        f"{file_format.upper():5} {rows:>9,} rows  {elapsed:7.1f} s  "
        f"{1e6 * elapsed / max(rows, 1):6.0f} µs/row  CPU {cpu:6.1f} s "
        f"{1e6 * cpu / max(rows, 1):6.0f} µs/row  {size / 2**20:7.1f} MiB file"
    )
    if trace:
        # A second export under tracemalloc (several times slower): its peak allocations.
        tracemalloc.start()
        _export(dispatch, user, file_format)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        line += f"  peak Python allocations {peak / 2**20:6.1f} MiB"
    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{line}  max RSS so far {maxrss_mib:6.0f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument(
        "--trace", action="store_true", help="export again under tracemalloc: peak memory"
    )
    args = parser.parse_args()
    try:
        call_command("migrate", verbosity=0)
        Organization.objects.filter(fiscal_code=ORG_FISCAL_CODE).delete()
        User.objects.filter(username="bench-elenco").delete()
        started = time.perf_counter()
        dispatch, user = _seed(args.deliveries)
        print(
            f"{connection.vendor}: {args.deliveries:,} unreached deliveries created in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for file_format in handoff.FORMATS:
            _measure(dispatch, user, file_format, trace=args.trace)
        Dispatch.objects.filter(pk=dispatch.pk).delete()
        Organization.objects.filter(fiscal_code=ORG_FISCAL_CODE).delete()
    finally:
        remove_throwaway_database(THROWAWAY)


if __name__ == "__main__":
    main()
