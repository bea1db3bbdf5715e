"""File-name cells with accented letters match the ZIP's files (Unicode NFC, casefolded)."""

import unicodedata

import pytest

from ioportal.recipients.filenames import attachment_key
from ioportal.recipients.validation import MessageSpec
from tests.recipients.support import validated

MARKDOWN = "Gentile {{ nome }}, " + "in allegato trova la fattura del servizio di refezione. " * 2
FILES = ["fattura_più.pdf", "Ricevuta_Perché.pdf", "avviso dell'anno.pdf", "ÉLÈVE.pdf"]


def check(cell: str, files: list[str]) -> list[str]:
    spec = MessageSpec(
        subject="Fattura refezione scolastica",
        markdown=MARKDOWN,
        placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
        feature_level="advanced",
        attachments={attachment_key(name): [] for name in files},
    )
    outcome = validated(
        headers=["cf", "nome", "allegato"],
        rows=[["RSSMRA85T10A562S", "Anna", cell]],
        mapping={"fiscal_code": "cf", "nome": "nome", "attachment": "allegato"},
        spec=spec,
    )
    return outcome.rejected[0]["reasons"] if outcome.rejected else []


@pytest.mark.parametrize("form", ["NFC", "NFD"])
@pytest.mark.parametrize("name", FILES)
def test_accented_names_match_whatever_their_normal_form(name, form):
    cell = unicodedata.normalize(form, name)
    stored = [unicodedata.normalize("NFD" if form == "NFC" else "NFC", f) for f in FILES]
    assert check(cell, stored) == []
    assert check(cell.upper(), stored) == []


@pytest.mark.parametrize("cell", ["../fattura.pdf", "cartella/fattura.pdf", "_nascosto.pdf"])
def test_names_with_folders_are_still_refused(cell):
    assert "non è valido" in check(cell, [cell])[0]
