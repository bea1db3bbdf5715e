"""Sending pipeline benchmark: N recipients through real qcluster workers and the simulator.

    .venv/bin/python benchmarks/sending_pipeline.py --recipients 10000 --limit 150 --latency-ms 50
    .venv/bin/python benchmarks/sending_pipeline.py --recipients 2000 --limit 0   # no rate limit

Uses a throw-away SQLite database in var/, deleted at the end (or DATABASE_URL). Prints
total time against the ideal (calls ÷ (limit / 5 s)), rate-budget utilisation, 429s served,
the busiest 5-second window the simulator saw (429s included), the calls by operation, and
the workers' CPU seconds and peak RSS. With --limit 0 it also times a bare `requests` loop
making the same calls, for the ratio.
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import remove_throwaway_database, use_throwaway_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=150, help="calls per 5 s; 0 = none")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--clusters", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4, help="Q_WORKERS per cluster")
    args = parser.parse_args()

    db = use_throwaway_database("bench")
    os.environ.setdefault("DEBUG", "true")
    os.environ["SENDING_POLL_INTERVALS"] = "3600"
    os.environ["Q_WORKERS"] = str(args.workers)
    os.environ.setdefault("SENDING_WORKERS_PER_ACCOUNT", str(args.clusters * args.workers))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from ioportal.accounts.models import Organization, User
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

    org = Organization.objects.create(
        name="Bench",
        fiscal_code="80001230582",
        rate_tier=0,
        custom_rate_limit=args.limit or 100_000,
    )
    user = User.objects.create_user(username=f"bench{os.getpid()}", password="x" * 20)
    server = make_server(parse_config(simulator_config(org, rate_limit=args.limit))).start()
    server.sim.set_faults({"latency_ms": args.latency_ms})
    moments = record_calls(server.sim)  # every call the simulator's gateway sees
    service = builders.service(org, **simulated_service(server.url + "/api/v1"))
    codes = fiscal_codes(args.recipients)
    assert len(set(codes)) == args.recipients, "not enough distinct fiscal codes"
    dispatch = builders.dispatch(service, user, codes)
    env = dict(os.environ)
    started = time.monotonic()
    clusters = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(args.clusters)
    ]
    wake_up(organization_id=org.pk)
    open_states = ("pending", "checking", "ready", "retry_wait", "submitting")
    while Delivery.objects.filter(dispatch=dispatch, state__in=open_states).exists():
        time.sleep(0.5)
        if time.monotonic() - started > 3600:
            break
    elapsed = time.monotonic() - started
    for process in clusters:
        process.terminate()
    for process in clusters:
        process.wait(timeout=60)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = server.sim.stats()
    calls = sum(n for by_status in stats["calls"].values() for n in by_status.values())
    submitted = Delivery.objects.filter(dispatch=dispatch, io_message_id__isnull=False).count()
    print(
        f"recipients={args.recipients} limit={args.limit}/5s latency={args.latency_ms}ms "
        f"clusters={args.clusters}x{args.workers}"
    )
    print(
        f"elapsed={elapsed:.1f}s (includes cluster start-up) calls={calls} submitted={submitted}"
        f" 429={stats['rate_limited']} duplicates={stats['duplicates']}"
    )
    print(
        "calls by operation: "
        + ", ".join(f"{op}={counts}" for op, counts in stats["calls"].items())
    )
    if moments:
        print(
            f"busiest 5 s window={busiest_window(moments, 5.0)}/{args.limit or '-'} "
            f"first call at {moments[0] - started:.1f}s, last at {moments[-1] - started:.1f}s"
        )
    if args.limit:
        ideal = calls / (args.limit / 5)
        print(f"ideal={ideal:.1f}s utilisation={ideal / elapsed:.1%}")
    else:
        print(f"deliveries/s={args.recipients / elapsed:.1f}")
        import requests

        session = requests.Session()
        headers = {"Ocp-Apim-Subscription-Key": "a1" + "0" * 30}
        t0 = time.monotonic()
        for code in codes:
            session.post(
                server.url + "/api/v1/profiles", json={"fiscal_code": code}, headers=headers
            )
            session.post(
                server.url + "/api/v1/messages",
                headers=headers,
                json={
                    "fiscal_code": code,
                    "content": {"subject": "Avviso di pagamento", "markdown": "x" * 100},
                },
            )
        bare = time.monotonic() - t0
        print(
            f"bare requests loop: {args.recipients / bare:.1f} deliveries/s; "
            f"pipeline/bare={bare / elapsed:.2f}"
        )
    print(
        f"workers cpu={usage.ru_utime + usage.ru_stime:.1f}s "
        f"peak_rss={usage.ru_maxrss / 1024:.0f}MB"
    )
    server.stop()
    remove_throwaway_database(db)


if __name__ == "__main__":
    main()
