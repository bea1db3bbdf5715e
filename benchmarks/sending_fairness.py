"""Fairness benchmark: many organizations (IO accounts) sending at once through real qcluster
workers, each account with its own limit in the simulator.

    .venv/bin/python benchmarks/sending_fairness.py --orgs 20 --recipients 1000 --limits 150,250

The project's default deployment unless told otherwise (one cluster of Q_WORKERS processes,
default slots per account, concurrency and accounts per worker process), latency 200 ms.
Uses a throw-away SQLite database in var/, deleted at the end (or DATABASE_URL; runs can be
repeated on one database: each makes its own organizations and services). Every
organization gets one IO service and one dispatch of --recipients citizens (1,000 by default:
an account at 250 / 5 s sends for 40 s, so the first seconds of a run, adopted within 2 s and
making its first claims, do not weigh a tenth of its share as with 300); account limits
cycle through --limits (calls per 5 s). Prints the aggregate throughput (deliveries/s and IO
calls/s) and, per account, its throughput and its share of its own limit (calls/s ÷ (limit /
5 s)) measured until its dispatch finished; fairness is that share's min/max ratio and
Jain's index ((Σx)² / (n·Σx²), 1 = perfectly fair). Also the 429s served and the workers'
CPU (and the share of the machine's cores it used: near 100 % the run is CPU-bound and the
aggregate calls/s is the machine's ceiling), the CPU-bound ceiling (the calls/s the cores
could carry at the CPU the run spent per call), the whole machine's CPU over the run
(every process: the database server and Redis too, which the other figures leave out; near
100 % the run was bound by the machine's CPU) and peak RSS. Runs as deployed: DEBUG off
(`benchmarks.common.use_production_settings`).
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
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

RUN = uuid.uuid4().int % 10**6


def service_id(number: int) -> str:
    return f"01JFA1RSERV1CE{RUN:06d}{number:06d}"


def key(number: int) -> str:
    return f"c{RUN:06d}{number:025d}"


def simulator_config(orgs: list[Any], limits: dict[int, int]) -> dict[str, Any]:
    return {
        "status_delay": 0.5,
        "slow_status_delay": 5,
        "read_delay": 1,
        "idle_timeout": 30,
        "seed": 11,
        "accounts": [
            {
                "name": f"ente-{org.fiscal_code}",
                "rate_limit": limits[org.pk],
                "organization_fiscal_code": org.fiscal_code,
                "services": [
                    {
                        "service_id": service_id(number),
                        "name": f"Tributi {number}",
                        "primary_key": key(number),
                        "secondary_key": key(1000 + number),
                        "max_allowed_payment_amount": 100_000,
                    }
                ],
            }
            for number, org in enumerate(orgs)
        ],
    }


def record_calls_by_account(sim: Any) -> dict[str, list[float]]:
    """Note the moment (monotonic) of every call the simulator's gateway sees, 429s
    included, per account name; returns the dict it fills."""
    moments: dict[str, list[float]] = {}
    take_call = sim.take_call

    def recording_take_call(account: str) -> Any:
        moments.setdefault(account, []).append(time.monotonic())
        return take_call(account)

    sim.take_call = recording_take_call
    return moments


def count_connections(server: Any) -> list[int]:
    """Count the connections the simulator accepts (its keep-alive connections opened by the
    workers); returns the one-item list it increments."""
    opened = [0]
    lock = threading.Lock()
    track = server.track

    def counting_track(connection: Any) -> None:
        with lock:
            opened[0] += 1
        track(connection)

    server.track = counting_track
    return opened


def jain(values: list[float]) -> float:
    total = sum(values)
    squares = sum(v * v for v in values)
    return total * total / (len(values) * squares) if squares else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--recipients", type=int, default=1000, help="per organization")
    parser.add_argument("--limits", default="150,250", help="calls per 5 s, cycled over orgs")
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--clusters", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=0, help="Q_WORKERS per cluster (default: the project's)"
    )
    parser.add_argument(
        "--per-account", type=int, default=0, help="worker slots per account (default: project's)"
    )
    parser.add_argument(
        "--cluster-log", default="", help="append the clusters' output (logs) to this file"
    )
    args = parser.parse_args()

    db = use_throwaway_database("bench-fair")
    use_production_settings()
    os.environ["SENDING_POLL_INTERVALS"] = "3600"
    if args.workers:
        os.environ["Q_WORKERS"] = str(args.workers)
    if args.per_account:
        os.environ["SENDING_WORKERS_PER_ACCOUNT"] = str(args.per_account)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db.models import Count

    call_command("migrate", verbosity=0)
    from ioportal.accounts.models import Organization, User
    from ioportal.fakeio.config import parse_config
    from ioportal.fakeio.server import make_server
    from ioportal.ioservices.services import ioservice_create
    from ioportal.messaging.models import Delivery
    from ioportal.sending.models import ApiCall
    from ioportal.sending.sweeper import sweep
    from ioportal.sending.triggers import wake_up
    from tests import builders
    from tests.sending.support import busiest_window, fiscal_codes

    cycle = [int(v) for v in args.limits.split(",")]
    orgs = [
        Organization.objects.create(
            name=f"Ente {RUN}-{n}",
            fiscal_code=f"{RUN:06d}{n:05d}",
            rate_tier=0,
            custom_rate_limit=cycle[n % len(cycle)],
        )
        for n in range(args.orgs)
    ]
    limits = {org.pk: cycle[n % len(cycle)] for n, org in enumerate(orgs)}
    server = make_server(parse_config(simulator_config(orgs, limits))).start()
    server.sim.set_faults({"latency_ms": args.latency_ms})
    moments = record_calls_by_account(server.sim)  # every call IO sees, per account
    connections = count_connections(server)
    user = User.objects.create_user(username=f"bench{RUN}", password="x" * 20)
    codes = fiscal_codes(args.recipients)
    dispatches = {}
    for number, org in enumerate(orgs):
        service = ioservice_create(
            organization=org,
            actor="bench",
            primary_key=key(number),
            secondary_key=key(1000 + number),
            service_id=service_id(number),
            name=f"Tributi {number}",
            test_mode=False,
            api_base_url=server.url + "/api/v1",
            payments_enabled=True,
            max_allowed_payment_amount=100_000,
        )
        dispatches[org.pk] = builders.dispatch(service, user, codes).pk

    log_path = Path(args.cluster_log or tempfile.mkstemp(suffix=".log", prefix="cluster-")[1])
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
    load_at_start = os.getloadavg()
    machine = MachineCpu()
    own_at_start = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    for org in orgs:
        wake_up(organization_id=org.pk)
    open_states = ("pending", "checking", "ready", "retry_wait", "submitting")
    done: dict[int, float] = {}
    next_sweep = started + 60
    while len(done) < len(orgs) and time.monotonic() - started < 3600:
        time.sleep(0.5)
        if time.monotonic() >= next_sweep:  # the deployment's minute sweep (schedule_tasks)
            sweep()
            next_sweep += 60
        still_open = set(
            Delivery.objects.filter(dispatch_id__in=dispatches.values(), state__in=open_states)
            .values("dispatch_id")
            .annotate(n=Count("id"))
            .values_list("dispatch_id", flat=True)
        )
        now = time.monotonic() - started
        for org_id, dispatch_id in dispatches.items():
            if org_id not in done and dispatch_id not in still_open:
                done[org_id] = now
    elapsed = time.monotonic() - started
    machine_busy = machine.busy()
    for process in clusters:
        process.terminate()
    for process in clusters:
        process.wait(timeout=60)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = server.sim.stats()
    calls_by_org = dict(
        ApiCall.objects.filter(organization__in=orgs)
        .values("organization_id")
        .annotate(n=Count("id"))
        .values_list("organization_id", "n")
    )
    total_calls = sum(calls_by_org.values())
    submitted = Delivery.objects.filter(
        dispatch_id__in=dispatches.values(), io_message_id__isnull=False
    ).count()
    uncertain = Delivery.objects.filter(
        dispatch_id__in=dispatches.values(), state=Delivery.State.UNCERTAIN
    ).count()
    print(
        f"orgs={args.orgs} recipients/org={args.recipients} limits={args.limits}/5s "
        f"latency={args.latency_ms}ms clusters={args.clusters} "
        f"Q_WORKERS={settings.Q_CLUSTER['workers']} "
        f"slots/account={settings.SENDING_WORKERS_PER_ACCOUNT} "
        f"accounts/process={settings.SENDING_ACCOUNTS_PER_WORKER}"
    )
    print(
        f"elapsed={elapsed:.1f}s (includes cluster start-up) deliveries={len(codes) * len(orgs)} "
        f"submitted={submitted} uncertain={uncertain} calls={total_calls} "
        f"429={stats['rate_limited']} "
        f"duplicates={stats['duplicates']} connections_opened={connections[0]}"
    )
    print(
        f"aggregate: {len(codes) * len(orgs) / elapsed:.1f} deliveries/s, "
        f"{total_calls / elapsed:.1f} calls/s (sum of limits "
        f"{sum(limits.values()) / 5:.0f} calls/s)"
    )
    print(
        "per account: share_of_limit = calls/s from the start until its dispatch ended, "
        "÷ (limit / 5 s); while_sending = the same from its first call to its last, as IO "
        "saw them; busiest = its busiest 5 s window at IO"
    )
    shares, rates, sending_shares = [], [], []
    for number, org in enumerate(orgs):
        took = done.get(org.pk, elapsed)
        rate = calls_by_org.get(org.pk, 0) / took
        share = rate / (limits[org.pk] / 5)
        shares.append(share)
        rates.append(rate)
        seen = sorted(moments.get(f"ente-{org.fiscal_code}", []))
        span = seen[-1] - seen[0] if len(seen) > 1 else 0.0
        while_sending = (len(seen) - 1) / span / (limits[org.pk] / 5) if span else 0.0
        sending_shares.append(while_sending)
        first = seen[0] - started if seen else 0.0
        print(
            f"  account {number:2d} limit={limits[org.pk]:3d}/5s first_call={first:5.1f}s "
            f"done_at={took:6.1f}s {rate:6.1f} calls/s share_of_limit={share:.1%} "
            f"while_sending={while_sending:.1%} busiest={busiest_window(seen, 5.0)}"
        )
    print(f"fairness (calls/s): min/max={min(rates) / max(rates):.2f} jain={jain(rates):.3f}")
    print(
        f"fairness (share of own limit): min={min(shares):.1%} max={max(shares):.1%} "
        f"min/max={min(shares) / max(shares):.2f} jain={jain(shares):.3f}"
    )
    print(
        f"share of own limit while sending: min={min(sending_shares):.1%} "
        f"median={sorted(sending_shares)[len(sending_shares) // 2]:.1%} "
        f"max={max(sending_shares):.1%}"
    )
    cpu = usage.ru_utime + usage.ru_stime
    cores = os.cpu_count() or 1
    print(
        f"workers cpu={cpu:.1f}s = {cpu / elapsed / cores:.0%} of {cores} cores over the run; "
        f"{cpu * 1000 / max(1, len(codes) * len(orgs)):.2f} ms/delivery; "
        f"peak_rss(one process)={usage.ru_maxrss / 1024:.0f}MB; "
        f"last account done at {max(done.values(), default=elapsed):.1f}s"
    )
    own = resource.getrusage(resource.RUSAGE_SELF)
    own_cpu_run = own.ru_utime + own.ru_stime - own_at_start.ru_utime - own_at_start.ru_stime
    print(
        f"this process (the IO simulator and the progress queries, from the cluster's start) "
        f"cpu={own_cpu_run:.1f}s = {own_cpu_run / elapsed / cores:.0%} of {cores} cores; "
        f"workers and it together {(cpu + own_cpu_run) / elapsed / cores:.0%}"
    )
    # What the machine's cores could carry at the CPU this run spent per IO call (the workers,
    # the simulator and the progress queries, not the database server): the aggregate rate
    # at which the run would be CPU-bound.
    per_call = (cpu + own_cpu_run) / max(1, total_calls)
    ceiling = cores / per_call if per_call else 0.0
    print(
        f"CPU-bound ceiling: {ceiling:.0f} calls/s ({cores} cores at {per_call * 1000:.2f} ms "
        f"of CPU per call, workers and simulator); the run reached "
        f"{total_calls / elapsed / max(ceiling, 1e-9):.0%} of it, and "
        f"{total_calls / elapsed / (sum(limits.values()) / 5):.0%} of the sum of the limits"
    )
    if machine_busy is not None:
        # Every process on the machine counts here: near 100 % the run was bound by the
        # machine's CPU, whatever the workers' own share. "Others" is the database server and
        # Redis, and anything else running at the time (then the run was not alone).
        busy, share = machine_busy
        others = max(0.0, busy - cpu - own_cpu_run)
        print(
            f"machine: {share:.0%} of its {cores} cores busy over the run: workers "
            f"{cpu / elapsed / cores:.0%}, this process {own_cpu_run / elapsed / cores:.0%}, "
            f"every other process (database server, Redis, anything else running) "
            f"{others / elapsed / cores:.0%}; {busy * 1000 / max(1, total_calls):.2f} ms of "
            "the machine's CPU per IO call"
        )
    print(f"machine load average at the start: {load_at_start}, at the end: {os.getloadavg()}")
    log.close()
    counters = run_counters(log_path)
    print("account runs (cluster log):", " ".join(f"{k}={v}" for k, v in sorted(counters.items())))
    if not args.cluster_log:
        log_path.unlink()
    server.stop()
    remove_throwaway_database(db)


if __name__ == "__main__":
    main()
