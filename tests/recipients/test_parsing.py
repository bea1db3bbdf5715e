"""Reading CSV and XLSX uploads: encodings, delimiters, limits with clear messages."""

import io

import pytest
from openpyxl import Workbook

from ioportal.recipients.parsing import ImportFileError, parse_table


def test_utf8_with_bom_semicolon():
    data = "\ufeffCF;Nome\nRSSMRA85T10A562S;Niccolò\n".encode()
    table = parse_table(data=data, filename="a.csv")
    assert table.headers == ["CF", "Nome"]
    assert table.rows == [["RSSMRA85T10A562S", "Niccolò"]]
    assert table.encoding == "utf-8-sig" and table.delimiter == ";"
    assert table.lines == [2]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_any_delimiter(delimiter):
    data = delimiter.join(["cf", "nome", "importo"]) + "\n"
    data += delimiter.join(["RSSMRA85T10A562S", "Anna", "12,50" if delimiter != "," else "12.5"])
    table = parse_table(data=data.encode(), filename="a.csv")
    assert table.delimiter == delimiter
    assert len(table.rows[0]) == 3


def test_windows_1252_is_read_with_a_warning():
    data = "CF;Nome\nRSSMRA85T10A562S;Niccolò Perù\n".encode("cp1252")
    table = parse_table(data=data, filename="a.csv")
    assert table.rows[0][1] == "Niccolò Perù"
    assert table.encoding == "cp1252"
    assert "Windows-1252" in table.warnings[0]


def test_quoted_cells_and_empty_rows_keep_line_numbers():
    data = 'CF,Nota\nRSSMRA85T10A562S,"uno, due"\n\n,\nVRDGPP75C15F205S,"{{ x }}"\n'
    table = parse_table(data=data.encode(), filename="a.csv")
    assert table.rows == [["RSSMRA85T10A562S", "uno, due"], ["VRDGPP75C15F205S", "{{ x }}"]]
    assert table.lines == [2, 5]


def test_too_large(settings):
    settings.RECIPIENTS_MAX_UPLOAD_BYTES = 10
    with pytest.raises(ImportFileError, match="troppo grande"):
        parse_table(data=b"CF\nRSSMRA85T10A562S\n", filename="a.csv")


def test_too_many_rows(settings):
    settings.RECIPIENTS_MAX_ROWS = 2
    data = "CF\n" + "RSSMRA85T10A562S\n" * 3
    with pytest.raises(ImportFileError, match="troppe righe: il massimo è 2"):
        parse_table(data=data.encode(), filename="a.csv")


def test_empty_and_header_only():
    with pytest.raises(ImportFileError, match="vuoto"):
        parse_table(data=b"  \n", filename="a.csv")
    with pytest.raises(ImportFileError, match="non contiene righe"):
        parse_table(data=b"CF;Nome\n", filename="a.csv")


def _xlsx(rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_read_only_with_types():
    from datetime import datetime

    data = _xlsx(
        [["CF", "Importo", "Scadenza", "N"], ["RSSMRA85T10A562S", 12.5, datetime(2030, 1, 31), 7.0]]
    )
    table = parse_table(data=data, filename="elenco.xlsx")
    assert table.file_format == "xlsx"
    assert table.rows == [["RSSMRA85T10A562S", "12.5", "2030-01-31", "7"]]


def test_xlsx_damaged():
    with pytest.raises(ImportFileError, match="Excel non è leggibile"):
        parse_table(data=b"PK\x03\x04garbage", filename="x.xlsx")


def test_xlsx_uncompressed_size_checked(settings):
    settings.RECIPIENTS_XLSX_MAX_UNCOMPRESSED_BYTES = 100
    data = _xlsx([["CF"], ["RSSMRA85T10A562S"]])
    with pytest.raises(ImportFileError, match="decompresso"):
        parse_table(data=data, filename="x.xlsx")
