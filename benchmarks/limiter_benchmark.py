"""Rate limiter micro-benchmark: several processes take calls from one account's budget.

    .venv/bin/python benchmarks/limiter_benchmark.py                       # SQLite, 4 processes
    DATABASE_URL=postgres://... .venv/bin/python benchmarks/limiter_benchmark.py
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python benchmarks/limiter_benchmark.py \
        --backend redis
    .venv/bin/python benchmarks/limiter_benchmark.py --batch 3 --threads 4  # take_tokens

Each process (optionally with several threads) asks the limiter for a call, sleeps what it is
told (at most 0.5 s, as the account worker does), and notes the moment of every call granted
(at its reserved delay with --batch). No IO call is made: the figures are the limiter's alone.
Prints calls/s, utilisation of IO's limit, the busiest 5 s window, the limiter's round trips
and their mean duration, and the CPU of the processes per granted call. Uses a throw-away
SQLite database in var/ (deleted at the end) unless DATABASE_URL is given; runs again on the
same database (its account's limiter state is reset first).
"""

import argparse
import multiprocessing
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import remove_throwaway_database, use_throwaway_database  # noqa: E402

ORGANIZATION = "Ente del benchmark del limitatore"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioportal.settings")
    import django

    django.setup()


def taker(
    organization_id: int, args: argparse.Namespace, shared_start: Any, ready: Any, queue: Any
) -> None:
    setup_django()
    from django.db import connection

    from ioportal.sending import limiter

    limiter.state(organization_id=organization_id, limit=args.limit)  # connected, warm
    ready.release()
    while shared_start.value == 0:
        time.sleep(0.01)
    start = shared_start.value

    moments: list[float] = []
    trips = [0, 0.0]  # round trips, seconds spent in them
    lock = threading.Lock()
    end = start + args.seconds

    def loop() -> None:
        mine: list[float] = []
        n, spent = 0, 0.0
        while time.time() < end:
            before = time.perf_counter()
            if args.batch > 1:
                delays, wait = limiter.take_tokens(
                    organization_id=organization_id,
                    limit=args.limit,
                    count=args.batch,
                    horizon=args.horizon,
                )
            else:
                wait = limiter.take_token(organization_id=organization_id, limit=args.limit)
                delays = [0.0] if wait <= 0 else []
            spent += time.perf_counter() - before
            n += 1
            if delays:
                granted_at = time.time()
                for delay in delays:
                    pause = granted_at + delay - time.time()
                    if pause > 0:
                        time.sleep(pause)
                    mine.append(time.time())
            else:
                time.sleep(min(wait, 0.5))
        connection.close()
        with lock:
            moments.extend(mine)
            trips[0] += n
            trips[1] += spent

    while time.time() < start:
        time.sleep(0.001)
    threads = [threading.Thread(target=loop) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((moments, trips[0], trips[1], usage.ru_utime + usage.ru_stime))


def busiest_window(moments: list[float], window: float = 5.0) -> int:
    worst, first = 0, 0
    for last, at in enumerate(moments):
        while moments[first] <= at - window:
            first += 1
        worst = max(worst, last - first + 1)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=150, help="IO's calls per 5 s")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="takers per process")
    parser.add_argument("--batch", type=int, default=1, help="calls reserved per round trip")
    parser.add_argument("--horizon", type=float, default=0.1, help="seconds, with --batch")
    parser.add_argument("--backend", choices=("db", "redis"), default="db")
    args = parser.parse_args()

    db = use_throwaway_database("limiter")
    os.environ["SENDING_LIMITER"] = args.backend
    if args.backend == "redis":
        os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from ioportal.accounts.models import Organization
    from ioportal.sending import limiter
    from ioportal.sending.models import AccountState

    organization, _ = Organization.objects.get_or_create(
        name=ORGANIZATION, defaults={"fiscal_code": "80001230582"}
    )
    AccountState.objects.filter(organization=organization).delete()
    if args.backend == "redis":
        import redis
        from django.conf import settings

        redis.Redis.from_url(settings.REDIS_URL).delete(*limiter.redis_keys(organization.pk))
    vendor = connection.vendor
    connection.close()

    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = context.Queue()
    ready = context.Semaphore(0)
    shared_start = context.Value("d", 0.0)
    processes = [
        context.Process(target=taker, args=(organization.pk, args, shared_start, ready, queue))
        for _ in range(args.processes)
    ]
    for process in processes:
        process.start()
    for _ in processes:  # every process imported and connected before the start
        ready.acquire()
    start = time.time() + 0.2
    shared_start.value = start
    results = [queue.get() for _ in processes]
    for process in processes:
        process.join()

    moments = sorted(m for result in results for m in result[0])
    trips = sum(result[1] for result in results)
    trip_seconds = sum(result[2] for result in results)
    cpu = sum(result[3] for result in results)
    calls = len(moments)
    ideal = args.limit / 5.0 * args.seconds
    backend = f"{args.backend} ({vendor})" if args.backend == "db" else "redis"
    print(
        f"limiter {backend}: {args.processes} processes × {args.threads} takers, "
        f"batch {args.batch}, limit {args.limit}/5 s, {args.seconds:g} s"
    )
    print(f"  calls granted     {calls} ({calls / args.seconds:.1f}/s)")
    print(f"  utilisation       {calls / ideal:.1%} of IO's limit")
    print(f"  busiest 5 s       {busiest_window(moments)} (limit {args.limit})")
    print(f"  round trips       {trips} ({trips / max(1, calls):.2f} per call)")
    print(f"  mean round trip   {trip_seconds / max(1, trips) * 1000:.2f} ms")
    if os.environ.get("LIMITER_BENCHMARK_SECONDS"):
        per_second = [0] * int(args.seconds + 1)
        for at in moments:
            per_second[min(len(per_second) - 1, max(0, int(at - start)))] += 1
        print(f"  per second        {per_second}")
    print(f"  CPU per call      {cpu / max(1, calls) * 1000:.2f} ms (takers, incl. start-up)")
    remove_throwaway_database(db)


if __name__ == "__main__":
    main()
