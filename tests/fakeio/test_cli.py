"""The simulator as a process: `python -m ioportal.fakeio` and `manage.py fakeio`."""

import importlib.util
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.fakeio.support import BASE_CONFIG, PROD_KEY, PROD_SECONDARY_KEY, REACHABLE

REPO = Path(__file__).resolve().parents[2]
# The portal's log lines (settings.LOGGING, `IsoTimeFormatter`): ISO 8601 time with
# milliseconds and the UTC offset, level, logger name.
PORTAL_LINE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d INFO ioportal\.fakeio "
)

pytestmark = pytest.mark.integration


def start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process, url, _first_line = start_with_banner(command)
    return process, url


def start_with_banner(command: list[str]) -> tuple[subprocess.Popen[str], str, str]:
    """`start`, with the first line the process printed."""
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    first_line = process.stdout.readline()
    found = re.search(r"http://[0-9.]+:[0-9]+", first_line)
    if found is None:
        process.kill()
        pytest.fail(f"no address printed: {first_line!r} {process.communicate()}")
    return process, found.group(0), first_line.rstrip("\n")


def stop(process: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    """Signal the process and return its exit code and the rest of its output."""
    code, out, _err = stop_with_errors(process, signum)
    return code, out


def stop_with_errors(process: subprocess.Popen[str], signum: int) -> tuple[int, str, str]:
    """`stop`, with what the process wrote to stderr."""
    process.send_signal(signum)
    code = process.wait(timeout=10)
    # Read through the same text wrapper as start(): communicate() would skip what
    # readline() already buffered.
    assert process.stdout is not None and process.stderr is not None
    out = process.stdout.read()
    err = process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    return code, out, err


def test_every_line_it_prints_carries_the_time_as_the_portals_do(tmp_path: Path) -> None:
    """`make run` prints the simulator's lines among the portal's: the same time format
    (ISO 8601 with the UTC offset), level and name, from the banner to the access log."""
    config = tmp_path / "fakeio.json"
    config.write_text(json.dumps(BASE_CONFIG), encoding="utf-8")
    process, url, first_line = start_with_banner(
        [
            sys.executable,
            "-m",
            "ioportal.fakeio",
            "--port",
            "0",
            "--config",
            str(config),
            "--access-log",
        ]
    )
    try:
        requests.get(f"{url}/__fakeio__/stats", timeout=5)
    finally:
        code, out, err = stop_with_errors(process, signal.SIGTERM)

    assert code == 0
    lines = [first_line, *out.splitlines()]
    assert len(lines) > 3
    assert [line for line in lines if not PORTAL_LINE.match(line)] == []
    assert lines[0].endswith(
        f"INFO ioportal.fakeio IO simulator listening on {url}/api/v1 "
        f"(inspection: {url}/__fakeio__/)"
    )
    assert lines[-1].endswith(" INFO ioportal.fakeio IO simulator stopped")
    access = err.splitlines()
    assert len(access) == 1 and PORTAL_LINE.match(access[0])
    assert '"GET /__fakeio__/stats HTTP/1.1" 200' in access[0]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_module_serves_and_stops_cleanly(tmp_path: Path, signum: int) -> None:
    config = tmp_path / "fakeio.json"
    config.write_text(json.dumps(BASE_CONFIG), encoding="utf-8")
    process, url = start(
        [sys.executable, "-m", "ioportal.fakeio", "--port", "0", "--config", str(config)]
    )
    try:
        # A keep-alive connection open at shutdown must not hold the process.
        session = requests.Session()
        response = session.post(
            f"{url}/api/v1/profiles",
            json={"fiscal_code": REACHABLE},
            headers={"Ocp-Apim-Subscription-Key": PROD_KEY},
            timeout=5,
        )
    finally:
        code, out = stop(process, signum)

    assert response.json()["sender_allowed"] is True
    assert code == 0
    assert "SRV-ALPHA-PROD" in out
    # The banner shows the keys as the portal does, their last 4 characters only.
    assert "keys …mary / …dary" in out
    assert PROD_KEY not in out and PROD_SECONDARY_KEY not in out
    assert out.rstrip().endswith("INFO ioportal.fakeio IO simulator stopped")


def test_module_refuses_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "fakeio.json"
    config.write_text('{"accounts": [], "typo": 1}', encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "-m", "ioportal.fakeio", "--port", "0", "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "unknown key(s) typo" in result.stderr


def test_module_help_documents_the_citizen_rule() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ioportal.fakeio", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert "chars 1-3 XXX  not on IO" in result.stdout
    assert "--lost-answer-rate" in result.stdout


def django_command_available() -> bool:
    if importlib.util.find_spec("ioportal.settings") is None:
        return False
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return "ioportal.fakeio" in settings.INSTALLED_APPS
    except ImproperlyConfigured:  # run without pytest-django and DJANGO_SETTINGS_MODULE
        return False


@pytest.mark.skipif(
    not django_command_available(), reason="ioportal.fakeio is not in INSTALLED_APPS"
)
def test_management_command_wraps_the_module() -> None:
    manage = [sys.executable, "manage.py", "fakeio"]
    help_text = subprocess.run(
        [*manage, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    ).stdout
    process, url = start([*manage, "--port", "0", "--status-delay", "0"])
    try:
        response = requests.get(f"{url}/__fakeio__/config", timeout=5)
    finally:
        code, out = stop(process, signal.SIGTERM)

    assert "chars 1-3 YYY  blocked the service" in help_text
    assert response.json()["status_delay"] == 0.0
    assert code == 0
    assert "Tributi (demo)" in out
