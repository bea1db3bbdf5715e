"""A list's file rows sealed in chunks keep, beside each row, what the validation needs: its
structure problem and its XLSX Number cells, wherever the row falls among the chunks."""

from typing import Any

from ioportal.messaging.lists import recipient_list_validate
from ioportal.recipients.models import CHUNK_ROWS, RecipientChunk, RecipientList, row_cells
from ioportal.recipients.services import problem_text
from tests import builders
from tests.recipients.support import shown_rejected

GOOD = "RSSMRA85T10A562S"
ROWS = 2 * CHUNK_ROWS + 500
PROBLEM_INDEX = CHUNK_ROWS + 10  # in the second chunk
NUMBER_INDEX = 2 * CHUNK_ROWS + 100  # in the third chunk
SHIFTED = "La riga ha 4 colonne invece di 3: i valori sarebbero spostati."


def _list(organization: Any, operator: Any, service: Any) -> RecipientList:
    template = builders.template(organization, operator)
    recipient_list = RecipientList.objects.create(
        organization=organization,
        created_by=operator,
        template=template,
        service=service,
        file_name="elenco.xlsx",
        file_format="xlsx",
        headers=["CF", "Nome", "Importo"],
        row_count=ROWS,
        expires_at="2099-01-01T00:00:00Z",
    )
    rows = [[GOOD, f"Persona {n}", "12,50"] for n in range(ROWS)]
    lines = [n + 2 for n in range(ROWS)]
    number_cells = [[] for _n in range(ROWS)]
    number_cells[NUMBER_INDEX] = [0]
    recipient_list.set_rows(
        rows,
        lines,
        {lines[PROBLEM_INDEX]: SHIFTED},
        number_cells=number_cells,
        date_system=1904,
    )
    return recipient_list


def test_structure_problems_and_number_cells_travel_with_their_rows(
    organization, operator_user, service
):
    created = _list(organization, operator_user, service)
    recipient_list = RecipientList.objects.get(pk=created.pk)
    assert RecipientChunk.objects.filter(recipient_list=recipient_list, kind="rows").count() == 3
    rows, lines, problems = recipient_list.get_rows_and_problems()
    assert len(rows) == len(lines) == ROWS
    assert problems == {PROBLEM_INDEX + 2: SHIFTED}
    number_cells, date_system = recipient_list.get_cell_sources()
    assert date_system == 1904 and number_cells[NUMBER_INDEX] == [0]
    assert sum(1 for cells in number_cells if cells) == 1
    # A page reads one row from its own chunk.
    (item,) = recipient_list.items(RecipientChunk.Kind.ROWS, NUMBER_INDEX, NUMBER_INDEX + 1)
    assert item[0] == NUMBER_INDEX + 2 and item[3] == [0]
    assert row_cells(item) == [GOOD, f"Persona {NUMBER_INDEX}", "12,50"]


def test_validation_reads_them_from_the_chunks(organization, operator_user, service):
    recipient_list = _list(organization, operator_user, service)
    recipient_list_validate(
        recipient_list=RecipientList.objects.get(pk=recipient_list.pk),
        mapping={"fiscal_code": "CF", "nome": "Nome", "importo": "Importo"},
    )
    rejected = {row["line"]: row for row in shown_rejected(recipient_list)}
    assert rejected[PROBLEM_INDEX + 2]["reasons"] == [SHIFTED]
    (stored_as_number,) = rejected[NUMBER_INDEX + 2]["problems"]
    # The value Excel kept is not shown as the one typed.
    assert stored_as_number["column"] == "CF" and stored_as_number["value"] == ""
    assert stored_as_number["reason"].startswith("Il codice fiscale è salvato come numero")
    assert problem_text(stored_as_number).startswith("CF: Il codice fiscale è salvato")
    # Every other row repeats the first one's fiscal code.
    assert "già presente alla riga 2" in rejected[3]["reasons"][0]
    assert rejected[3]["problems"][0]["value"] == "RSS************S"
