"""Cells whose value is not what the person sees: merged cells and Excel error values.
Their rows (or, in the header, the file) are refused with an Italian reason, never read as
empty or as the error's text."""

import io
import zipfile

import pytest
from openpyxl import Workbook

from ioportal.core.io_texts import reason_text
from ioportal.recipients.parsing import EXCEL_ERRORS_ITALIAN, ImportFileError, parse_table

CF1, CF2, CF3, CF4 = "RSSMRA85T10A562S", "VRDGPP75C15F205S", "BNCLCU90D45L219H", "RSSMRA80A01H501U"


def _xlsx(rows, merge=(), title="Foglio1"):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for ref in merge:
        sheet.merge_cells(ref)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _parse(data):
    return parse_table(data=data, filename="elenco.xlsx")


ROWS = [
    ["codice_fiscale", "nome", "importo"],
    [CF1, "Anna", 10],
    [CF2, "Bruno", 20],
    [CF3, "Carla", 30],
    [CF4, "Dario", 40],
]


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("#N/A", "#N/D"),
        ("#VALUE!", "#VALORE!"),
        ("#DIV/0!", "#DIV/0!"),
        ("#REF!", "#RIF!"),
        ("#NAME?", "#NOME?"),
        ("#NUM!", "#NUM!"),
        ("#NULL!", "#NULLO!"),
    ],
)
def test_an_excel_error_cell_rejects_its_row_naming_the_cell_and_the_error(stored, shown):
    rows = [list(row) for row in ROWS]
    rows[2][2] = stored  # openpyxl writes a known error code as an error cell (t="e")
    data = _xlsx(rows)
    assert b't="e"' in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    table = _parse(data)
    assert table.lines == [2, 3, 4, 5]
    assert table.row_problems == {} and list(table.cell_problems) == [3]
    reason = reason_text(table.cell_problems[3][2])
    assert "C3" in reason and f"«{shown}»" in reason and "errore di Excel" in reason


def test_an_error_cell_right_of_the_header_is_ignored_like_its_value():
    rows = [list(row) for row in ROWS]
    rows[1].append("#N/A")
    table = _parse(_xlsx(rows))
    assert table.row_problems == {}
    assert table.rows[0] == [CF1, "Anna", "10"]


def test_an_error_cell_in_the_header_refuses_the_file():
    rows = [list(row) for row in ROWS]
    rows[0][1] = "#REF!"
    with pytest.raises(ImportFileError, match=r"intestazione.*B1 \(#REF!\)"):
        _parse(_xlsx(rows))


def test_a_text_that_only_looks_like_an_error_is_a_value():
    rows = [list(row) for row in ROWS]
    rows[1][1] = "Anna #N/A"
    table = _parse(_xlsx(rows))
    assert table.row_problems == {}
    assert table.rows[0][1] == "Anna #N/A"


def test_vertically_merged_cells_reject_every_row_they_cross():
    # B3:B4 shows "Bruno" on rows 3 and 4, but row 4 holds nothing: never read as empty.
    table = _parse(_xlsx(ROWS, merge=["B3:B4"]))
    assert table.lines == [2, 3, 4, 5]
    assert sorted(table.row_problems) == [3, 4]
    reasons = [reason_text(reason) for reason in table.row_problems.values()]
    assert all("celle unite (B3:B4)" in reason for reason in reasons)


def test_horizontally_merged_cells_reject_their_row():
    table = _parse(_xlsx(ROWS, merge=["B5:C5"]))
    assert sorted(table.row_problems) == [5]
    assert "B5:C5" in reason_text(table.row_problems[5])


def test_overlapping_and_nested_merges_give_one_reason_per_row():
    table = _parse(_xlsx(ROWS, merge=["A2:A4", "C3:C3", "B5:C5"]))
    assert sorted(table.row_problems) == [2, 3, 4, 5]
    assert "A2:A4" in reason_text(table.row_problems[3])


def test_merged_cells_right_of_the_header_or_above_it_are_ignored():
    # Row 1 is empty (merged, no value): the header is row 2; E3:F4 lies outside the columns.
    rows = [[None, None, None], *ROWS]
    rows[1] = [*rows[1], None, None]
    table = _parse(_xlsx(rows, merge=["A1:C1", "E3:F4"]))
    assert table.headers == ["codice_fiscale", "nome", "importo"]
    assert table.row_problems == {}
    assert table.lines == [3, 4, 5, 6]


def test_merged_header_cells_refuse_the_file():
    rows = [["codice_fiscale", "dati", None], *ROWS[1:]]
    with pytest.raises(ImportFileError, match=r"celle unite \(B1:C1\)"):
        _parse(_xlsx(rows, merge=["B1:C1"]))


def test_a_title_merged_over_the_columns_is_told_as_a_title():
    rows = [["Elenco carte in scadenza", None, None], *ROWS]
    with pytest.raises(ImportFileError) as caught:
        _parse(_xlsx(rows, merge=["A1:C1"]))
    message = str(caught.value)
    assert message.startswith("La prima riga sembra un titolo (A1:C1): eliminala")
    assert "celle unite" not in message


def test_a_title_in_one_cell_above_the_header_is_told_as_a_title():
    rows = [["Elenco carte in scadenza"], *ROWS]
    with pytest.raises(ImportFileError, match=r"La prima riga sembra un titolo \(A1\)"):
        _parse(_xlsx(rows))


def test_a_one_column_file_is_not_a_title():
    # One named column above its values: a list of fiscal codes, not a title.
    table = _parse(_xlsx([["codice_fiscale"], [CF1], [CF2]]))
    assert table.headers == ["codice_fiscale"] and len(table.rows) == 2
    # A single named column whose next row holds data (a code, numbers) is no title either.
    table = _parse(_xlsx([["codice_fiscale"], [CF1, 10, 20]]))
    assert table.rows == [[CF1]]
    table = _parse(_xlsx([["codice_fiscale"], [CF1, "Mario", "Rossi"]]))
    assert table.rows == [[CF1]]


def test_a_merge_over_a_row_with_an_error_cell_keeps_both_reasons():
    rows = [list(row) for row in ROWS]
    rows[2][2] = "#N/A"
    table = _parse(_xlsx(rows, merge=["B3:B4"]))
    assert "#N/D" in reason_text(table.cell_problems[3][2])
    assert "celle unite" in reason_text(table.row_problems[3])
    assert "celle unite" in reason_text(table.row_problems[4])


def test_a_date_cell_outside_excels_dates_rejects_its_row_without_an_invented_error():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["codice_fiscale", "scadenza"])
    sheet.append([CF1, 10**9])
    sheet["B2"].number_format = "dd/mm/yyyy"
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.warns(UserWarning):  # openpyxl's own note, turned into the row's reason
        table = _parse(buffer.getvalue())
    reason = reason_text(table.cell_problems[2][1])
    assert "B2" in reason and "non è una data di Excel" in reason and "#VAL" not in reason


@pytest.mark.parametrize("text", ["#N/D", "#VALORE!", "#RIF!", "#N/A", "#DIV/0!", "#NOME?"])
def test_a_csv_cell_holding_an_excel_error_rejects_its_row(text):
    # Excel saves a formula's error into a CSV as the error's text, in its own language.
    data = f"codice_fiscale;nome;importo\n{CF1};Anna;10\n{CF2};Bruno; {text} \n".encode()
    table = parse_table(data=data, filename="elenco.csv")
    assert table.lines == [2, 3]
    assert table.row_problems == {} and list(table.cell_problems) == [3]
    reason = reason_text(table.cell_problems[3][2])
    assert "C3" in reason and "errore di Excel" in reason
    assert f"«{EXCEL_ERRORS_ITALIAN.get(text, text)}»" in reason


def test_a_csv_text_that_only_contains_an_error_word_is_a_value():
    data = f"codice_fiscale;nome\n{CF1};Anna #N/D\n{CF2};#N/Dario\n".encode()
    table = parse_table(data=data, filename="elenco.csv")
    assert table.row_problems == {}
    assert [row[1] for row in table.rows] == ["Anna #N/D", "#N/Dario"]
