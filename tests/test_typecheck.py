"""`mypy .` checks the portal and the benchmarks (pyproject's [tool.mypy]): a benchmark file is
one module, `benchmarks.<name>`, however the others import it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
MYPY = Path(sys.executable).parent / "mypy"


def test_benchmarks_import_each_other_through_the_package() -> None:
    # A bare `import history_benchmark` (the folder on sys.path) makes the same file a second
    # module, "history_benchmark" next to "benchmarks.history_benchmark": mypy stops there.
    siblings = "|".join(re.escape(path.stem) for path in BENCHMARKS.glob("*.py"))
    bare = re.compile(rf"^\s*(import ({siblings})\b|from ({siblings}) import)", re.MULTILINE)
    offenders = [
        path.name for path in sorted(BENCHMARKS.glob("*.py")) if bare.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.integration
def test_mypy_dot_passes() -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108
        "DEBUG": "true",
        "IOPORTAL_TEST_ENVIRONMENT": "pinned",
    }
    result = subprocess.run(
        [str(MYPY), "."], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "benchmarks" not in result.stdout
