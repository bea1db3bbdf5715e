"""Every key the code writes into an audit event's `changes` has Italian words on the audit
pages (`audit_display.KEY_LABELS`) and an English translation; a new key without them fails
here. The keys are read from the source (`tests.dashboard.audit_keys`)."""

import ast
import textwrap
from pathlib import Path

import pytest
from django.utils import translation

from ioportal.dashboard.audit_display import ACTION_KEY_LABELS, KEY_LABELS
from tests.dashboard.audit_keys import audit_change_keys

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"


def po_msgids() -> set[str]:
    """The msgids of the English catalogue (continued lines joined)."""
    ids: set[str] = set()
    current: list[str] | None = None
    for line in PO.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgid "):
            current = [ast.literal_eval(line[6:])]
        elif line.startswith('"') and current is not None:
            current.append(ast.literal_eval(line))
        else:
            if current is not None:
                ids.add("".join(current))
            current = None
    return ids


def test_every_audit_key_written_by_the_code_has_italian_words_and_a_translation() -> None:
    found = audit_change_keys(ROOT)
    assert not found.unresolved, (
        "audit_log calls whose change keys cannot be read from the code (write them as a dict "
        f"literal or a module constant): {found.unresolved}"
    )
    assert len(found.keys) > 50  # the reader does find the keys
    missing = {key: sorted(where) for key, where in found.keys.items() if key not in KEY_LABELS}
    assert not missing, f"audit keys without words in audit_display.KEY_LABELS: {missing}"
    msgids = po_msgids()
    with translation.override("it"):
        labels = [str(label) for label in [*KEY_LABELS.values(), *ACTION_KEY_LABELS.values()]]
    untranslated = sorted(label for label in labels if label not in msgids)
    assert not untranslated, f"labels without an English entry in django.po: {untranslated}"


MODULE = """
from ioportal.core.services import audit_log, changed_fields

FIELDS = ("alpha", "beta")
SLOTS = {"one": "slot_one", "two": "slot_two"}


def _values(thing):
    return {name: getattr(thing, name) for name in FIELDS}


def literal():
    audit_log(action="a", changes={"plain": 1, **({"extra": 2} if x else {})})


def built(slots):
    changes = changed_fields({}, _values(thing))
    changes["added"] = 3
    changes.update(more=4)
    for slot in slots:
        changes[SLOTS[slot]] = "changed"
    audit_log(action="b", changes=changes)


def from_fromkeys():
    audit_log(action="c", changes=dict.fromkeys(FIELDS))


def unknown(changes):
    audit_log(action="d", changes=changes)


def computed(name):
    audit_log(action="e", changes={f"{name}_key": 1})
"""


def test_the_reader_finds_keys_of_each_shape_and_reports_what_it_cannot_read(
    tmp_path: Path,
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    found = audit_change_keys(tmp_path, package="pkg")
    assert set(found.keys) == {
        "plain",
        "extra",
        "alpha",
        "beta",
        "added",
        "more",
        "slot_one",
        "slot_two",
    }
    assert [where.split(":")[0] for where in found.unresolved] == ["pkg/mod.py", "pkg/mod.py"]
    assert any("(a parameter)" in where for where in found.unresolved)


@pytest.mark.parametrize("key", ["format", "criterion", "list", "in_clear", "retention_days"])
def test_keys_of_the_trial_have_words(key: str) -> None:
    assert key in KEY_LABELS
