"""Throughput of the IO simulator under concurrent keep-alive clients.

Starts `python -m ioportal.fakeio` on a free port as a subprocess (rate limit set very high so
the limiter still runs but never refuses), then N threads, each with its own requests.Session,
cycle through profile lookup, submission and status read until the request budget or the time
budget is spent. Prints requests per second and latency percentiles.

The simulator must sustain at least 10x IO's highest account limit (250 calls / 5 s = 50/s),
so that it is never the bottleneck of a portal benchmark: target 500 requests/s.

    .venv/bin/python benchmarks/fakeio_throughput.py [--threads 8] [--requests 20000]
                                                      [--seconds 20] [--latency-ms 0]
"""

import argparse
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
KEY = "f0000000000000000000000000000001"  # demo config, production Premium service
CITIZENS = ["RSSMRA80A01H501U", "VRDGPP75C15F205S", "BNCLCU90D45L219H", "AAAAAA00A00A000A"]
TARGET = 500.0


def start_simulator(latency_ms: int) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        "-m",
        "ioportal.fakeio",
        "--port",
        "0",
        "--rate-limit",
        "100000000",
        "--latency-ms",
        str(latency_ms),
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"http://[0-9.]+:[0-9]+", line)
    if found is None:
        process.kill()
        raise SystemExit(f"the simulator did not start: {line!r}")
    return process, found.group(0)


class Budget:
    """Shared request counter and deadline, so the run is bounded in count and time."""

    def __init__(self, requests_total: int, seconds: float) -> None:
        self.left = requests_total
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            return True


def client(
    url: str, number: int, budget: Budget, latencies: list[float], statuses: Counter[str]
) -> None:
    session = requests.Session()
    session.headers["Ocp-Apim-Subscription-Key"] = KEY
    citizen = CITIZENS[number % len(CITIZENS)]
    body = {
        "fiscal_code": citizen,
        "content": {
            "subject": f"Benchmark del simulatore {number}",
            "markdown": "Messaggio di prova per misurare il simulatore di IO. " * 3,
        },
    }
    last_id = None
    step = 0
    own_latencies: list[float] = []
    own_statuses: Counter[str] = Counter()
    while budget.take():
        started = time.perf_counter()
        try:
            if step % 3 == 0:
                response = session.post(
                    f"{url}/api/v1/profiles", json={"fiscal_code": citizen}, timeout=10
                )
            elif step % 3 == 1 or last_id is None:
                response = session.post(f"{url}/api/v1/messages", json=body, timeout=10)
                if response.status_code == 201:
                    last_id = response.json()["id"]
            else:
                response = session.get(f"{url}/api/v1/messages/{citizen}/{last_id}", timeout=10)
            own_statuses[str(response.status_code)] += 1
        except requests.RequestException as exc:
            own_statuses[type(exc).__name__] += 1
        own_latencies.append(time.perf_counter() - started)
        step += 1
    latencies.extend(own_latencies)
    statuses.update(own_statuses)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--latency-ms", type=int, default=0, help="simulator latency")
    options = parser.parse_args()

    process, url = start_simulator(options.latency_ms)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    try:
        budget = Budget(options.requests, options.seconds)
        threads = [
            threading.Thread(target=client, args=(url, n, budget, latencies, statuses))
            for n in range(options.threads)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        server_stats = requests.get(f"{url}/__fakeio__/stats", timeout=10).json()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)

    total = len(latencies)
    cuts = statistics.quantiles(latencies, n=100) if total > 1 else [0.0] * 99
    rate = total / elapsed
    print(f"fakeio throughput: {options.threads} threads, {total} requests in {elapsed:.2f} s")
    print(f"  {rate:.0f} requests/s (target >= {TARGET:.0f}: {'OK' if rate >= TARGET else 'LOW'})")
    print(
        "  latency ms: "
        f"p50 {cuts[49] * 1000:.2f}  p90 {cuts[89] * 1000:.2f}  p99 {cuts[98] * 1000:.2f}  "
        f"max {max(latencies, default=0) * 1000:.2f}"
    )
    print(f"  client outcomes: {dict(sorted(statuses.items()))}")
    print(f"  simulator: {server_stats['messages']} messages, calls {server_stats['calls']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
