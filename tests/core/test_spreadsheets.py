"""The one XLSX writer (core.spreadsheets): every file read back with openpyxl, values, types
and formats checked."""

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.utils import timezone

from ioportal.core import spreadsheets
from ioportal.core.spreadsheets import (
    DATE,
    EURO,
    TEXT,
    Sheet,
    XlsxFile,
    formula_safe,
    sheet_name,
    write_xlsx,
    xlsx_text,
)
from ioportal.recipients.services import csv_safe


def _read(file: Any) -> openpyxl.Workbook:
    with file:
        return openpyxl.load_workbook(io.BytesIO(file.read()))


def test_cells_keep_their_types_and_formats() -> None:
    sheet = Sheet(
        "Prova",
        ["testo", "intero", "euro", "momento", "giorno", "vuoto", "avviso", "lungo"],
        [
            [
                "ciao",
                42,
                Decimal("1234.56"),
                datetime(2026, 7, 1, 8, 30, tzinfo=UTC),
                date(2026, 12, 31),
                None,
                "012345678901234567",
                301000000000000001,
            ],
            ["", 0, Decimal("0.5"), datetime(2026, 1, 2, 3, 4, 5), None, "", "", -(10**15)],
        ],
        formats={4: DATE, 6: TEXT, 2: EURO},
    )
    with timezone.override("Europe/Rome"):
        workbook = _read(write_xlsx([sheet]))
    assert workbook.sheetnames == ["Prova"]
    ws = workbook["Prova"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == sheet.titles
    assert list(rows[1]) == [
        "ciao",
        42,
        1234.56,
        datetime(2026, 7, 1, 10, 30),  # in the current time zone (CEST)
        datetime(2026, 12, 31),
        None,
        "012345678901234567",
        "301000000000000001",  # more than 15 digits: text, every digit kept
    ]
    assert list(rows[2]) == [
        None,
        0,
        0.5,
        datetime(2026, 1, 2, 3, 4, 5),  # naive: as it is
        None,
        None,
        None,
        "-1000000000000000",  # as text, as it is (a string cell is never a formula)
    ]
    assert ws["A1"].font.b and ws.freeze_panes == "A2"
    assert ws["C2"].number_format == "#,##0.00"
    assert ws["D2"].number_format == "dd/mm/yyyy hh:mm:ss"
    assert ws["E2"].number_format == "dd/mm/yyyy"
    assert ws["G2"].data_type == "s" and ws["G2"].number_format == "@"
    assert ws["H2"].data_type == "s"
    assert ws.column_dimensions["A"].width == pytest.approx(12, abs=1)


def test_texts_are_never_formulas_numbers_or_links_and_lose_what_xml_refuses() -> None:
    texts = ["=1+1", "\uff1dSUM(A1:A2)", "@cmd", "123", "http://example.org", "a\x01b\x1f\ufffe"]
    sheet = Sheet("Testi", ["valore"], [[text] for text in [*texts, "x" * 40_000, "\ud800z"]])
    ws = _read(write_xlsx([sheet])).worksheets[0]
    cells = [row[0] for row in ws.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" for cell in cells)
    values = [cell.value for cell in cells]
    # Nothing silently changed: no `'` added; what looks like a formula gets Excel's quote
    # prefix (shown as it is, still text when edited).
    assert values[:6] == ["=1+1", "\uff1dSUM(A1:A2)", "@cmd", "123", "http://example.org", "ab"]
    assert values[6] == "x" * 32_767
    assert values[7] == "z"
    assert [cell.quotePrefix for cell in cells] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    assert all(cell.hyperlink is None for cell in cells)


@pytest.mark.parametrize(
    "value", ["=1", "+1", "-1", "@A1", "\t1", "\r1", "\x001", "\uff1d1", "\uff0b1", "\uff0d1"]
)
def test_formula_safe_guards_csv_cells_and_leaves_xlsx_text_alone(value: str) -> None:
    assert formula_safe(value) == "'" + value
    assert formula_safe("a" + value) == "a" + value
    assert csv_safe(value) == formula_safe(value)
    # An XLSX string cell is never a formula: only what XML cannot hold (NUL) is removed.
    assert xlsx_text(value) == value.replace("\x00", "")


def test_a_full_sheet_continues_on_a_new_one_with_the_header(monkeypatch: Any) -> None:
    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 2)
    name = "Un nome di foglio molto lungo davvero"
    sheet = Sheet(name, ["n"], [[n] for n in range(1, 6)])
    workbook = _read(write_xlsx([sheet]))
    first = sheet_name(name)
    assert workbook.sheetnames == [first, first[:27] + " (2)", first[:27] + " (3)"]
    assert all(len(title) <= 31 for title in workbook.sheetnames)
    assert [[r[0] for r in ws.iter_rows(values_only=True)] for ws in workbook.worksheets] == [
        ["n", 1, 2],
        ["n", 3, 4],
        ["n", 5],
    ]


def test_sheet_names_lose_the_characters_excel_refuses() -> None:
    assert sheet_name("Rate: 1/2 [prova]?*\\") == "Rate  1 2  prova"
    assert sheet_name("   ") == "-"
    assert len(sheet_name("x" * 50)) == 31


def test_sheets_can_be_filled_in_turn() -> None:
    book = XlsxFile()
    first = book.sheet(Sheet("Primo", ["n"]))
    second = book.sheet(Sheet("Secondo", ["n"]))
    for n in range(1, 7):
        (first if n % 2 else second).append([n])
    workbook = _read(book.finish())
    assert [[r[0] for r in ws.iter_rows(values_only=True)] for ws in workbook.worksheets] == [
        ["n", 1, 3, 5],
        ["n", 2, 4, 6],
    ]


def test_the_file_is_closed_when_reading_the_rows_fails() -> None:
    file = io.BytesIO()

    def rows() -> Any:
        yield ["uno"]
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        write_xlsx([Sheet("Prova", ["a"], rows())], file)
    assert file.closed
