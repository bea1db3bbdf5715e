"""A reachability check: time and peak memory of creating it from a large file, and the pace of
its profile reads against the IO simulator. Prints figures; asserts nothing.

1. creation: a semicolon-separated CSV of `--rows` fiscal codes (default 100,000) read by the
   recipients' import and every code validated (the upload request), then each stored
   encrypted with its keyed hash and mask (the first run of a worker);
2. reads: one run (`runs.run_check`, in this process, as a worker runs it) on `--reads`
   citizens (default 1,000) against the simulator at `--latency-ms` and `--limit` calls per
   5 s; reads per second, ApiCall rows, and that nothing was submitted.

Against a throw-away SQLite database in var/ (deleted at the end), or DATABASE_URL.

    .venv/bin/python benchmarks/reachability_benchmark.py [--rows 100000] [--reads 1000]
"""

import argparse
import itertools
import os
import resource
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import remove_throwaway_database, use_throwaway_database  # noqa: E402


def start_django() -> None:
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
    os.environ["SENDING_LIMITER"] = "db"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False  # no query log
    call_command("migrate", verbosity=0)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=150, help="calls per 5 s")
    parser.add_argument("--latency-ms", type=int, default=100)
    args = parser.parse_args()
    db = use_throwaway_database("reachability")
    start_django()

    from ioportal.accounts.models import Organization, User
    from ioportal.fakeio.config import parse_config
    from ioportal.fakeio.server import make_server
    from ioportal.reachability import runs, services
    from ioportal.reachability.models import ReachabilityCheck
    from ioportal.recipients.parsing import parse_table
    from ioportal.sending.models import ApiCall
    from tests import builders
    from tests.sending.support import LETTERS, fiscal_code, simulated_service, simulator_config

    run = uuid.uuid4().int % 10**9
    org = Organization.objects.create(
        name=f"Bench {run}",
        fiscal_code=f"{run:011d}",
        rate_tier=Organization.RateTier.CUSTOM,
        custom_rate_limit=args.limit,
    )
    user = User.objects.create_user(username=f"bench{run}", password="x" * 20)
    config = simulator_config(org, rate_limit=args.limit)
    server = make_server(parse_config(config)).start()
    server.sim.set_faults({"latency_ms": args.latency_ms})
    service = builders.service(org, **simulated_service(server.url + "/api/v1"))

    names = ("".join(p) for p in itertools.product(LETTERS, repeat=6))
    codes = []
    for n, name in zip(range(args.rows), names, strict=False):
        # Every tenth citizen not on IO (XXX), every tenth blocking the service (YYY).
        surname = {1: "XXX", 2: "YYY"}.get(n % 10, name[:3])
        codes.append(fiscal_code(f"{surname}{name[3:]}80A01H501"))
    codes = list(dict.fromkeys(codes))
    data = ("codice_fiscale;nome\n" + "".join(f"{c};x\n" for c in codes)).encode()
    started = time.monotonic()
    table = parse_table(data=data, filename="elenco.csv", mapping=False)
    parsed = time.monotonic() - started
    check = services.reachability_check_create(
        service=service,
        table=table,
        column=services.fiscal_code_column(table.headers),
        source_name="elenco.csv",
        actor=user,
    )
    created = time.monotonic() - started
    services.reachability_rows_create(check=check)
    stored = time.monotonic() - started - created
    print(
        f"creation: rows={args.rows} parse={parsed:.1f}s upload request (parse, validate, "
        f"seal)={created:.1f}s worker's storage of the rows={stored:.1f}s "
        f"peak RSS={peak_mb():.0f} MB"
    )
    ReachabilityCheck.objects.filter(pk=check.pk).delete()

    small = services.reachability_check_create(
        service=service,
        table=parse_table(
            data=("codice_fiscale\n" + "\n".join(codes[: args.reads]) + "\n").encode(),
            filename="elenco.csv",
            mapping=False,
        ),
        column="codice_fiscale",
        source_name="elenco.csv",
        actor=user,
    )
    started = time.monotonic()
    while True:
        runs.run_check(check_id=small.pk, budget=600)
        small.refresh_from_db()
        if not small.is_active or time.monotonic() - started > 3600:
            break
    elapsed = time.monotonic() - started
    stats = server.sim.stats()
    calls = ApiCall.objects.filter(organization=org).count()
    print(
        f"reads: citizens={args.reads} limit={args.limit}/5s latency={args.latency_ms}ms "
        f"elapsed={elapsed:.1f}s rate={args.reads / elapsed:.1f}/s apicalls={calls} "
        f"reachable={small.reachable} not_on_io={small.not_on_io} blocked={small.blocked} "
        f"errors={small.errors} 429={stats['rate_limited']} messages={stats['messages']}"
    )
    server.stop()
    remove_throwaway_database(db)


if __name__ == "__main__":
    main()
