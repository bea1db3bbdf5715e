"""The import direction between the apps (pyproject.toml, [tool.importlinter]) holds, and an
import against it, even one inside a function, makes `lint-imports` fail; the README's layout
names every app once, in the order of the layers."""

import re
import shutil
import subprocess
import sys
import tomllib
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


def readme_layout() -> list[str]:
    """The lines of the README's layout block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    return block.splitlines()


def test_the_readme_lists_every_app_on_one_line_in_the_order_of_the_layers():
    lines = readme_layout()
    listed = [m.group(1) for line in lines if (m := re.match(r"^  (\w+)/ +\S", line))]
    apps = sorted(p.parent.name for p in (ROOT / "ioportal").glob("*/__init__.py"))
    assert sorted(listed) == apps
    # One line each: no continuation line indented under a description.
    assert not [line for line in lines if re.match(r"^ {4,}\S", line)]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (layers,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers"]
    floor = {
        name.strip().removeprefix("ioportal."): len(layers["layers"]) - index
        for index, layer in enumerate(layers["layers"])
        for name in layer.split("|")
    }
    # "An app imports only the apps listed above it": the floors never go down the list.
    floors = [floor[app] for app in listed if app in floor]
    assert floors == sorted(floors)
    assert set(floor) <= set(listed)
