"""Time and peak memory of the exports of a dispatch's deliveries (CSV streamed; XLSX prepared
by a worker) at 1,000,000 rows on PostgreSQL.

Seeds once (reused on the next run; --reseed to start again) one organization with one
dispatch of N deliveries, inserted on the server (INSERT ... SELECT generate_series, as
`history_benchmark.py` does): 80 % delivered with an IO id, two thirds of them read, half of
them paid; 15 % not reachable; 5 % failed; each with a payment notice and an amount. Each
step runs in a forked child (Django's test client, in process: the time is the server's,
middleware and queries included, no network); from wait4 come its CPU time (user + system:
the Python work, not the database server's) and its peak resident memory (ru_maxrss), shown
with its growth over the RSS the child started with. Prints:

- CSV: time to the first byte (the header, sent at once), to the first rows (once the
  database has them ready) and to the last byte, rows per second, size of the file;
- XLSX, above EXPORT_XLSX_INLINE_MAX_ROWS (reports.prepared): the button's POST (time to
  the response, which leads to the preparation page: it must be seconds), the worker's task
  (time until the encrypted file is ready; CPU; peak memory of the worker), then the
  download of the prepared file (decrypted as it is sent: time to the first and last byte);
- with --tracemalloc, in a second child, the peak of Python's allocations of the CSV export
  and of the worker's task (tracemalloc slows Python down: its time is not the export's);
- with --profile, the worker's task once more under cProfile: the functions with the most
  own time (is it our row building or XlsxWriter?).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        flock /work/bench.lock nice .venv/bin/python benchmarks/export_benchmark.py \\
        [--deliveries 1000000] [--reseed] [--tracemalloc] [--profile]

Without DATABASE_URL: postgres://postgres@127.0.0.1:5432/export_bench, created if missing.
The prepared files go to a temporary MEDIA_ROOT, deleted at the end.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
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
MEDIA = tempfile.mkdtemp(prefix="export-bench-")
os.environ["MEDIA_ROOT"] = MEDIA


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
from ioportal.reports import prepared  # noqa: E402
from ioportal.reports.models import PreparedExport  # noqa: E402

ORG_FISCAL_CODE = "80000000002"
SUPERVISOR = "export-supervisore"
BATCH = 100_000

INSERT = """
    INSERT INTO messaging_delivery (
        public_id, dispatch_id, row_number, fiscal_code_encrypted, fiscal_code_hmac,
        fiscal_code_masked, variables, notice_number, payment_amount, invalid_after_due_date,
        payee_fiscal_code, state, attempts, claimed_by, skip_reason, last_error_code,
        last_error_parts, io_message_id, io_status, read_status, payment_status,
        submitted_at, read_at, paid_at, polls, finished_at, created_at, first_attempt_at,
        content_sha256
    )
    SELECT gen_random_uuid(), %(dispatch)s, g, %(encrypted)s,
        md5(g::text) || md5('cf' || g::text), %(masked)s, %(variables)s,
        lpad(g::text, 18, '3'), 1000 + g %% 50000, false, '',
        s.state, 1, '',
        CASE WHEN s.state = 'skipped' THEN (CASE WHEN g %% 2 = 0 THEN 'not_on_io'
            ELSE 'blocked' END) ELSE '' END,
        CASE WHEN s.state = 'failed' THEN 'retries_exhausted' ELSE '' END, '[]',
        CASE WHEN s.state = 'processed' THEN 'X' || lpad(g::text, 25, '0') END,
        CASE WHEN s.state = 'processed' THEN 'PROCESSED' ELSE '' END,
        CASE WHEN s.state = 'processed'
            THEN (CASE WHEN g %% 3 = 0 THEN 'UNREAD' ELSE 'READ' END) ELSE '' END,
        CASE WHEN s.state = 'processed'
            THEN (CASE WHEN g %% 2 = 0 THEN 'PAID' ELSE 'NOT_PAID' END) ELSE '' END,
        CASE WHEN s.state = 'processed' THEN now() - interval '2 days' END,
        CASE WHEN s.state = 'processed' AND g %% 3 <> 0 THEN now() - interval '1 day' END,
        CASE WHEN s.state = 'processed' AND g %% 2 = 0 THEN now() - interval '12 hours' END,
        0, now() - interval '2 days', now() - interval '3 days', now() - interval '2 days',
        md5('content' || g::text) || md5('content' || g::text)
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


def _read(response: Any, started: float) -> dict[str, Any]:
    """Read a streamed body to its end: times to the first two chunks and the last, bytes."""
    firsts: list[float] = []
    size = 0
    for chunk in response.streaming_content:
        if len(firsts) < 2 and chunk:
            firsts.append(time.perf_counter() - started)
        size += len(chunk)
    response.close()
    return {
        "first": firsts[0],
        "rows": firsts[-1],
        "elapsed": time.perf_counter() - started,
        "bytes": size,
    }


def _client() -> Any:
    client = history._client(User.objects.get(username=SUPERVISOR))
    client.get(reverse("sending:dispatch_list"))  # warm: session, templates, connection
    return client


def _csv(url: str) -> dict[str, Any]:
    client = _client()
    started = time.perf_counter()
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return _read(response, started)


def _request_xlsx(url: str) -> dict[str, Any]:
    """The button's POST: the export recorded, the worker not called (the next child is)."""
    prepared.enqueue_build = lambda *, export_id: None
    client = _client()
    started = time.perf_counter()
    response = client.post(url)
    elapsed = time.perf_counter() - started
    assert response.status_code == 302, response.status_code
    page = client.get(response["Location"])
    assert page.status_code == 200, page.status_code
    export = PreparedExport.objects.get(public_id=response["Location"].rstrip("/").rsplit("/")[-1])
    return {"elapsed": elapsed, "export": export.pk}


def _build(export_id: int) -> dict[str, Any]:
    """The worker's task."""
    started = time.perf_counter()
    state = prepared.prepared_export_build(export_id=export_id)
    assert state == PreparedExport.State.READY, state
    export = PreparedExport.objects.get(pk=export_id)
    return {"elapsed": time.perf_counter() - started, "bytes": export.size, "rows": export.rows}


def _download(export_id: int) -> dict[str, Any]:
    client = _client()
    export = PreparedExport.objects.get(pk=export_id)
    started = time.perf_counter()
    response = client.post(reverse("reports:prepared_export_download", args=[export.public_id]))
    assert response.status_code == 200, response.status_code
    return _read(response, started)


def _profiled_build(export_id: int) -> dict[str, Any]:
    import cProfile
    import io
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    prepared.prepared_export_build(export_id=export_id)
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(12)
    # Who spends the time: our rows and cells, XlsxWriter's cells, its ZIP, the encryption.
    out.write("\nby cumulative time, the parts:\n")
    stats.sort_stats("cumulative").print_stats(
        r"exports.py.*\(_rows\)|spreadsheets.py.*\((append|xlsx_text)\)"
        r"|worksheet.py.*\(cell_wrapper\)|workbook.py.*\(close\)|crypto.py.*\(encrypt_file\)"
    )
    return {"profile": out.getvalue()}


def _job(name: str, argument: Any, trace: bool) -> dict[str, Any]:
    import tracemalloc

    start_rss = _rss_kib()
    if trace:
        tracemalloc.start()
    result = globals()[name](argument)
    result["start_rss"] = start_rss
    result["py"] = tracemalloc.get_traced_memory()[1] if trace else None
    return result


def _in_child(name: str, argument: Any, trace: bool = False) -> dict[str, Any]:
    """Run `name(argument)` in a forked child; its result, with its peak RSS (KiB, from
    wait4) and CPU time."""
    connections.close_all()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 0
        try:
            result = _job(name, argument, trace)
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


def _memory(result: dict[str, Any]) -> str:
    py = f"{result['py'] / 2**20:7.1f}MB" if result.get("py") is not None else f"{'-':>9}"
    return (
        f"{result['cpu']:7.1f}s {result['peak_rss'] / 1024:8.1f}MB "
        f"{(result['peak_rss'] - result['start_rss']) / 1024:9.1f}MB {py}"
    )


def _new_export(url: str) -> int:
    PreparedExport.objects.filter(created_by__username=SUPERVISOR).delete()
    return int(_in_child("_request_xlsx", url)["export"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    try:
        return _run(args)
    finally:
        PreparedExport.objects.filter(created_by__username=SUPERVISOR).delete()
        shutil.rmtree(MEDIA, ignore_errors=True)


def _run(args: argparse.Namespace) -> int:
    from django.conf import settings

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
        "in-process test client, bodies read to the end; "
        f"EXPORT_XLSX_INLINE_MAX_ROWS={settings.EXPORT_XLSX_INLINE_MAX_ROWS:,}\n"
    )
    memory = f"{'CPU':>8} {'peak RSS':>10} {'RSS growth':>11} {'py peak':>9}"
    csv_url = reverse("reports:dispatch_deliveries_csv", args=[dispatch.public_id])
    result = _in_child("_csv", csv_url)
    if args.tracemalloc:
        result["py"] = _in_child("_csv", csv_url, trace=True)["py"]
    print(
        f"{'CSV, streamed':24} {'first byte':>11} {'first rows':>11} {'total':>9} "
        f"{'rows/s':>9} {'size':>10} {memory}"
    )
    print(
        f"{'':24} {result['first']:10.2f}s {result['rows']:10.2f}s {result['elapsed']:8.1f}s "
        f"{rows / result['elapsed']:9,.0f} {result['bytes'] / 2**20:8.1f}MB {_memory(result)}",
        flush=True,
    )

    xlsx_url = reverse("reports:dispatch_deliveries_xlsx", args=[dispatch.public_id])
    print(f"\n{'XLSX, prepared':24} {'time':>11} {'rows/s':>11} {'size':>9} {memory}")
    request = _in_child("_request_xlsx", xlsx_url)
    export_id = int(request["export"])
    print(
        f"{'button → page (POST)':24} {request['elapsed']:10.2f}s {'':>11} {'':>9} "
        f"{_memory(request)}",
        flush=True,
    )
    built = _in_child("_build", export_id)
    if args.tracemalloc:
        built["py"] = _in_child("_build", _new_export(xlsx_url), trace=True)["py"]
    print(
        f"{'worker: file ready':24} {built['elapsed']:10.1f}s "
        f"{built['rows'] / built['elapsed']:11,.0f} {built['bytes'] / 2**20:7.1f}MB "
        f"{_memory(built)}",
        flush=True,
    )
    if args.tracemalloc:
        export_id = PreparedExport.objects.filter(state="ready").latest("pk").pk
    download = _in_child("_download", export_id)
    print(
        f"{'download (POST)':24} {download['first']:10.2f}s first byte, "
        f"{download['elapsed']:.1f}s last, {download['bytes'] / 2**20:.1f}MB "
        f"{_memory(download)}",
        flush=True,
    )
    if args.profile:
        profile = _in_child("_profiled_build", _new_export(xlsx_url))
        print("\nworker under cProfile (slower than without), by own time:\n")
        print(profile["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
