"""The structure of an uploaded file, read without guessing: sheets, hidden rows, declared
size, containers that are not workbooks, separators, encodings, row numbers, quotes, headers."""

import io
import re
import zipfile

import pytest
from openpyxl import Workbook

from ioportal.core.io_texts import reason_text
from ioportal.recipients.parsing import (
    ENCRYPTED_PACKAGE,
    OLE_MAGIC,
    HiddenRows,
    ImportChoiceNeeded,
    ImportFileError,
    ReadOptions,
    distinct_headers,
    parse_table,
)
from ioportal.recipients.validation import guess_mapping
from tests.recipients.support import texts
from tests.xlsx_parts import rewrite_part

CF1, CF2, CF3 = "RSSMRA85T10A562S", "VRDGPP75C15F205S", "BNCLCU90D45L219H"


def _save(workbook):
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _workbook(rows, title="Foglio1"):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    return workbook


# --- XLSX: declared size ------------------------------------------------------------------


@pytest.mark.parametrize("declared", ["A1", "A1:B2", "A1:C1"])
def test_declared_sheet_size_is_never_trusted(declared):
    data = _save(_workbook([["cf", "nome", "nota"], [CF1, "Anna", "x"], [CF2, "Bruno", "y"]]))
    data = rewrite_part(
        data,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="{declared}"', xml),
    )
    table = parse_table(data=data, filename="elenco.xlsx")
    assert table.headers == ["cf", "nome", "nota"]
    assert table.rows == [[CF1, "Anna", "x"], [CF2, "Bruno", "y"]]
    assert table.lines == [2, 3]


def test_rows_and_cells_without_references_are_numbered_in_order():
    data = _save(_workbook([["cf", "nome"], [CF1, "Anna"], [CF2, "Bruno"]]))
    data = rewrite_part(
        data,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r' r="[A-Z]*[0-9]+"', "", re.sub(r"<dimension[^>]*/>", "", xml)),
    )
    table = parse_table(data=data, filename="elenco.xlsx")
    assert table.rows == [[CF1, "Anna"], [CF2, "Bruno"]] and table.lines == [2, 3]


def test_rows_before_the_header_and_gaps_keep_spreadsheet_numbers():
    workbook = Workbook()
    sheet = workbook.active
    sheet["A3"], sheet["B3"] = "cf", "nome"
    sheet["A4"], sheet["B4"] = CF1, "Anna"
    sheet["A7"], sheet["B7"] = CF2, "Bruno"
    table = parse_table(data=_save(workbook), filename="elenco.xlsx")
    assert table.headers == ["cf", "nome"]
    assert table.lines == [4, 7]


def test_short_rows_are_padded_to_the_header():
    table = parse_table(
        data=_save(_workbook([["cf", "nome", "nota"], [CF1, "Anna"]])), filename="e.xlsx"
    )
    assert table.rows == [[CF1, "Anna", ""]]


def test_a_formula_without_saved_result_is_a_row_problem_not_an_empty_cell():
    workbook = _workbook([["cf", "nome", "totale"], [CF1, "Anna", "=1+1"], [CF2, "Bruno", 3]])
    table = parse_table(data=_save(workbook), filename="e.xlsx")  # openpyxl saves no result
    assert table.row_problems == {} and list(table.cell_problems) == [2]
    assert "La cella C2 contiene una formula" in reason_text(table.cell_problems[2][2])
    assert table.rows[1] == [CF2, "Bruno", "3"]


def test_a_formula_with_its_saved_result_reads_the_result():
    data = rewrite_part(
        _save(_workbook([["cf", "totale"], [CF1, "=1+1"]])),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace("<f>1+1</f><v />", "<f>1+1</f><v>2</v>"),
    )
    table = parse_table(data=data, filename="e.xlsx")
    assert table.rows == [[CF1, "2"]] and table.row_problems == {}


# --- XLSX: hidden rows --------------------------------------------------------------------


def _with_hidden_rows():
    workbook = _workbook([["cf", "nome"], [CF1, "Anna"], [CF2, "Bruno"], [CF3, "Carla"]])
    workbook.active.row_dimensions[3].hidden = True  # a filter or a grouping
    return _save(workbook)


def test_hidden_rows_need_the_operators_word():
    with pytest.raises(ImportChoiceNeeded, match=r"una riga nascosta \(riga 3\)") as caught:
        parse_table(data=_with_hidden_rows(), filename="e.xlsx")
    assert caught.value.field == "hidden_rows"
    assert [value for value, _label in caught.value.choices] == ["exclude", "include"]


def test_hidden_rows_excluded_or_included_on_request():
    excluded = parse_table(
        data=_with_hidden_rows(),
        filename="e.xlsx",
        options=ReadOptions(hidden_rows=HiddenRows.EXCLUDE),
    )
    assert excluded.lines == [2, 4] and excluded.hidden_lines == [3]
    assert "non è stata letta" in texts(excluded.warnings)[-1]
    included = parse_table(
        data=_with_hidden_rows(),
        filename="e.xlsx",
        options=ReadOptions(hidden_rows=HiddenRows.INCLUDE),
    )
    assert included.lines == [2, 3, 4]
    assert "è stata letta" in texts(included.warnings)[-1]


def test_a_row_of_zero_height_is_hidden():
    data = rewrite_part(
        _save(_workbook([["cf"], [CF1], [CF2]])),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace('<row r="2"', '<row r="2" ht="0" customHeight="1"'),
    )
    with pytest.raises(ImportChoiceNeeded, match=r"riga 2\)"):
        parse_table(data=data, filename="e.xlsx")


def test_empty_hidden_rows_are_not_asked_about():
    workbook = _workbook([["cf"], [CF1]])
    workbook.active.row_dimensions[5].hidden = True
    assert parse_table(data=_save(workbook), filename="e.xlsx").lines == [2]


# --- XLSX: sheets ---------------------------------------------------------------------------


def _two_sheets(first_rows):
    workbook = _workbook(first_rows, title="Istruzioni")
    data = workbook.create_sheet("Elenco")
    for row in [["cf", "nome"], [CF1, "Anna"]]:
        data.append(row)
    return workbook


def test_several_sheets_with_data_need_a_choice():
    data = _save(_two_sheets([["Compilare il foglio Elenco"]]))
    with pytest.raises(ImportChoiceNeeded, match="«Istruzioni», «Elenco»") as caught:
        parse_table(data=data, filename="e.xlsx")
    assert caught.value.field == "sheet"
    assert caught.value.choices == [("Istruzioni", "Istruzioni"), ("Elenco", "Elenco")]
    table = parse_table(data=data, filename="e.xlsx", options=ReadOptions(sheet="Elenco"))
    assert table.sheet == "Elenco" and table.rows == [[CF1, "Anna"]]
    assert "«Elenco»" in texts(table.warnings)[0]


def test_the_only_sheet_with_data_is_read_with_a_note():
    table = parse_table(data=_save(_two_sheets([])), filename="e.xlsx")
    assert table.sheet == "Elenco"
    assert texts(table.warnings) == ["È stato letto il foglio «Elenco»."]


def test_a_hidden_sheet_with_data_makes_the_choice_the_operators():
    workbook = _two_sheets([])
    workbook["Istruzioni"].sheet_state = "hidden"
    assert parse_table(data=_save(workbook), filename="e.xlsx").sheet == "Elenco"
    workbook = _two_sheets([["Istruzioni per il foglio Elenco"]])
    workbook["Elenco"].sheet_state = "hidden"
    with pytest.raises(ImportChoiceNeeded, match="scegli quello con i destinatari") as caught:
        parse_table(data=_save(workbook), filename="e.xlsx")
    assert ("Elenco", "Elenco (foglio nascosto)") in caught.value.choices


def test_an_unknown_sheet_name_is_asked_again():
    with pytest.raises(ImportChoiceNeeded, match="«Dati» non è nel file"):
        parse_table(
            data=_save(_two_sheets([])), filename="e.xlsx", options=ReadOptions(sheet="Dati")
        )


# --- containers -----------------------------------------------------------------------------


def test_password_protected_workbook_is_refused_saying_so():
    data = OLE_MAGIC + b"\x00" * 504 + ENCRYPTED_PACKAGE + b"\x00" * 100
    with pytest.raises(ImportFileError, match="protetto da password"):
        parse_table(data=data, filename="elenco.xlsx")


def test_old_xls_is_refused_saying_so():
    data = OLE_MAGIC + b"\x00" * 504 + "Workbook".encode("utf-16-le")
    with pytest.raises(ImportFileError, match=r"Excel 97-2003 \(\.xls\)"):
        parse_table(data=data, filename="elenco.csv")


def _zip(entries):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"fatture/a.pdf": b"%PDF-1.7"}, "non una cartella di lavoro Excel"),
        ({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<x/>"}, "non una cartella"),
        (
            {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b""},
            r"OpenDocument \(\.ods\)",
        ),
        ({"[Content_Types].xml": b"<x/>", "xl/workbook.bin": b""}, r"\.xlsb"),
    ],
)
def test_zip_that_is_not_a_workbook_is_refused_saying_so(entries, message):
    with pytest.raises(ImportFileError, match=message):
        parse_table(data=_zip(entries), filename="elenco.xlsx")


# --- CSV: separator -------------------------------------------------------------------------


def test_separator_chosen_by_every_row_having_the_header_columns():
    # Under "," the header has one column and each row two: not the separator.
    data = "cf;causale;importo\r\n" + f"{CF1};Tributi 'TARI', 'TEFA';120,50\r\n" * 3
    table = parse_table(data=data.encode(), filename="a.csv")
    assert table.delimiter == ";"
    assert table.rows[0] == [CF1, "Tributi 'TARI', 'TEFA'", "120,50"]
    assert table.row_problems == {}


def test_comma_file_with_semicolons_in_text():
    data = f'cf,nota,importo\n{CF1},"uno; due",12.5\n{CF2},tre; quattro,3\n'
    table = parse_table(data=data.encode(), filename="a.csv")
    assert table.delimiter == ","
    assert table.rows[1] == [CF2, "tre; quattro", "3"]


@pytest.mark.parametrize(("delimiter", "name"), [("\t", "tab"), ("|", "pipe")])
def test_operator_overrides_the_separator(delimiter, name):
    data = f"cf{delimiter}nome;cognome\n{CF1}{delimiter}Anna;Rossi\n"
    table = parse_table(
        data=data.encode(), filename="a.csv", options=ReadOptions(delimiter=delimiter)
    )
    assert table.delimiter == delimiter
    assert table.rows == [[CF1, "Anna;Rossi"]]


def test_a_separator_that_fits_no_row_is_refused():
    data = f"cf;nome\n{CF1};Anna;Rossi,Bianchi\n"
    with pytest.raises(ImportChoiceNeeded, match="Con il separatore virgola") as caught:
        parse_table(data=data.encode(), filename="a.csv", options=ReadOptions(delimiter=","))
    assert caught.value.field == "delimiter"


def test_a_separator_absent_from_the_header_is_refused():
    data = f"cf;nome\n{CF1};Anna\n"
    with pytest.raises(ImportChoiceNeeded, match="barra verticale .* una sola colonna"):
        parse_table(data=data.encode(), filename="a.csv", options=ReadOptions(delimiter="|"))


def test_rows_with_other_column_counts_are_marked_not_shifted():
    data = f"cf;nome;importo\n{CF1};Anna;10\n{CF2};Bruno;Rossi;20\n{CF3};Carla\n{CF3};Dora;5;;\n"
    table = parse_table(data=data.encode(), filename="a.csv")
    assert table.delimiter == ";"
    assert sorted(table.row_problems) == [3, 4]
    assert "4 colonne invece delle 3" in reason_text(table.row_problems[3])
    assert "2 colonne invece delle 3" in reason_text(table.row_problems[4])
    # Empty cells past the header are no problem and are dropped.
    assert table.rows[3] == [CF3, "Dora", "5"]
    assert "(righe 3, 4)" in texts(table.warnings)[-1]


def test_no_separator_fits_asks_the_operator():
    data = f"cf;nome\n{CF1},Anna\n{CF2}|Bruno\n"
    with pytest.raises(ImportChoiceNeeded, match="Non è chiaro quale carattere"):
        parse_table(data=data.encode(), filename="a.csv")


def test_excel_sep_line_sets_the_separator_and_is_not_a_row():
    data = f"sep=,\r\ncf,nome;cognome\r\n{CF1},Anna;Rossi\r\n"
    table = parse_table(data=data.encode(), filename="a.csv")
    assert table.delimiter == ","
    assert table.headers == ["cf", "nome;cognome"]
    assert table.rows == [[CF1, "Anna;Rossi"]] and table.lines == [2]


def test_one_column_file():
    table = parse_table(data=f"cf\n{CF1}\n{CF2}\n".encode(), filename="a.csv")
    assert table.rows == [[CF1], [CF2]]


# --- CSV: encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_decoded(codec):
    text = f"cf\tnome\r\n{CF1}\tNiccolò\r\n"
    data = text.encode(codec) if codec == "utf-16" else b"\xfe\xff" + text.encode(codec)
    table = parse_table(data=data, filename="a.txt")
    assert table.encoding == "utf-16" and table.delimiter == "\t"
    assert table.rows == [[CF1, "Niccolò"]]


def test_utf16_without_byte_order_mark_is_refused():
    data = f"cf;nome\n{CF1};Anna\n".encode("utf-16-le")
    with pytest.raises(ImportFileError, match="salvalo come CSV UTF-8"):
        parse_table(data=data, filename="a.csv")


# --- CSV: line breaks, quotes, errors ---------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("inside", ["\n", "\r\n", "\r"])
def test_rows_numbered_as_the_spreadsheet_shows_them(newline, inside):
    data = newline.join(
        ["cf,nome,indirizzo", f'{CF1},Anna,"Via Roma 1{inside}Scala B"', f"{CF2},Bruno,Via Po 2"]
    )
    table = parse_table(data=data.encode(), filename="a.csv")
    assert table.lines == [2, 3]
    assert table.rows[0][2] == f"Via Roma 1{inside}Scala B"


def test_blank_lines_count_as_spreadsheet_rows():
    data = f'cf,nota\n{CF1},"a\nb\nc"\n\n{CF2},d\n'
    assert parse_table(data=data.encode(), filename="a.csv").lines == [2, 4]


def test_a_quote_that_swallows_the_following_rows_is_refused_with_its_row():
    data = f'cf;nome;importo\n{CF1};Anna;10\n{CF2};"Bruno;20\n{CF3};Carla;30\nX;"Y;1\n'
    with pytest.raises(ImportFileError, match="Alla riga 3 una virgoletta"):
        parse_table(data=data.encode(), filename="a.csv")


def test_a_quote_never_closed_is_refused_with_its_row():
    data = f'cf;nome\n{CF1};Anna\n{CF2};"Bruno\n{CF3};Carla\n'
    with pytest.raises(ImportFileError, match="Alla riga 3 una virgoletta"):
        parse_table(data=data.encode(), filename="a.csv")


def test_a_quote_swallowing_a_two_column_row():
    data = f'cf,nome\n{CF1},"Anna\n{CF2},Bruno"\n'
    with pytest.raises(ImportFileError, match="Alla riga 2 una virgoletta"):
        parse_table(data=data.encode(), filename="a.csv")


def test_quotes_inside_text_are_kept():
    data = f'cf;nota\n{CF1};Via "del Corso" 5\n{CF2};5" schermo\n'
    table = parse_table(data=data.encode(), filename="a.csv")
    assert table.rows == [[CF1, 'Via "del Corso" 5'], [CF2, '5" schermo']]


@pytest.mark.parametrize("length", [10_001, 131_073, 200_000, 2_000_000])
@pytest.mark.parametrize("quote", ["", '"'])
def test_a_csv_cell_over_the_limit_is_too_long_whatever_its_length_never_a_quote(length, quote):
    # Python's csv module stops at its field size limit (131,072 characters by default):
    # that cell is long, not opened by a quote that never closes.
    data = f"cf;nota;nome\n{CF1};{quote}{'x' * length}{quote};Anna\n{CF2};ok;Bruno\n"
    table = parse_table(data=data.encode(), filename="a.csv")
    assert table.row_problems == {}
    assert {
        line: {column: reason_text(reason) for column, reason in cells.items()}
        for line, cells in table.cell_problems.items()
    } == {
        2: {
            1: "La cella B2 supera 10.000 caratteri: accorcia il testo nel file e caricalo di "
            "nuovo."
        }
    }
    assert len(table.rows[0][1]) == length and table.rows[1] == [CF2, "ok", "Bruno"]


def test_a_long_xlsx_cell_is_a_cell_problem_not_cut():
    data = _save(_workbook([["cf", "nota"], [CF1, "x" * 10_001], [CF2, "ok"]]))
    table = parse_table(data=data, filename="e.xlsx")
    assert table.row_problems == {} and list(table.cell_problems) == [2]
    assert "La cella B2 supera 10.000 caratteri" in reason_text(table.cell_problems[2][1])
    assert len(table.rows[0][1]) == 10_001


# --- headers -----------------------------------------------------------------------------------


def test_repeated_headers_told_apart_by_column_letter():
    headers, warnings = distinct_headers(["cf", "nome", "cf", "", "", "cf"])
    assert headers == ["cf (colonna A)", "nome", "cf (colonna C)", "", "", "cf (colonna F)"]
    assert texts(warnings) == [
        "La colonna «cf» compare 3 volte (colonne A, C e F): nell'abbinamento scegli quale "
        "usare, indicata con la sua lettera."
    ]


def test_repeated_headers_that_cannot_be_told_apart_are_refused():
    with pytest.raises(ImportFileError, match="«cf \\(colonna B\\)» compare più volte"):
        distinct_headers(["cf", "cf", "cf (colonna B)"])


def test_repeated_headers_in_xlsx():
    data = _save(_workbook([["cf", "nome", "cf"], [CF1, "Anna", CF2]]))
    table = parse_table(data=data, filename="e.xlsx")
    assert table.headers == ["cf (colonna A)", "nome", "cf (colonna C)"]


def test_look_alike_headers_are_not_guessed():
    guess = guess_mapping(["Codice fiscale", "codice_fiscale", "Nome"], ["fiscal_code", "nome"])
    assert guess == {"nome": "Nome"}


PAYMENT_PLACEHOLDERS = [
    {"name": "importo", "type": "euro"},
    {"name": "codice_avviso", "type": "notice_number"},
    {"name": "scadenza", "type": "date"},
]
TARGETS = ["fiscal_code", "importo", "codice_avviso", "scadenza", "due_date", "amount"]
TARGETS += ["notice_number"]
HEADERS = ["CF", "Importo", "Codice avviso", "Scadenza"]


def test_payment_columns_follow_the_placeholders():
    guess = guess_mapping(
        HEADERS, TARGETS, placeholders=PAYMENT_PLACEHOLDERS, has_payment=True, has_due_date=True
    )
    assert guess["amount"] == guess["importo"] == "Importo"
    assert guess["notice_number"] == guess["codice_avviso"] == "Codice avviso"
    assert guess["due_date"] == "Scadenza"


def test_payment_columns_not_guessed_for_a_template_without_payment():
    """A template without a payment gets no pagoPA notice from a guess: neither from its
    euro and notice-number placeholders nor from columns named like the payment fields."""
    guess = guess_mapping(HEADERS, TARGETS, placeholders=PAYMENT_PLACEHOLDERS)
    assert guess["importo"] == "Importo" and guess["codice_avviso"] == "Codice avviso"
    assert "amount" not in guess and "notice_number" not in guess and "due_date" not in guess


def test_two_euro_placeholders_leave_the_amount_to_the_operator():
    placeholders = [*PAYMENT_PLACEHOLDERS, {"name": "acconto", "type": "euro"}]
    guess = guess_mapping(
        [*HEADERS, "Acconto"], [*TARGETS, "acconto"], placeholders=placeholders, has_payment=True
    )
    assert "amount" not in guess and guess["notice_number"] == "Codice avviso"


@pytest.mark.parametrize(
    "data",
    [
        "Elenco carte in scadenza;;\ncodice_fiscale;nome;scadenza\n"
        "RSSMRA85T10A562S;Anna;05/12/2026\n",
        '"Elenco, anno 2026",,\ncodice_fiscale,nome,importo\nRSSMRA85T10A562S,Anna,5\n',
    ],
)
def test_a_csv_title_line_above_the_header_is_told_as_a_title(data):
    with pytest.raises(ImportFileError, match=r"^La prima riga sembra un titolo \(A1\): eliminala"):
        parse_table(data=data.encode(), filename="a.csv")


def test_a_csv_header_with_one_named_column_above_data_is_not_a_title():
    table = parse_table(data=f"cf;;\n{CF1};Anna;Rossi\n".encode(), filename="a.csv")
    assert table.headers[0].startswith("cf")


def test_a_header_with_unnamed_columns_names_them_instead_of_blaming_the_separator():
    # "Codice fiscale;;;" over rows of 4 fields: every row has the header's columns, but
    # only the first has a name.
    data = (
        "Codice fiscale;;;\n"
        f"{CF1};Mario;10,00;302000100000000107\n"
        f"{CF2};Giuseppe;11,00;302000100000000208\n"
    ).encode()
    with pytest.raises(ImportFileError) as raised:
        parse_table(data=data, filename="elenco.csv")
    message = str(raised.value)
    assert "le colonne B, C e D non hanno un nome nella prima riga" in message
    assert "Scrivi nella prima riga il nome di ogni colonna" in message
    assert "Non è chiaro quale carattere" not in message
    assert not isinstance(raised.value, ImportChoiceNeeded)


def test_one_unnamed_column_is_named_in_the_singular():
    data = f"Codice fiscale;\n{CF1};Rossi, Mario\n{CF2};Verdi, Giuseppe\n".encode()
    with pytest.raises(ImportFileError, match="la colonna B non ha un nome"):
        parse_table(data=data, filename="elenco.csv")
