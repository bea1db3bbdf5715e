"""Time and peak memory of the streamed exports of a dispatch's deliveries (CSV and XLSX) at
1,000,000 rows on PostgreSQL.

Seeds once (reused on the next run; --reseed to start again) one organization with one
dispatch of N deliveries, inserted on the server (INSERT ... SELECT generate_series, as
`history_benchmark.py` does): 80 % delivered with an IO id, two thirds of them read, half of
them paid; 15 % not reachable; 5 % failed; each with a payment notice and an amount. Then,
for each format, a forked child requests the real view through Django's test client (in
process: the time is the server's, middleware and queries included, no network), reads the
streamed body to the end and counts its bytes. Prints per format:

- time to the first byte (the header, sent at once), to the first rows (once the database
  has them ready) and to the last byte, rows per second, size of the file;
- CPU time of the child (user + system, from wait4: the export's Python work, not the
  database server's), a fairer figure than the wall time on a loaded machine;
- peak resident memory of the child (the kernel's ru_maxrss from wait4) and its growth over
  the RSS the child started with;
- with --tracemalloc, in a second child, the peak of Python's allocations during the export
  (tracemalloc slows Python down: its time is not the export's).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        nice .venv/bin/python benchmarks/export_benchmark.py \\
        [--deliveries 1000000] [--reseed] [--tracemalloc]

Without DATABASE_URL: postgres://postgres@127.0.0.1:5432/export_bench, created if missing.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/export_bench")
if not os.environ["DATABASE_URL"].startswith("postgres"):
    sys.exit("Set DATABASE_URL to a PostgreSQL database (it is migrated and filled).")


def _ensure_database(url: str) -> None:
    """Create the database of `url` when it does not exist (through the `postgres` one)."""
    from urllib.parse import urlsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if found is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}", flush=True)


_ensure_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

# history_benchmark sets up Django itself on import; its defaults are the same as ours.
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.urls import reverse  # noqa: E402

from benchmarks import history_benchmark as history  # noqa: E402
from ioportal.accounts.models import Membership, Organization, User  # noqa: E402
from ioportal.core import crypto  # noqa: E402
from ioportal.core.fiscalcode import protect_fiscal_code  # noqa: E402
from ioportal.ioservices.services import ioservice_create  # noqa: E402
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel  # noqa: E402

ORG_FISCAL_CODE = "80000000002"
SUPERVISOR = "export-supervisore"
BATCH = 100_000

INSERT = """
    INSERT INTO messaging_delivery (
        public_id, dispatch_id, row_number, fiscal_code_encrypted, fiscal_code_hmac,
        fiscal_code_masked, variables, notice_number, payment_amount, invalid_after_due_date,
        payee_fiscal_code, state, attempts, claimed_by, skip_reason, last_error_code,
        last_error_detail, io_message_id, io_status, read_status, payment_status,
        submitted_at, read_at, paid_at, polls, finished_at, created_at, first_attempt_at
    )
    SELECT gen_random_uuid(), %(dispatch)s, g, %(encrypted)s,
        md5(g::text) || md5('cf' || g::text), %(masked)s, %(variables)s,
        lpad(g::text, 18, '3'), 1000 + g %% 50000, false, '',
        s.state, 1, '',
        CASE WHEN s.state = 'skipped' THEN (CASE WHEN g %% 2 = 0 THEN 'not_on_io'
            ELSE 'blocked' END) ELSE '' END,
        CASE WHEN s.state = 'failed' THEN 'retries_exhausted' ELSE '' END, '',
        CASE WHEN s.state = 'processed' THEN 'X' || lpad(g::text, 25, '0') END,
        CASE WHEN s.state = 'processed' THEN 'PROCESSED' ELSE '' END,
        CASE WHEN s.state = 'processed'
            THEN (CASE WHEN g %% 3 = 0 THEN 'UNREAD' ELSE 'READ' END) ELSE '' END,
        CASE WHEN s.state = 'processed'
            THEN (CASE WHEN g %% 2 = 0 THEN 'PAID' ELSE 'NOT_PAID' END) ELSE '' END,
        CASE WHEN s.state = 'processed' THEN now() - interval '2 days' END,
        CASE WHEN s.state = 'processed' AND g %% 3 <> 0 THEN now() - interval '1 day' END,
        CASE WHEN s.state = 'processed' AND g %% 2 = 0 THEN now() - interval '12 hours' END,
        0, now() - interval '2 days', now() - interval '3 days', now() - interval '2 days'
    FROM generate_series(%(start)s, %(end)s) AS g,
        LATERAL (SELECT CASE
            WHEN g %% 20 < 16 THEN 'processed'
            WHEN g %% 20 < 19 THEN 'skipped'
            ELSE 'failed' END AS state) AS s
"""


def _remove_seed() -> None:
    organization = Organization.objects.filter(fiscal_code=ORG_FISCAL_CODE).first()
    if organization is None:
        return
    print("removing the previous seed…", flush=True)
    with transaction.atomic():
        Delivery.objects.filter(dispatch__organization=organization)._raw_delete("default")
        Dispatch.objects.filter(organization=organization).delete()
        organization.delete()
        User.objects.filter(username=SUPERVISOR).delete()


def _seed(total: int) -> Dispatch:
    started = time.perf_counter()
    organization = Organization.objects.create(
        name="Comune delle esportazioni", fiscal_code=ORG_FISCAL_CODE
    )
    supervisor = User.objects.create_user(username=SUPERVISOR, password="x" * 20)
    Membership.objects.create(
        user=supervisor, organization=organization, role=Membership.Role.SUPERVISOR
    )
    service = ioservice_create(
        organization=organization,
        actor="benchmark",
        service_id="01JEXPORTSERV1CE000000000",
        name="Tributi",
        primary_key="e" * 32,
        premium_enabled=True,
    )
    dispatch = Dispatch.objects.create(
        organization=organization,
        service=service,
        title="TARI 2026 – tutti i cittadini",
        subject="Avviso di pagamento TARI 2026",
        markdown="Gentile {{ nome }}, " + "ti ricordiamo l'avviso di pagamento della TARI. " * 3,
        placeholders=[{"name": "nome", "type": "text", "required": True}],
        feature_level=FeatureLevel.ADVANCED,
        state=Dispatch.State.COMPLETED,
        created_by=supervisor,
    )
    code = protect_fiscal_code("BNCMRA80A01H501X")
    variables = crypto.encrypt('{"nome": "Cittadino del benchmark"}')
    with connection.cursor() as cursor:
        for start in range(1, total + 1, BATCH):
            cursor.execute(
                INSERT,
                {
                    "dispatch": dispatch.pk,
                    "start": start,
                    "end": min(start + BATCH - 1, total),
                    "encrypted": code["fiscal_code_encrypted"],
                    "masked": code["fiscal_code_masked"],
                    "variables": variables,
                },
            )
            print(f"  {min(start + BATCH - 1, total):,} deliveries…", flush=True)
        cursor.execute("VACUUM ANALYZE messaging_delivery")
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)
    return dispatch


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _export(url: str, trace: bool) -> dict[str, Any]:
    """In the child: request `url`, read the body to its end."""
    import tracemalloc

    client = history._client(User.objects.get(username=SUPERVISOR))
    client.get(reverse("sending:dispatch_list"))  # warm: session, templates, connection
    start_rss = _rss_kib()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    # The header comes at once; the first rows once the database has them ready.
    firsts: list[float] = []
    size = 0
    for chunk in response.streaming_content:  # type: ignore[attr-defined]
        if len(firsts) < 2 and chunk:
            firsts.append(time.perf_counter() - started)
        size += len(chunk)
    response.close()
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    return {
        "first": firsts[0],
        "rows": firsts[-1],
        "elapsed": elapsed,
        "bytes": size,
        "start_rss": start_rss,
        "py": peak,
    }


def _in_child(url: str, trace: bool) -> dict[str, Any]:
    """Run `_export` in a forked child; its result, with its peak RSS from wait4 (KiB)."""
    connections.close_all()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 0
        try:
            result = _export(url, trace)
        except BaseException as error:  # reported by the parent
            result = {"error": repr(error)}
            code = 1
        with os.fdopen(write_end, "w") as out:
            json.dump(result, out)
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as source:
        text = source.read()
    _pid, _status, usage = os.wait4(pid, 0)
    result = json.loads(text)
    if "error" in result:
        raise RuntimeError(result["error"])
    result["peak_rss"] = usage.ru_maxrss
    result["cpu"] = usage.ru_utime + usage.ru_stime
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    dispatch = Dispatch.objects.filter(organization__fiscal_code=ORG_FISCAL_CODE).first()
    if dispatch is not None and (
        args.reseed or Delivery.objects.filter(dispatch=dispatch).count() != args.deliveries
    ):
        _remove_seed()
        dispatch = None
    if dispatch is None:
        print(f"seeding one dispatch of {args.deliveries:,} deliveries…", flush=True)
        dispatch = _seed(args.deliveries)
    rows = Delivery.objects.filter(dispatch=dispatch).count()
    print(
        f"\nPostgreSQL {connection.pg_version}, one dispatch of {rows:,} deliveries; "  # type: ignore[attr-defined]
        "in-process test client, body read to the end\n"
    )
    print(
        f"{'export':8} {'first byte':>11} {'first rows':>11} {'total':>9} {'rows/s':>9} "
        f"{'CPU':>8} {'size':>10} {'peak RSS':>10} {'RSS growth':>11} {'py peak':>9}"
    )
    for kind in ("csv", "xlsx"):
        url = reverse(f"reports:dispatch_deliveries_{kind}", args=[dispatch.public_id])
        result = _in_child(url, trace=False)
        if args.tracemalloc:
            result["py"] = _in_child(url, trace=True)["py"]
        py = f"{result['py'] / 2**20:7.1f}MB" if result["py"] is not None else f"{'-':>9}"
        print(
            f"{kind:8} {result['first']:10.2f}s {result['rows']:10.2f}s {result['elapsed']:8.1f}s "
            f"{rows / result['elapsed']:9,.0f} {result['cpu']:7.1f}s "
            f"{result['bytes'] / 2**20:8.1f}MB "
            f"{result['peak_rss'] / 1024:8.1f}MB "
            f"{(result['peak_rss'] - result['start_rss']) / 1024:9.1f}MB {py}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
