"""The import direction between the apps (pyproject.toml, [tool.importlinter]) holds, and an
import against it, even one inside a function, makes `lint-imports` fail."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run the project's contracts on the `ioportal` package found in `tree`."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy_of_the_code(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "ioportal", tmp_path / "ioportal", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


def test_the_code_keeps_the_layers(copy_of_the_code: Path):
    result = lint_imports(copy_of_the_code)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line"),
    [
        # A lower app importing a higher one at module level...
        ("core/crypto.py", "from ioportal.dashboard import views  # noqa\n"),
        # ...or inside a function, where it used to hide a cycle.
        (
            "recipients/validation.py",
            "def _hidden():\n    from ioportal.messaging.models import Dispatch  # noqa\n",
        ),
        # messaging is below remotecontent, its compose pages too: no exception.
        ("messaging/list_views.py", "from ioportal.remotecontent import services  # noqa\n"),
        # remotecontent is below sending.
        ("remotecontent/selectors.py", "import ioportal.sending.outcomes  # noqa\n"),
        # The IO client knows nothing of the portal.
        ("ioapi/errors.py", "from ioportal.core import crypto  # noqa\n"),
    ],
)
def test_an_import_against_the_layers_fails(copy_of_the_code: Path, module: str, line: str):
    path = copy_of_the_code / "ioportal" / module
    path.write_text(path.read_text() + "\n\n" + line)
    result = lint_imports(copy_of_the_code)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 broken" in result.stdout
    assert module.replace("/", ".").removesuffix(".py") in result.stdout
