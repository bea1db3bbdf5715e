"""Sending pipeline benchmark, one IO account (figures 1 and 2 of docs/sending.md).

    .venv/bin/python benchmarks/sending_pipeline.py                  # figure 1
    .venv/bin/python benchmarks/sending_pipeline.py --efficiency     # figure 2

Figure 1 (default): --recipients (10,000) through real qcluster workers with the project's
default settings (Q_WORKERS, concurrency, batch size...) against the simulator at --limit
calls / 5 s and --latency-ms. Prints the time against the ideal (calls ÷ (limit / 5 s)),
rate-budget utilisation, 429s served, the busiest 5-second window the simulator saw (429s
included), and the worker processes' CPU per delivery and peak RSS.

Figure 2 (--efficiency): no rate limit, 0 ms latency. The pipeline runs in this process
(`run_account_worker`, the same code a worker task runs) against the simulator in another
process, then a bare keep-alive `requests` loop makes the same calls (a profile check and a
submission per citizen) against the same simulator. Prints deliveries/s of both and their
ratio, the pipeline's CPU ms per delivery (this process: the run and its request threads)
and SQL statements and commits per delivery.

Uses a throw-away SQLite database in var/ (deleted at the end), or DATABASE_URL; runs can be
repeated on one database (each run makes its own organization and service). Runs as
deployed: DEBUG off (`benchmarks.common.use_production_settings`).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    MachineCpu,
    remove_throwaway_database,
    run_counters,
    use_production_settings,
    use_throwaway_database,
)


def start_django() -> None:
    use_production_settings()
    os.environ["SENDING_POLL_INTERVALS"] = "3600"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def setup(args: argparse.Namespace) -> tuple[Any, Any, str]:
    from ioportal.accounts.models import Organization, User

    run = uuid.uuid4().int % 10**9
    org = Organization.objects.create(
        name=f"Bench {run}",
        fiscal_code=f"{run:011d}",
        rate_tier=0,
        custom_rate_limit=args.limit or 100_000,
    )
    user = User.objects.create_user(username=f"bench{run}", password="x" * 20)
    return org, user, f"01JBENCH{run:018d}"


def pipeline_figure(args: argparse.Namespace) -> None:
    from ioportal.fakeio.config import parse_config
    from ioportal.fakeio.server import make_server
    from ioportal.messaging.models import Delivery
    from ioportal.sending.triggers import wake_up
    from tests import builders
    from tests.sending.support import (
        busiest_window,
        fiscal_codes,
        record_calls,
        simulated_service,
        simulator_config,
    )

    org, user, service_id = setup(args)
    config = simulator_config(org, rate_limit=args.limit)
    config["accounts"][0]["services"][0]["service_id"] = service_id
    server = make_server(parse_config(config)).start()
    server.sim.set_faults({"latency_ms": args.latency_ms})
    moments = record_calls(server.sim)  # every call the simulator's gateway sees
    service = builders.service(
        org, **{**simulated_service(server.url + "/api/v1"), "service_id": service_id}
    )
    codes = fiscal_codes(args.recipients)
    assert len(set(codes)) == args.recipients, "not enough distinct fiscal codes"
    dispatch = builders.dispatch(service, user, codes)
    started = time.monotonic()
    log_path = Path(tempfile.mkstemp(suffix=".log", prefix="cluster-")[1])
    log = open(log_path, "ab")  # noqa: SIM115
    clusters = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        for _ in range(args.clusters)
    ]
    machine = MachineCpu()
    wake_up(organization_id=org.pk)
    open_states = ("pending", "checking", "ready", "retry_wait", "submitting")
    while Delivery.objects.filter(dispatch=dispatch, state__in=open_states).exists():
        time.sleep(0.5)
        if time.monotonic() - started > 3600:
            break
    elapsed = time.monotonic() - started
    machine_busy = machine.busy()
    for process in clusters:
        process.terminate()
    for process in clusters:
        process.wait(timeout=120)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = server.sim.stats()
    calls = sum(n for by_status in stats["calls"].values() for n in by_status.values())
    submitted = Delivery.objects.filter(dispatch=dispatch, io_message_id__isnull=False).count()
    cpu = usage.ru_utime + usage.ru_stime
    print(
        f"figure 1: recipients={args.recipients} limit={args.limit}/5s "
        f"latency={args.latency_ms}ms clusters={args.clusters} "
        f"(Q_WORKERS={os.environ.get('Q_WORKERS', 'default')})"
    )
    print(
        f"elapsed={elapsed:.1f}s (includes cluster start-up) calls={calls} submitted={submitted}"
        f" 429={stats['rate_limited']} duplicates={stats['duplicates']}"
    )
    print("calls by operation: " + ", ".join(f"{op}={n}" for op, n in stats["calls"].items()))
    if moments:
        span = moments[-1] - moments[0]
        print(
            f"busiest 5 s window={busiest_window(moments, 5.0)}/{args.limit} "
            f"first call at {moments[0] - started:.1f}s, last at {moments[-1] - started:.1f}s"
        )
        ideal = calls / (args.limit / 5)
        print(
            f"ideal={ideal:.1f}s utilisation={ideal / elapsed:.1%} "
            f"(first to last call: {ideal / span:.1%})"
        )
    print(
        f"workers cpu={cpu:.1f}s = {cpu * 1000 / max(1, args.recipients):.2f} ms/delivery "
        f"peak_rss(one process)={usage.ru_maxrss / 1024:.0f}MB"
    )
    if machine_busy is not None:
        print(
            f"machine: {machine_busy[1]:.0%} of its {os.cpu_count()} cores busy over the run "
            "(every process: workers, simulator, database server, Redis)"
        )
    log.close()
    counters = run_counters(log_path)
    log_path.unlink()
    print("account runs (cluster log):", " ".join(f"{k}={v}" for k, v in sorted(counters.items())))
    server.stop()


def efficiency_figure(args: argparse.Namespace) -> None:
    import requests
    from django.conf import settings
    from django.db import connection

    from ioportal.messaging.models import Delivery
    from ioportal.sending.runner import run_account_worker
    from tests import builders
    from tests.sending.support import fiscal_codes, simulated_service, simulator_config

    org, user, service_id = setup(args)
    config = simulator_config(org, rate_limit=0)
    config["accounts"][0]["services"][0]["service_id"] = service_id
    config_file = Path(tempfile.mkstemp(suffix=".json")[1])
    config_file.write_text(json.dumps(config))
    port = 18000 + os.getpid() % 1000
    simulator = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "fakeio", "--port", str(port)]
        + ["--config", str(config_file), "--rate-limit", "0", "--latency-ms", "0"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(base + "/__fakeio__/stats", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.2)
    service = builders.service(
        org, **{**simulated_service(base + "/api/v1"), "service_id": service_id}
    )
    codes = fiscal_codes(args.recipients)
    dispatch = builders.dispatch(service, user, codes)

    statements = {"all": 0, "commits": 0}
    shapes: Counter[str] = Counter()

    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        statements["all"] += 1
        words = sql.split()
        table = next((w for w in words if w.startswith('"') and "_" in w), "?")
        shapes[f"{words[0]} {table}"] += 1
        return execute(sql, params, many, context)

    import django.db.backends.base.base as base_backend

    # `_commit` is private to Django (not in its type stubs): counted by wrapping it.
    original_commit = base_backend.BaseDatabaseWrapper._commit  # type: ignore[attr-defined]

    def counting_commit(self: Any) -> Any:
        statements["commits"] += 1
        return original_commit(self)

    base_backend.BaseDatabaseWrapper._commit = counting_commit  # type: ignore[attr-defined]
    # The worker as deployed (DEBUG=false): Django keeps no copy of every SQL statement.
    settings.DEBUG = False
    cpu0, t0 = time.process_time(), time.monotonic()
    with connection.execute_wrapper(count):
        while Delivery.objects.filter(dispatch=dispatch, io_message_id__isnull=True).exists():
            run_account_worker(organization_id=org.pk, budget=30)
    elapsed, cpu = time.monotonic() - t0, time.process_time() - cpu0
    base_backend.BaseDatabaseWrapper._commit = original_commit  # type: ignore[attr-defined]
    n = args.recipients

    session = requests.Session()
    headers = {"Ocp-Apim-Subscription-Key": "a1" + "0" * 30}
    bare_cpu0, b0 = time.process_time(), time.monotonic()
    for code in codes:
        session.post(base + "/api/v1/profiles", json={"fiscal_code": code}, headers=headers)
        session.post(
            base + "/api/v1/messages",
            headers=headers,
            json={
                "fiscal_code": code,
                "content": {"subject": "Avviso di pagamento TARI", "markdown": "x" * 120},
            },
        )
    bare, bare_cpu = time.monotonic() - b0, time.process_time() - bare_cpu0
    simulator.terminate()
    simulator.wait(timeout=30)
    config_file.unlink()
    print(f"figure 2: recipients={n} no rate limit, 0 ms latency, simulator in its own process")
    print(
        f"pipeline: {n / elapsed:.1f} deliveries/s, cpu {cpu * 1000 / n:.2f} ms/delivery, "
        f"{statements['all'] / n:.2f} SQL statements and {statements['commits'] / n:.2f} "
        f"commits per delivery"
    )
    print(
        f"bare keep-alive requests loop: {n / bare:.1f} deliveries/s, "
        f"cpu {bare_cpu * 1000 / n:.2f} ms/delivery"
    )
    print(f"efficiency ratio (pipeline/bare deliveries/s) = {bare / elapsed:.2f}")
    print(
        "SQL per delivery by statement: "
        + ", ".join(f"{shape} {k / n:.2f}" for shape, k in shapes.most_common(8))
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=0, help="default 10,000 (fig. 2: 2,000)")
    parser.add_argument("--limit", type=int, default=150, help="calls per 5 s")
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--clusters", type=int, default=1)
    parser.add_argument("--efficiency", action="store_true", help="figure 2")
    args = parser.parse_args()
    args.recipients = args.recipients or (2000 if args.efficiency else 10_000)
    db = use_throwaway_database("bench")
    start_django()
    if args.efficiency:
        args.limit = 0
        efficiency_figure(args)
    else:
        pipeline_figure(args)
    remove_throwaway_database(db)


if __name__ == "__main__":
    main()
