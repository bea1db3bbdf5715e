"""Command line of the IO simulator, shared by `python -m ioportal.fakeio` and `manage.py fakeio`.

`add_arguments` fills either parser (argparse or Django's CommandParser) and `run` takes the
parsed options as a mapping, so the management command is a thin wrapper.
"""

import argparse
import signal
import sys
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from ioportal.fakeio.citizens import RULES_HELP
from ioportal.fakeio.config import (
    DEMO_CONFIG,
    Config,
    ConfigError,
    key_hint,
    load_config_file,
    parse_config,
)
from ioportal.fakeio.logline import log_lines
from ioportal.fakeio.server import make_server

DESCRIPTION = "Run the IO simulator: a fake of IO's services API (api.io.pagopa.it/api/v1)."

EPILOG = (
    RULES_HELP
    + """
Inspection API (not IO): GET /__fakeio__/stats, /ledger[?duplicates=1], /messages,
/faults, /config; PUT /__fakeio__/faults; POST /__fakeio__/reset. See docs/fakeio.md.
Without --config a demo account with two services is used (keys printed at start).
"""
)

# Options that override a value of the config file's `faults` section.
_FAULT_OPTIONS = (
    "latency_ms",
    "jitter_ms",
    "error_rate",
    "error_status",
    "error_after_store_rate",
    "drop_rate",
    "lost_answer_rate",
    "slow_rate",
    "slow_ms",
    "throttle_rate",
)
_TIMING_OPTIONS = (
    "status_delay",
    "slow_status_delay",
    "slow_share",
    "read_delay",
    "idle_timeout",
    "rate_window",
    "seed",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (IPv4)")
    parser.add_argument("--port", type=int, default=8001, help="port; 0 picks a free one")
    parser.add_argument("--config", help="JSON or YAML file with accounts, services, citizens")
    parser.add_argument(
        "--rate-limit",
        type=int,
        help="calls per window for every account, overriding the config (0: no limit)",
    )
    parser.add_argument(
        "--rate-window", type=float, help="rate-limit window in seconds (default and IO: 5)"
    )
    parser.add_argument(
        "--status-delay", type=float, help="seconds from ACCEPTED to the final status (default 3)"
    )
    parser.add_argument(
        "--slow-status-delay", type=float, help="the same for slow citizens (default 60)"
    )
    parser.add_argument(
        "--slow-share",
        type=float,
        help="share (0-1) of reachable citizens that are slow (default 0)",
    )
    parser.add_argument(
        "--read-delay", type=float, help="seconds from PROCESSED to READ and PAID (default 30)"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        help="close idle keep-alive connections after N s (default 60)",
    )
    parser.add_argument("--latency-ms", type=int, help="ms added to every IO response (default 0)")
    parser.add_argument("--jitter-ms", type=int, help="random extra latency, 0 to N ms (default 0)")
    parser.add_argument(
        "--error-rate", type=float, help="share (0-1) of calls answered with an injected 5xx"
    )
    parser.add_argument("--error-status", type=int, help="status of injected errors (default 500)")
    parser.add_argument(
        "--error-after-store-rate",
        type=float,
        help="share of submissions stored, then answered 5xx",
    )
    parser.add_argument(
        "--drop-rate", type=float, help="share of calls whose connection is closed unanswered"
    )
    parser.add_argument(
        "--lost-answer-rate",
        type=float,
        help="share of submissions stored, then the connection closed",
    )
    parser.add_argument("--slow-rate", type=float, help="share of responses delayed by --slow-ms")
    parser.add_argument("--slow-ms", type=int, help="extra delay of slow responses (default 30000)")
    parser.add_argument(
        "--throttle-rate", type=float, help="share of calls answered with a forced 429"
    )
    parser.add_argument(
        "--seed", type=int, help="seed of the fault and jitter draws (default: random)"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")


def build_config(options: Mapping[str, Any]) -> Config:
    """The config file (or the demo), with the command-line overrides applied."""
    data = dict(load_config_file(options["config"]) if options.get("config") else DEMO_CONFIG)
    if options.get("rate_limit") is not None and isinstance(data.get("accounts"), list):
        data["accounts"] = [
            {**account, "rate_limit": options["rate_limit"]}
            if isinstance(account, dict)
            else account
            for account in data["accounts"]
        ]
    for name in _TIMING_OPTIONS:
        if options.get(name) is not None:
            data[name] = options[name]
    fault_changes = {
        name: options[name] for name in _FAULT_OPTIONS if options.get(name) is not None
    }
    if fault_changes:
        faults = data.get("faults", {})
        data["faults"] = {**faults, **fault_changes} if isinstance(faults, dict) else faults
    return parse_config(data)


def describe(config: Config, url: str) -> str:
    lines = [
        f"IO simulator listening on {url}/api/v1 (inspection: {url}/__fakeio__/)",
        f"status delay {config.status_delay:g}s, slow {config.slow_status_delay:g}s "
        f"(share {config.slow_share:g}), read delay {config.read_delay:g}s",
    ]
    for account in config.accounts:
        limit = (
            f"{account.rate_limit} calls / {config.rate_window:g} s"
            if account.rate_limit
            else "no rate limit"
        )
        lines.append(f"account {account.name}: {limit}")
        for service in account.services:
            flags = [
                "TEST" if service.test_mode else "PROD",
                "premium" if service.premium else "standard",
                f"max {service.max_allowed_payment_amount} cents",
            ]
            if service.feed_access:
                flags.append("feed")
            lines.append(
                f"  {service.service_id}  {service.name}  [{', '.join(flags)}]  "
                f"keys {key_hint(service.primary_key)} / {key_hint(service.secondary_key)}"
            )
    return "\n".join(lines)


class Output(Protocol):
    """sys.stdout or Django's OutputWrapper."""

    def write(self, text: str, /) -> Any: ...

    def flush(self) -> None: ...


def run(options: Mapping[str, Any], out: Output = sys.stdout) -> None:
    """Serve until SIGINT or SIGTERM, then close connections and return.

    Raises ConfigError for a bad config file or option, OSError when the port is taken.
    """
    config = build_config(options)
    server = make_server(
        config, options.get("host") or "127.0.0.1", options["port"], options["access_log"]
    )
    stop = threading.Event()
    # serve_forever runs in a thread and the main thread waits, because shutdown() called
    # from a signal handler in the serving thread would deadlock.
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        server.start()
        out.write(log_lines(describe(config, server.url)))
        out.flush()
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    out.write(log_lines("IO simulator stopped"))
    out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ioportal.fakeio",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    try:
        run(options)
    except ConfigError as exc:
        print(f"fakeio: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fakeio: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0
