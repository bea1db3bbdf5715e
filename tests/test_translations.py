"""The English catalog covers every Italian string and compiles."""

import re
import subprocess

from django.utils import translation

from tests.processes import ROOT

CATALOG = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"


def test_every_entry_is_translated_and_none_is_fuzzy():
    text = CATALOG.read_text(encoding="utf-8")
    entries = text.split("\n\n")[1:]  # the first block is the header
    untranslated = [
        e for e in entries if re.search(r'\nmsgstr(\[0\])? ""\Z', e.strip()) and "msgid" in e
    ]
    assert not untranslated, untranslated[:5]
    assert "#, fuzzy" not in text


def test_catalog_passes_msgfmt_checks():
    result = subprocess.run(
        ["msgfmt", "--check-format", "-o", "/dev/null", str(CATALOG)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_compiled_catalog_is_used():
    with translation.override("en"):
        assert translation.gettext("Scrivania") == "Dashboard"
        assert translation.pgettext("audit target", "Oggetto") == "Object"
        assert translation.gettext("Oggetto") == "Subject"
