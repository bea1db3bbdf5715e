"""scripts/run-portal stops cleanly: Ctrl-C stops every process it started and ends with
success, so `make run` prints no "Error 130/143"; a process that ends by itself still ends
the script with its failure. The portal's processes are stand-ins (no server is started)."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.processes import ROOT

STAND_IN = '#!/usr/bin/env bash\nexec sleep "${STAND_IN_SECONDS:-60}"\n'


def _copy(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "run-portal", tmp_path / "scripts" / "run-portal")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "gunicorn"):
        (bin_dir / name).write_text(STAND_IN)
        (bin_dir / name).chmod(0o755)
    for folder in ("templates", "ioportal"):
        (tmp_path / folder).mkdir()
    return tmp_path / "scripts" / "run-portal"


def _start(script: Path, seconds: int) -> subprocess.Popen[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(script.parent), "STAND_IN_SECONDS": str(seconds)}
    return subprocess.Popen(
        [str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # A terminal's Ctrl-C reaches a shell whose SIGINT is not ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_ctrl_c_stops_everything_and_ends_with_success(tmp_path):
    process = _start(_copy(tmp_path), 60)
    try:
        time.sleep(1.5)
        os.killpg(process.pid, signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, out
    assert "Portale fermato." in out


def test_a_process_that_fails_ends_the_script_with_its_failure(tmp_path):
    script = _copy(tmp_path)
    (tmp_path / ".venv" / "bin" / "gunicorn").write_text("#!/usr/bin/env bash\nexit 3\n")
    process = _start(script, 60)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 3, out
    assert "Portale fermato." in out
