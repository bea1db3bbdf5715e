"""Cells the import cannot read as they are: numbers in date columns, cells too long,
formulas without their result or reading another workbook; each told with its cell, every
one of a row, and only the columns the message uses reject a row."""

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from ioportal.recipients.parsing import ImportChoiceNeeded, ReadOptions, parse_table
from ioportal.recipients.validation import MessageSpec
from tests.recipients.support import texts, validated
from tests.sending.support import fiscal_codes
from tests.xlsx_parts import rewrite_part

CF1, CF2, CF3, CF4 = "RSSMRA85T10A562S", "VRDGPP75C15F205S", "BNCLCU90D45L219H", "RSSMRA80A01H501U"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=ZoneInfo("Europe/Rome"))
SHEET = "xl/worksheets/sheet1.xml"


def _spec(*placeholders):
    return MessageSpec(
        subject="Avviso TARI 2026",
        markdown="Gentile contribuente, il pagamento scade il {{ scadenza }}. " * 2,
        placeholders=[
            {"name": name, "type": kind, "required": True, "pattern": ""}
            for name, kind in placeholders
        ],
    )


DATE_SPEC = _spec(("scadenza", "date"))


def _save(workbook):
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _workbook(rows, *, epoch=None):
    workbook = Workbook()
    if epoch is not None:
        workbook.epoch = epoch
    for row in rows:
        workbook.active.append(row)
    return workbook


def _check(table, mapping, spec):
    """The check of `table`, its reasons and warnings read as the page shows them."""
    return validated(
        headers=table.headers,
        rows=table.rows,
        lines=table.lines,
        mapping=mapping,
        spec=spec,
        now=NOW,
        number_cells=table.number_cells if table.file_format == "xlsx" else None,
        date_system=table.date_system,
        cell_problems=table.cell_problems,
    )


def _problems(outcome):
    return {row["line"]: row["problems"] for row in outcome.rejected}


# --- numbers in date columns --------------------------------------------------------------


@pytest.mark.parametrize(
    ("epoch", "cells", "valid", "refused"),
    [
        # 2030 and 45 would show as 23/07/1909 and 15/02/1904 in a 1904 workbook.
        (CALENDAR_MAC_1904, [46202, 2030, 45], {2: "30/06/2030"}, {3: "2030", 4: "45"}),
        # In a 1900 workbook 2030 is 22/07/1905, 45 is 14/02/1900, 1 is 01/01/1900.
        (None, [47664, 2030, 45, 1], {2: "30/06/2030"}, {3: "2030", 4: "45", 5: "1"}),
        # The limits of the rule: 01/01/1990 and 31/12/2100 are dates, the days around not.
        (None, [32874, 32873, 73415, 73416], {2: "01/01/1990", 4: "31/12/2100"}, {3: "", 5: ""}),
    ],
)
def test_a_number_in_a_date_column_is_a_date_only_when_plausible(epoch, cells, valid, refused):
    codes = [CF1, CF2, CF3, CF4][: len(cells)]
    rows = [["cf", "scadenza"], *([code, cell] for code, cell in zip(codes, cells, strict=True))]
    table = parse_table(data=_save(_workbook(rows, epoch=epoch)), filename="elenco.xlsx")
    outcome = _check(table, {"fiscal_code": "cf", "scadenza": "scadenza"}, DATE_SPEC)
    assert {row["line"]: row["variables"]["scadenza"] for row in outcome.valid} == valid
    problems = _problems(outcome)
    assert set(problems) == set(refused)
    for line, number in refused.items():
        (problem,) = problems[line]
        number = number or str(cells[line - 2])
        assert problem["column"] == "scadenza"
        assert problem["reason"] == (
            f"Contiene il numero {number}, non una data: scrivi la data come 31/12/2026 o "
            "formatta la cella come data."
        )
    # The note names the numbers read as dates, and only those.
    (note,) = outcome.warnings
    for line, day in valid.items():
        assert f"riga {line}: {cells[line - 2]} è il {day}" in note
    for line in refused:
        assert f"riga {line}:" not in note


def test_the_note_lists_every_row_read_from_a_number_up_to_a_few_then_how_many():
    rows = [["cf", "scadenza"]] + [[code, 47664 + day] for day, code in enumerate(fiscal_codes(8))]
    table = parse_table(data=_save(_workbook(rows)), filename="elenco.xlsx")
    outcome = _check(table, {"fiscal_code": "cf", "scadenza": "scadenza"}, DATE_SPEC)
    note = outcome.warnings[0]
    assert "contiene 8 date salvate come numeri" in note
    assert "riga 2: 47664 è il 30/06/2030; riga 3: 47665 è il 01/07/2030" in note
    assert "riga 6: 47668 è il 04/07/2030 e altre 3" in note and "riga 7" not in note


def test_a_cell_formatted_as_a_date_is_a_date_whatever_its_year():
    workbook = _workbook([["cf", "scadenza"], [CF1, date(1950, 3, 1)], [CF2, date(2150, 1, 2)]])
    table = parse_table(data=_save(workbook), filename="elenco.xlsx")
    outcome = _check(table, {"fiscal_code": "cf", "scadenza": "scadenza"}, DATE_SPEC)
    assert [row["variables"]["scadenza"] for row in outcome.valid] == ["01/03/1950", "02/01/2150"]
    assert outcome.warnings == []


# --- cells too long -------------------------------------------------------------------------


@pytest.mark.parametrize("length", [50_000, 200_000])
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_cell_too_long_names_its_column_and_cell_without_its_value(kind, length):
    huge = "A" * length
    if kind == "csv":
        data = f"codice_fiscale;nome;importo\n{CF4};{huge};10\n{CF3};Lucia;20\n".encode()
    else:
        rows = [["codice_fiscale", "nome", "importo"], [CF4, huge, 10], [CF3, "Lucia", 20]]
        data = _save(_workbook(rows))
    table = parse_table(data=data, filename=f"elenco.{kind}")
    spec = _spec(("nome", "text"))
    outcome = _check(table, {"fiscal_code": "codice_fiscale", "nome": "nome"}, spec)
    assert [row["line"] for row in outcome.valid] == [3]
    assert _problems(outcome) == {
        2: [
            {
                "column": "nome (B2)",
                "value": "",
                "reason": "La cella B2 supera 10.000 caratteri: accorcia il testo nel file e "
                "caricalo di nuovo.",
            }
        ]
    }


# --- every problem of a row; columns the message does not use -------------------------------


def _formulas_workbook():
    """Row 2: an integer that is not one and a formula without its result (F2); row 3: a
    formula without its result in the unused column B; row 4: a cell too long in B."""
    rows = [
        ["codice_fiscale", "nome", "imp_int", "imp_txt"],
        [CF1, "Mario", 12.345, '=CONCAT("a","b")'],
        [CF2, "=1+1", 7, "ok"],
        [CF3, "x" * 10_001, 8, "ok"],
    ]
    return _save(_workbook(rows))  # openpyxl saves no result for a formula


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_every_problem_of_a_row_is_told_and_unused_columns_reject_nothing(kind):
    spec = _spec(("imp_int", "integer"), ("imp_txt", "text"))
    mapping = {"fiscal_code": "codice_fiscale", "imp_int": "imp_int", "imp_txt": "imp_txt"}
    if kind == "xlsx":
        data = _formulas_workbook()
    else:
        # As Excel saves the same cells into a CSV: errors instead of the missing results.
        data = (
            "codice_fiscale;nome;imp_int;imp_txt\n"
            f"{CF1};Mario;12,345;#VALORE!\n"
            f"{CF2};#NOME?;7;ok\n"
            f"{CF3};{'x' * 10_001};8;ok\n"
        ).encode()
    table = parse_table(data=data, filename=f"elenco.{kind}")
    outcome = _check(table, mapping, spec)
    assert [row["line"] for row in outcome.valid] == [3, 4]
    (problems,) = _problems(outcome).values()
    assert [problem["column"] for problem in problems] == ["imp_txt (D2)", "imp_int"]
    assert "La cella D2 contiene" in problems[0]["reason"]
    assert "numero intero" in problems[1]["reason"]
    (note,) = outcome.warnings
    assert "2 celle non sono leggibili (B3 («nome»), B4 («nome»)" in note
    assert "colonne che il messaggio non usa" in note


def test_an_unreadable_cell_of_the_fiscal_code_is_told_once_with_its_cell():
    table = parse_table(
        data=_save(_workbook([["cf", "nome"], ["=A1", "Anna"], [CF2, "Bruno"]])),
        filename="elenco.xlsx",
    )
    outcome = _check(table, {"fiscal_code": "cf", "nome": "nome"}, _spec(("nome", "text")))
    assert _problems(outcome)[2] == [
        {
            "column": "cf (A2)",
            "value": "",
            "reason": "La cella A2 contiene una formula di cui il file non ha salvato il "
            "risultato: apri il file con Excel o LibreOffice, salvalo e caricalo di nuovo.",
        }
    ]


# --- formulas that read another workbook -----------------------------------------------------


def test_a_formula_reading_another_workbook_is_told_with_its_cells_and_columns():
    rows = [["codice_fiscale", "nome", "importo"]] + [
        [code, f"=[1]Foglio1!A{n}", "10,00"] for n, code in enumerate([CF1, CF2, CF3], 1)
    ]
    rows.append([CF4, "=A5", "=[2]'Dati 2025'!C1"])

    def cached(xml):
        # As Excel saves them: each formula with its value; B3:B4 one shared formula.
        xml = xml.replace(
            "<f>[1]Foglio1!A1</f><v />", "<f>[1]Foglio1!A1</f><v>Mario esterno</v>"
        ).replace(
            "<f>[1]Foglio1!A2</f><v />",
            '<f t="shared" ref="B3:B4" si="0">[1]Foglio1!A2</f><v>Laura</v>',
        )
        xml = xml.replace("<f>[1]Foglio1!A3</f><v />", '<f t="shared" si="0" /><v>Lucia</v>')
        xml = xml.replace("<f>A5</f><v />", "<f>A5</f><v>Anna</v>")
        xml = xml.replace("<f>[2]'Dati 2025'!C1</f><v />", "<f>[2]'Dati 2025'!C1</f><v>5</v>")
        return (
            xml.replace('<c r="B2">', '<c r="B2" t="str">')
            .replace('<c r="B3">', '<c r="B3" t="str">')
            .replace('<c r="B4">', '<c r="B4" t="str">')
            .replace('<c r="B5">', '<c r="B5" t="str">')
        )

    data = rewrite_part(_save(_workbook(rows)), SHEET, cached)
    table = parse_table(data=data, filename="elenco.xlsx")
    assert [row[1] for row in table.rows] == ["Mario esterno", "Laura", "Lucia", "Anna"]
    assert table.cell_problems == {}
    assert table.external_cells == ["B2", "B3", "B4", "C5"]
    (warning,) = texts(table.warnings)
    assert warning.startswith(
        "4 celle (B2, B3, B4, C5; colonne «nome» e «importo») prendono il valore da un'altra "
        "cartella di lavoro Excel: è stato letto il valore salvato in questo file, che può non "
        "essere aggiornato."
    )


def test_a_formula_of_the_same_workbook_is_no_external_reference():
    rows = [["codice_fiscale", "nome"], [CF1, "=Foglio2!A1"], [CF2, "=Tabella1[[#This Row],[a]]"]]

    def cached(xml):
        return xml.replace("<v />", "<v>1</v>")

    data = rewrite_part(_save(_workbook(rows)), SHEET, cached)
    table = parse_table(data=data, filename="elenco.xlsx")
    assert table.external_cells == [] and texts(table.warnings) == []


# --- a sheet chosen that holds no recipients ------------------------------------------------


@pytest.mark.parametrize(
    ("instructions", "said"),
    [
        ([["Compila il foglio Destinatari"]], "non contiene righe di dati"),
        ([], "è vuoto"),
    ],
)
def test_a_chosen_sheet_without_data_names_the_other_sheets_and_offers_them(instructions, said):
    workbook = Workbook()
    workbook.active.title = "Istruzioni"
    for row in instructions:
        workbook.active.append(row)
    for title in ("Destinatari", "Note"):
        sheet = workbook.create_sheet(title)
        sheet.append(["codice_fiscale", "nome"])
        sheet.append([CF1, "Anna"])
    with pytest.raises(ImportChoiceNeeded) as asked:
        parse_table(
            data=_save(workbook), filename="elenco.xlsx", options=ReadOptions(sheet="Istruzioni")
        )
    assert asked.value.field == "sheet"
    assert [value for value, _label in asked.value.choices] == ["Destinatari", "Note"]
    text = asked.value.text("Continua")
    assert text.startswith(f"Il foglio «Istruzioni» {said}")
    assert "Il file ha anche i fogli «Destinatari» e «Note»: scegli il foglio con i " in text
    assert text.endswith("premi «Continua».")
