"""docs/examples/make_examples.py: --help only prints, and the samples it writes are the
tracked files byte for byte, at every run (a re-run leaves git clean)."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
SAMPLES = ("tari-2026.csv", "carta-identita.xlsx", "accertamento-imu.csv", "accertamento-imu.pdf")


def load_script():
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_help_writes_nothing(tmp_path, monkeypatch, capsys):
    script = load_script()
    monkeypatch.setattr(script, "HERE", tmp_path)
    with pytest.raises(SystemExit) as exit_:
        script.main(["--help"])
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_the_samples_are_reproducible(tmp_path, monkeypatch):
    script = load_script()
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        monkeypatch.setattr(script, "HERE", folder)
        script.main([])
    for name in SAMPLES:
        written = (first / name).read_bytes()
        assert written == (second / name).read_bytes(), name
        assert written == (EXAMPLES / name).read_bytes(), name
