"""Helpers to run the portal's own commands as real processes in tests."""

import os
import socket
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database the tests use, for processes that must share it."""
    settings = connection.settings_dict
    if settings["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that shares this test run's database and queue."""
    env = dict(os.environ)
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
