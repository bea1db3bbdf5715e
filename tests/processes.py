"""Helpers to run the portal's own commands as real processes in tests."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

# Environment of worker processes in tests: the fast pipeline tuning of
# tests/settings_workers.py (short leases, budgets and back-offs, so a test sees crashes
# recovered within seconds) and the operator's values that make polls repeat within seconds.
FAST_WORKER_SETTINGS = {
    "DJANGO_SETTINGS_MODULE": "tests.settings_workers",
    "SENDING_POLL_INTERVALS": "1,2,3",
    "SENDING_PREMIUM_POLL_SECONDS": "1",
    "SENDING_MAX_ATTEMPTS": "15",
    "Q_WORKERS": "2",
}


def database_url() -> str:
    """The URL of the database the tests use, for processes that must share it."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that shares this test run's database and queue."""
    # `make run`'s placement variables never reach a test's processes.
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "FAKEIO_PORT")}
    env.update(
        {
            "DATABASE_URL": database_url(),
            "Q_CLUSTER_NAME": str(settings.Q_CLUSTER["name"]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str] | None = None, **kwargs: object):
    """Start `manage.py <args>` as a child process (caller stops it)."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env or process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )


def purge_task_queue() -> None:
    """Drop tasks that earlier tests enqueued, so a real cluster runs only this test's."""
    from django_q.brokers import get_broker

    get_broker().purge_queue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Clusters:
    """qcluster processes sharing the test database, each in its own process group (so a
    SIGKILL takes its workers too), logging to files (a full pipe would stall them)."""

    def __init__(self, log_dir: Path, **settings: str) -> None:
        self.log_dir = log_dir
        self.settings = {**FAST_WORKER_SETTINGS, **settings}
        self.started: list[tuple[subprocess.Popen[str], Path]] = []

    def start(self, **extra: str) -> subprocess.Popen[str]:
        log = self.log_dir / f"qcluster-{len(self.started) + 1}.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "qcluster"],
                cwd=ROOT,
                env=process_env(**self.settings, **extra),
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        self.started.append((process, log))
        return process

    def stop_all(self, *, grace: float = 5) -> None:
        for process, _log in self.started:
            stop_process(process, grace=grace)

    def logs(self, lines: int = 40) -> str:
        """The end of every cluster's log, for a failure message."""
        parts = []
        for _process, log in self.started:
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(parts)


def stop_process(process: subprocess.Popen[Any], *, kill: bool = False, grace: float = 15) -> None:
    """SIGKILL the process group, or SIGTERM it and wait up to `grace` seconds for running
    tasks (then SIGKILL what is left)."""
    if process.poll() is not None:
        return
    if kill:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        return
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_until(
    condition: Callable[[], bool], *, timeout: float, tick: Callable[[], Any] | None = None
) -> bool:
    """Poll `condition` until it holds or `timeout` passes; call `tick` every 2 s meanwhile
    (the sweeper, in pipeline tests, since no scheduler runs)."""
    deadline = time.monotonic() + timeout
    last_tick = 0.0
    while time.monotonic() < deadline:
        if condition():
            return True
        if tick is not None and time.monotonic() - last_tick > 2:
            tick()
            last_tick = time.monotonic()
        time.sleep(0.3)
    return condition()


def start_gunicorn(port: int, **extra: str) -> subprocess.Popen[str]:
    """The portal under gunicorn with the shipped gunicorn.conf.py (as `make run` and
    production serve it), sharing the test database; ready when this returns."""
    import requests

    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "gunicorn.conf.py", "ioportal.wsgi"],
        cwd=ROOT,
        env=process_env(
            GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1", GUNICORN_THREADS="4", **extra
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/account/accesso/", timeout=10)
            return process
        except (requests.ConnectionError, requests.Timeout):
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process, kill=True)
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"gunicorn did not start:\n{output}") from None
            time.sleep(0.2)
