"""Reading CSV and XLSX uploads: encodings, delimiters, limits with clear messages."""

import io
import zipfile
from pathlib import Path
from unittest import mock

import pytest
from openpyxl import Workbook
from openpyxl.xml.constants import SHARED_STRINGS
from openpyxl.xml.constants import SHEET_MAIN_NS as MAIN_NS

from ioportal.recipients.parsing import XLSX_SHARED_STRINGS_SLACK, ImportFileError, parse_table
from tests.recipients.support import texts


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
    assert "Windows-1252" in texts(table.warnings)[0]


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
    # Number cells are written in the upload's number convention (Italian by default).
    assert table.rows == [["RSSMRA85T10A562S", "12,5", "2030-01-31", "7"]]
    assert table.number_cells == [[1, 3]] and table.date_system == 1900


def test_xlsx_damaged():
    with pytest.raises(ImportFileError, match="Excel non è leggibile"):
        parse_table(data=b"PK\x03\x04garbage", filename="x.xlsx")


def test_xlsx_uncompressed_size_checked(settings):
    settings.RECIPIENTS_XLSX_MAX_UNCOMPRESSED_BYTES = 100
    data = _xlsx([["CF"], ["RSSMRA85T10A562S"]])
    with pytest.raises(ImportFileError, match="decompresso"):
        parse_table(data=data, filename="x.xlsx")


def _with_unused_shared_strings(data: bytes, count: int, prefix: bytes = b"") -> bytes:
    """`data` (a workbook openpyxl wrote, its texts inline in the cells) with a shared strings
    table of `count` entries that no cell uses (`prefix`: a namespace prefix on their tags,
    "x:"), declared as Excel declares it."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    assert "xl/sharedStrings.xml" not in source.namelist()
    name = prefix[:-1]
    entries = b"".join(
        b"<%ssi><%st>unused %d</%st></%ssi>" % (prefix, prefix, n, prefix, prefix)
        for n in range(count)
    )
    declaration = (
        b' xmlns:%s="%s"' % (name, MAIN_NS.encode())
        if prefix
        else b' xmlns="%s"' % MAIN_NS.encode()
    )
    table = b'<%ssst%s count="%d" uniqueCount="%d">%s</%ssst>' % (
        prefix,
        declaration,
        count,
        count,
        entries,
        prefix,
    )
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "[Content_Types].xml":
                content = content.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="%s" /></Types>'
                    % SHARED_STRINGS.encode(),
                )
            archive.writestr(info, content)
        archive.writestr("xl/sharedStrings.xml", table)
    return target.getvalue()


@pytest.mark.parametrize("prefix", [b"", b"x:"])
def test_xlsx_shared_strings_far_beyond_the_cells_refused_before_reading(prefix):
    # A few cells and thousands of strings no cell uses: openpyxl would read them all (a
    # minute for millions) before the first row.
    rows = [["CF", "Nome"], ["RSSMRA85T10A562S", "Anna"]]
    data = _with_unused_shared_strings(_xlsx(rows), XLSX_SHARED_STRINGS_SLACK + 10, prefix)
    with (
        mock.patch("ioportal.recipients.parsing.load_workbook") as load,
        pytest.raises(ImportFileError, match=r"contiene 1\.010 testi ma i suoi fogli solo 4 celle"),
    ):
        parse_table(data=data, filename="x.xlsx")
    load.assert_not_called()


def test_xlsx_shared_strings_within_the_cells_and_the_slack_read():
    # Texts no cell uses, no more than the cells and Excel's few left over: an ordinary workbook
    # (openpyxl writes texts inline, so every entry of this table is unused).
    rows = [["CF", "Nome"]] + [["RSSMRA85T10A562S", f"Nome {n}"] for n in range(1_500)]
    data = _with_unused_shared_strings(_xlsx(rows), 3_000 + XLSX_SHARED_STRINGS_SLACK)
    table = parse_table(data=data, filename="x.xlsx")
    assert len(table.rows) == 1_500 and table.rows[-1] == ["RSSMRA85T10A562S", "Nome 1499"]


CASES = Path(__file__).resolve().parent.parent / "cases" / "import"


@pytest.mark.parametrize("at", [10, 70_000, 300_000])
def test_nul_anywhere_refuses_a_csv(at):
    line = b"RSSMRA85T10A562S;Anna\n"
    data = b"CF;Nome\n" + line * (at // len(line)) + b"RSSMRA85T10A562S;An\x00na\n" + line
    with pytest.raises(ImportFileError, match="carattere NUL"):
        parse_table(data=data, filename="a.csv")


def test_xlsx_numbers_as_excel_shows_them_in_the_chosen_format():
    data = _xlsx([["CF", "A", "B"], ["RSSMRA85T10A562S", 0.1 + 0.2, 1234.5]])
    assert parse_table(data=data, filename="x.xlsx").rows == [["RSSMRA85T10A562S", "0,3", "1234,5"]]
    english = parse_table(data=data, filename="x.xlsx", number_format="en")
    assert english.rows == [["RSSMRA85T10A562S", "0.3", "1234.5"]]


def test_xlsx_notice_numbers_stored_as_numbers_are_marked():
    table = parse_table(
        data=(CASES / "notice_numbers_in_number_cells.xlsx").read_bytes(), filename="n.xlsx"
    )
    assert [row[2] for row in table.rows] == ["302001234567890000", "302001234567890000"]
    assert table.number_cells == [[1, 2], [1, 2]]


def test_xlsx_date_system_1904():
    from datetime import date

    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    workbook = Workbook()
    workbook.epoch = CALENDAR_MAC_1904
    sheet = workbook.active
    sheet.append(["CF", "Scadenza", "Seriale"])
    sheet.append(["RSSMRA85T10A562S", date(2030, 6, 30), 47664])
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = parse_table(data=buffer.getvalue(), filename="x.xlsx")
    assert table.date_system == 1904
    assert table.rows == [["RSSMRA85T10A562S", "2030-06-30", "47664"]]
    assert table.number_cells == [[2]]


def test_csv_has_no_number_cells():
    table = parse_table(
        data=(CASES / "amounts_thousands_separator.csv").read_bytes(), filename="a.csv"
    )
    assert table.number_cells == [] and table.date_system is None
    assert [row[1] for row in table.rows] == ["1.500", "1.234,56", "2.000", "1,000.00", "12.345"]


def test_xlsx_number_cell_with_a_missing_style():
    import zipfile

    written = zipfile.ZipFile(io.BytesIO(_xlsx([["CF", "N"], ["RSSMRA85T10A562S", 12.5]])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as damaged:
        for name in written.namelist():
            content = written.read(name)
            if name == "xl/worksheets/sheet1.xml":
                content = content.replace(b'<c r="B2" t="n">', b'<c r="B2" s="57" t="n">')
            damaged.writestr(name, content)
    table = parse_table(data=buffer.getvalue(), filename="x.xlsx")
    assert table.rows == [["RSSMRA85T10A562S", "12,5"]]


def _structured_workbook():
    """A sheet of instructions, then the list: declared size "A1", the 1904 date system,
    amounts formatted #,##0.00, and a hidden row whose Number cell is in another column."""
    import re
    import zipfile

    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    workbook = Workbook()
    workbook.epoch = CALENDAR_MAC_1904
    workbook.active.title = "Istruzioni"
    workbook.active.append(["Compila il foglio Elenco"])
    sheet = workbook.create_sheet("Elenco")
    sheet.append(["CF", "Importo", "Rata"])
    sheet.append(["RSSMRA85T10A562S", 12.5, "prima"])
    sheet.append(["VRDGPP75C15F205S", "12,50", 2])
    sheet.append(["BNCLCU90D45L219H", 7, "terza"])
    for row in (2, 4):
        sheet.cell(row=row, column=2).number_format = "#,##0.00"
    sheet.row_dimensions[3].hidden = True
    buffer = io.BytesIO()
    workbook.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "xl/worksheets/sheet2.xml":
                content = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', content)
            target.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("hidden_rows", "lines", "number_cells"),
    [("exclude", [2, 4], [[1], [1]]), ("include", [2, 3, 4], [[1], [2], [1]])],
)
def test_number_cells_follow_the_rows_of_the_chosen_sheet(hidden_rows, lines, number_cells):
    from ioportal.recipients.parsing import ReadOptions

    table = parse_table(
        data=_structured_workbook(),
        filename="e.xlsx",
        options=ReadOptions(sheet="Elenco", hidden_rows=hidden_rows),
    )
    assert table.sheet == "Elenco" and table.date_system == 1904
    assert table.lines == lines and table.number_cells == number_cells
    assert table.rows[0] == ["RSSMRA85T10A562S", "12,50", "prima"]
    assert table.rows[-1] == ["BNCLCU90D45L219H", "7,00", "terza"]
    english = parse_table(
        data=_structured_workbook(),
        filename="e.xlsx",
        options=ReadOptions(sheet="Elenco", hidden_rows=hidden_rows),
        number_format="en",
    )
    assert english.rows[0] == ["RSSMRA85T10A562S", "12.50", "prima"]


def test_a_stray_nul_is_binary_content_and_utf16_without_bom_is_not_text():
    with pytest.raises(ImportFileError, match="carattere NUL"):
        parse_table(data=b"CF;Nome\nRSSMRA85T10A562S;An\x00na\n", filename="a.csv")
    with pytest.raises(ImportFileError, match="salvalo come CSV UTF-8"):
        parse_table(data="CF;Nome\nRSSMRA85T10A562S;Anna\n".encode("utf-16-be"), filename="a.csv")


def test_the_row_limit_is_written_the_italian_way(settings):
    from ioportal.recipients.parsing import _too_many_rows

    settings.RECIPIENTS_MAX_ROWS = 100_000
    assert "il massimo è 100.000 destinatari" in str(_too_many_rows())
