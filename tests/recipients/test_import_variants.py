"""Variants of the real-world files of tests/cases/import (README there): each file stands
for a class of fault; these build other files of the same classes and run them through the
reading and the check that an upload goes through (parse_table, then validate_rows)."""

import io
import re
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from markdown_it import MarkdownIt
from openpyxl import Workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from ioportal.messaging.preview import render_body
from ioportal.recipients.filenames import attachment_key
from ioportal.recipients.parsing import (
    HiddenRows,
    ImportChoiceNeeded,
    ReadOptions,
    parse_table,
)
from ioportal.recipients.rendering import fill_message
from ioportal.recipients.validation import MessageSpec, guess_mapping
from tests.recipients.support import texts, validated
from tests.xlsx_parts import rewrite_part

CF1, CF2, CF3, CF4 = "RSSMRA85T10A562S", "VRDGPP75C15F205S", "BNCLCU90D45L219H", "RSSMRA80A01H501U"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=ZoneInfo("Europe/Rome"))
MARKDOWN = "Gentile contribuente, la TARI 2026 ammonta a {{ valore }}. " * 2


def _spec(kind="text", **extra):
    return MessageSpec(
        subject="Avviso TARI 2026",
        markdown=MARKDOWN,
        placeholders=[{"name": "valore", "type": kind, "required": True, "pattern": ""}],
        **extra,
    )


def _check(table, mapping, spec, number_format="it"):
    return validated(
        headers=table.headers,
        rows=table.rows,
        lines=table.lines,
        mapping=mapping,
        spec=spec,
        now=NOW,
        number_format=number_format,
        number_cells=table.number_cells if table.file_format == "xlsx" else None,
        date_system=table.date_system,
    )


def _csv(text, **options):
    return parse_table(data=text.encode(), filename="elenco.csv", options=ReadOptions(**options))


def _save(workbook):
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx(rows, *, formats=None, epoch=None):
    workbook = Workbook()
    if epoch is not None:
        workbook.epoch = epoch
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    for ref, number_format in (formats or {}).items():
        sheet[ref].number_format = number_format
    return workbook, sheet


def _xlsx_table(rows, **kwargs):
    workbook, _sheet = _xlsx(rows, **kwargs)
    return parse_table(data=_save(workbook), filename="elenco.xlsx")


# --- numbers written the Italian way, and the English convention on request ----------------


@pytest.mark.parametrize(
    ("cell", "cents", "decimal", "integer"),
    [
        ("1.500", 150000, "1.500", "1500"),
        ("1.234,56", 123456, "1.234,56", None),
        ("2.000", 200000, "2.000", "2000"),
        ("12.345", 1234500, "12.345", "12345"),
        ("1.234.567,8", 123456780, "1.234.567,8", None),
        ("€ 1.500,00", 150000, "1.500,00", "1500"),
        ("1.500,00\u00a0€", 150000, "1.500,00", "1500"),
        ("1\u00a0500,00", 150000, "1.500,00", "1500"),
        ("1\u202f500", 150000, "1.500", "1500"),
        ("1.500\u200b", 150000, "1.500", "1500"),
        ("\ufeff1.5\u00ad00", 150000, "1.500", "1500"),
        ("1\u2060.500", 150000, "1.500", "1500"),
    ],
)
def test_an_italian_number_is_the_same_number_for_every_placeholder_type(
    cell, cents, decimal, integer
):
    table = _csv(f"cf;valore;avviso\n{CF1};{cell};302001234567890136\n")
    payment = _check(
        table,
        {"fiscal_code": "cf", "valore": "cf", "amount": "valore", "notice_number": "avviso"},
        _spec("text", has_payment=True, max_payment_amount=10**9),
    )
    assert payment.valid[0]["amount"] == cents
    outcome = _check(table, {"fiscal_code": "cf", "valore": "valore"}, _spec("euro"))
    assert outcome.valid[0]["variables"]["valore"] == f"{cents // 100:,}".replace(",", ".") + (
        f",{cents % 100:02d}"
    )
    outcome = _check(table, {"fiscal_code": "cf", "valore": "valore"}, _spec("decimal"))
    assert outcome.valid[0]["variables"]["valore"] == decimal
    outcome = _check(table, {"fiscal_code": "cf", "valore": "valore"}, _spec("integer"))
    if integer is None:
        assert "non è un numero intero" in outcome.rejected[0]["reasons"][0].lower()
    else:
        assert outcome.valid[0]["variables"]["valore"] == integer
    # A text placeholder is sent as written.
    outcome = _check(table, {"fiscal_code": "cf", "valore": "valore"}, _spec("text"))
    assert outcome.valid[0]["variables"]["valore"] == cell


@pytest.mark.parametrize("cell", ["1,000.00", "1,500.5", "12,345.67", "€ 2,000.00"])
@pytest.mark.parametrize("kind", ["euro", "decimal", "integer"])
def test_an_english_number_is_refused_under_the_italian_convention(cell, kind):
    table = _csv(f"cf;valore\n{CF1};{cell}\n")
    outcome = _check(table, {"fiscal_code": "cf", "valore": "valore"}, _spec(kind))
    assert not outcome.valid
    assert "è scritto nel formato inglese" in outcome.rejected[0]["reasons"][0].lower()
    assert "Leggi i numeri nel formato inglese" in outcome.warnings[0]


@pytest.mark.parametrize(
    ("cell", "cents"), [("1,234.56", 123456), ("1,500", 150000), ("€ 2,000.00", 200000)]
)
def test_the_english_convention_on_request(cell, cents):
    table = _csv(f"cf;valore\n{CF1};{cell}\n")
    outcome = _check(table, {"fiscal_code": "cf", "valore": "valore"}, _spec("euro"), "en")
    assert outcome.valid[0]["variables"]["valore"] == (
        f"{cents // 100:,}".replace(",", ".") + f",{cents % 100:02d}"
    )
    refused = _check(
        _csv(f"cf;valore\n{CF1};1.234,56\n"),
        {"fiscal_code": "cf", "valore": "valore"},
        _spec("euro"),
        "en",
    )
    assert "è scritto nel formato italiano" in refused.rejected[0]["reasons"][0].lower()


# --- long identifiers stored by Excel as numbers -------------------------------------------


@pytest.mark.parametrize(
    ("value", "number_format"),
    [
        (302001234567890136, "0"),  # shown in full, digits lost all the same
        (302001234567890136, "General"),
        (302001234567890136, "000000000000000000"),
        (12345678901234567, "000000000000000000"),  # a leading zero dropped
        (3.02001234567890e17, "#,##0"),
    ],
)
def test_a_notice_number_in_a_number_cell_is_refused_in_every_role(value, number_format):
    table = _xlsx_table(
        [["cf", "importo", "avviso"], [CF1, 10, value], [CF2, 10, "302001234567890144"]],
        formats={"C2": number_format},
    )
    spec = MessageSpec(
        subject="Avviso TARI 2026",
        markdown=MARKDOWN,
        placeholders=[{"name": "valore", "type": "notice_number", "required": False}],
        has_payment=True,
    )
    mapping = {"fiscal_code": "cf", "amount": "importo", "notice_number": "avviso"}
    for roles in (mapping, {**mapping, "valore": "avviso"}):
        outcome = _check(table, roles, spec)
        assert [row["line"] for row in outcome.valid] == [3]
        (rejected,) = outcome.rejected
        assert any("salvato come numero" in reason for reason in rejected["reasons"])
        assert all(problem["value"] == "" for problem in rejected["problems"])
    # As text, or as a long code, it is refused too: never sent with other digits.
    outcome = _check(table, {"fiscal_code": "cf", "valore": "avviso"}, _spec("text"))
    assert "salvato come numero" in outcome.rejected[0]["reasons"][0]


def test_a_payee_code_with_its_leading_zero_lost_is_refused():
    table = _xlsx_table(
        [["cf", "importo", "avviso", "ente"], [CF1, 10, "302001234567890136", 123456789]]
    )
    outcome = _check(
        table,
        {
            "fiscal_code": "cf",
            "amount": "importo",
            "notice_number": "avviso",
            "payee_fiscal_code": "ente",
        },
        _spec("text", has_payment=True),
    )
    assert "dell'ente creditore è salvato come numero" in " ".join(outcome.rejected[0]["reasons"])


# --- dates as serial numbers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("epoch", "system", "shown"),
    [(None, 1900, "30/06/2030"), (CALENDAR_MAC_1904, 1904, "01/07/2034")],
)
def test_a_serial_number_is_the_date_excel_shows_for_a_date_placeholder_and_the_due_date(
    epoch, system, shown
):
    table = _xlsx_table([["cf", "scadenza"], [CF1, 47664]], epoch=epoch)
    assert table.date_system == system
    outcome = _check(
        table,
        {"fiscal_code": "cf", "valore": "scadenza", "due_date": "scadenza"},
        _spec("date", has_due_date=True),
    )
    (row,) = outcome.valid
    assert row["variables"]["valore"] == shown
    day, month, year = shown.split("/")
    assert row["due_date"] == f"{year}-{month}-{day}T23:59:59+02:00"
    assert f"47664 è il {shown}" in outcome.warnings[0] and f"({system})" in outcome.warnings[0]


def test_a_serial_number_with_a_time_is_refused_for_a_date_placeholder_saying_so():
    table = _xlsx_table([["cf", "scadenza"], [CF1, 47664.5], [CF2, datetime(2030, 6, 30, 9, 30)]])
    outcome = _check(table, {"fiscal_code": "cf", "valore": "scadenza"}, _spec("date"))
    reasons = [row["reasons"][0] for row in outcome.rejected]
    assert "contiene una data con un'ora (30/06/2030 alle 12:00)" in reasons[0]
    assert "contiene una data con un'ora (30/06/2030 alle 09:30)" in reasons[1]
    # The due date keeps its time.
    outcome = _check(
        table,
        {"fiscal_code": "cf", "valore": "cf", "due_date": "scadenza"},
        _spec("text", has_due_date=True),
    )
    assert [row["due_date"] for row in outcome.valid] == [
        "2030-06-30T12:00:00+02:00",
        "2030-06-30T09:30:00+02:00",
    ]


@pytest.mark.parametrize("cell", ["47664", "47664,5"])
def test_a_number_written_as_text_in_a_csv_is_not_a_date(cell):
    table = _csv(f"cf;scadenza\n{CF1};{cell}\n")
    outcome = _check(table, {"fiscal_code": "cf", "valore": "scadenza"}, _spec("date"))
    assert "contiene un numero, non una data" in outcome.rejected[0]["reasons"][0]


# --- the declared sheet size ---------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda xml: re.sub(r'<dimension ref="[^"]*"\s*/>', "", xml),  # none declared
        lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:Z9999"', xml),
        lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="B3"', xml),
        lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:A1"', xml),
    ],
)
def test_every_row_is_read_whatever_size_the_sheet_declares(change):
    workbook, _sheet = _xlsx([["cf", "nome"], *([cf, "x"] for cf in (CF1, CF2, CF3, CF4, CF1))])
    data = rewrite_part(_save(workbook), "xl/worksheets/sheet1.xml", change)
    table = parse_table(data=data, filename="elenco.xlsx")
    assert table.lines == [2, 3, 4, 5, 6]


# --- hidden rows and hidden columns --------------------------------------------------------


@pytest.mark.parametrize("attributes", ['hidden="1"', 'hidden="true"', 'ht="0" customHeight="1"'])
@pytest.mark.parametrize("with_filter", [True, False])
def test_hidden_rows_are_never_read_silently(attributes, with_filter):
    workbook, sheet = _xlsx([["cf", "nome"], [CF1, "a"], [CF2, "b"], [CF3, "c"], [CF4, "d"]])
    if with_filter:
        sheet.auto_filter.ref = "A1:B5"
    data = rewrite_part(
        _save(workbook),
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r'<row r="([35])"', rf'<row r="\1" {attributes}', xml),
    )
    with pytest.raises(ImportChoiceNeeded, match=r"2 righe nascoste \(righe 3, 5\)") as asked:
        parse_table(data=data, filename="elenco.xlsx")
    assert asked.value.field == "hidden_rows"
    excluded = parse_table(
        data=data, filename="elenco.xlsx", options=ReadOptions(hidden_rows=HiddenRows.EXCLUDE)
    )
    assert excluded.lines == [2, 4]
    included = parse_table(
        data=data, filename="elenco.xlsx", options=ReadOptions(hidden_rows=HiddenRows.INCLUDE)
    )
    assert included.lines == [2, 3, 4, 5]


@pytest.mark.parametrize("attributes", ['hidden="1"', 'width="0" customWidth="1"'])
def test_hidden_columns_are_read_and_named_to_the_operator(attributes):
    workbook, sheet = _xlsx([["cf", "nome", "vecchio cf", "nota"], [CF1, "Anna", CF2, "x"]])
    sheet.column_dimensions["C"].width = 20
    data = rewrite_part(
        _save(workbook),
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(
            r"<cols>.*</cols>", f'<cols><col min="3" max="4" {attributes}/></cols>', xml
        ),
    )
    table = parse_table(data=data, filename="elenco.xlsx")
    assert table.rows == [[CF1, "Anna", CF2, "x"]]
    assert (
        "Le colonne C («vecchio cf») e D («nota») sono nascoste in Excel: sono state lette come "
        "le altre." in texts(table.warnings)[0]
    )


def test_a_hidden_column_right_of_the_header_is_not_mentioned():
    workbook, sheet = _xlsx([["cf", "nome"], [CF1, "Anna"]])
    sheet.column_dimensions["B"].hidden = False
    sheet.column_dimensions["E"].hidden = True
    table = parse_table(data=_save(workbook), filename="elenco.xlsx")
    assert texts(table.warnings) == []


# --- several sheets ------------------------------------------------------------------------


def test_instructions_on_the_first_sheet_never_become_recipients():
    workbook = Workbook()
    instructions = workbook.active
    instructions.title = "Istruzioni"
    instructions.append(["Colonna", "Significato"])
    instructions.append(["cf", "il codice fiscale del destinatario"])
    data_sheet = workbook.create_sheet("Dati TARI 2026")
    data_sheet.append(["cf", "nome"])
    data_sheet.append([CF1, "Anna"])
    data = _save(workbook)
    with pytest.raises(ImportChoiceNeeded, match="«Istruzioni», «Dati TARI 2026»") as asked:
        parse_table(data=data, filename="elenco.xlsx")
    assert asked.value.choices == [
        ("Istruzioni", "Istruzioni"),
        ("Dati TARI 2026", "Dati TARI 2026"),
    ]
    table = parse_table(
        data=data, filename="elenco.xlsx", options=ReadOptions(sheet="Dati TARI 2026")
    )
    assert table.rows == [[CF1, "Anna"]]
    assert "È stato letto il foglio «Dati TARI 2026»." in texts(table.warnings)


# --- repeated header names -----------------------------------------------------------------


def test_a_name_repeated_three_times_is_told_apart_by_its_columns():
    table = _csv(f"cf;nome;cf;importo;cf\n{CF1};a;{CF2};1;{CF3}\n")
    assert table.headers == [
        "cf (colonna A)",
        "nome",
        "cf (colonna C)",
        "importo",
        "cf (colonna E)",
    ]
    assert "La colonna «cf» compare 3 volte (colonne A, C ed E)" in texts(table.warnings)[0]
    assert "fiscal_code" not in guess_mapping(table.headers, ["fiscal_code"])


@pytest.mark.parametrize(
    "second",
    [
        "codice_fiscale\u200b",  # zero-width space
        "\ufeffcodice_fiscale",  # a byte order mark in the middle of the file
        "codice\u00adfiscale".replace("\u00ad", "_\u00ad"),  # soft hyphen
        "codice_fiscale\u2060",  # word joiner
    ],
)
def test_names_that_look_the_same_are_the_same_name(second):
    table = _csv(f"codice_fiscale;nome;{second}\n{CF1};a;{CF2}\n")
    assert table.headers == ["codice_fiscale (colonna A)", "nome", "codice_fiscale (colonna C)"]
    assert "compare 2 volte (colonne A e C)" in texts(table.warnings)[0]
    assert "fiscal_code" not in guess_mapping(table.headers, ["fiscal_code"])


@pytest.mark.parametrize(
    ("first", "second", "name"),
    [
        ("codice fiscale", "codice\u00a0fiscale", "codice fiscale"),
        ("codice fiscale", "codice\u202ffiscale", "codice fiscale"),
        ("codice fiscale", "codice  fiscale", "codice fiscale"),
        ("città", "citta\u0300", "città"),  # macOS writes accents decomposed
    ],
)
def test_spaces_and_accents_written_otherwise_are_the_same_name(first, second, name):
    table = _csv(f"{first};nome;{second}\n{CF1};a;{CF2}\n")
    assert table.headers == [f"{name} (colonna A)", "nome", f"{name} (colonna C)"]


def test_names_differing_by_case_spaces_or_accents_are_offered_distinctly_with_a_warning():
    table = _csv(f"Codice fiscale;nome;codice_fiscale;CODICE FISCALE\n{CF1};a;{CF2};{CF3}\n")
    assert table.headers == ["Codice fiscale", "nome", "codice_fiscale", "CODICE FISCALE"]
    assert texts(table.warnings) == [
        "Le colonne «Codice fiscale» (colonna A), «codice_fiscale» (colonna C) e «CODICE "
        "FISCALE» (colonna D) hanno nomi che differiscono solo per maiuscole, accenti, spazi o "
        "punteggiatura: nell'abbinamento controlla di scegliere quella giusta."
    ]
    assert "fiscal_code" not in guess_mapping(table.headers, ["fiscal_code"])


def test_a_workbook_header_with_a_line_break_reads_as_one_line():
    table = _xlsx_table([["Codice\nfiscale", "Nome"], [CF1, "Anna"]])
    assert table.headers == ["Codice fiscale", "Nome"]
    assert guess_mapping(table.headers, ["fiscal_code"]) == {"fiscal_code": "Codice fiscale"}


# --- separators ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        (f'cf;nome;nota\n{CF1};"Rossi, Mario";"Via ""Roma"", 5"\n{CF2};Bianchi;"a, b, c"\n', ";"),
        (f'cf;nome,cognome;importo\n{CF1};"Rossi, Mario";1.500,00\n{CF2};Bianchi;2,50\n', ";"),
        (f'cf;nome;nota\n{CF1};Mario "il Grande" Rossi;x, y\n{CF2};"Anna";z\n', ";"),
        (f'cf\tnome\tnota\n{CF1}\t"Rossi, Mario"\t"a;b"\n{CF2}\tBianchi\tc,d;e\n', "\t"),
        (f'sep=,\r\ncf,nome\r\n{CF1},"Rossi; Mario"\r\n{CF2},Anna\r\n', ","),
        (f'\ufeffsep=;\ncf;nome\n{CF1};"Rossi, M"\n{CF2};Anna\n', ";"),
        (f"sep=\t\ncf\tnome\n{CF1}\tRossi; M, A\n{CF2}\tAnna\n", "\t"),
        # The line as other programs leave it: padded to the columns, quoted, in capitals.
        (f"sep=;;\ncf;nome, cognome\n{CF1};Rossi, M\n{CF2};Anna\n", ";"),
        (f'"sep=;"\r\ncf;nome, cognome\r\n{CF1};Rossi, M\r\n{CF2};Anna\r\n', ";"),
        (f"SEP=;\ncf;nome, cognome\n{CF1};Rossi, M\n{CF2};Anna\n", ";"),
    ],
)
def test_the_separator_is_the_one_every_row_fits(text, delimiter):
    table = parse_table(data=text.encode(), filename="elenco.csv")
    assert table.delimiter == delimiter
    assert table.row_problems == {}
    assert [row[0] for row in table.rows] == [CF1, CF2]
    assert table.lines == [2, 3]


def test_the_operator_overrides_the_separator():
    text = f"cf;nome|nota\n{CF1};Anna|x\n"
    assert parse_table(data=text.encode(), filename="a.csv").delimiter == ";"
    table = _csv(text, delimiter="|")
    assert table.headers == ["cf;nome", "nota"]


# --- line breaks inside quoted cells -------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("inside", ["\n", "\r\n", "\r"])
def test_an_invalid_code_after_a_multi_line_cell_is_rejected_on_its_spreadsheet_row(
    newline, inside
):
    text = newline.join(
        [
            "cf;nota",
            f'{CF1};"Via Roma 1{inside}secondo piano{inside}interno 4"',
            f'RSSMRA85T10A562X;"a{inside}b"',
            f"{CF3};ok",
            "",
        ]
    )
    table = parse_table(data=text.encode(), filename="elenco.csv")
    assert table.lines == [2, 3, 4]
    outcome = _check(table, {"fiscal_code": "cf", "valore": "nota"}, _spec("text"))
    assert [row["line"] for row in outcome.rejected] == [3]
    assert [row["line"] for row in outcome.valid] == [2, 4]


# --- invisible characters pasted with identifiers ------------------------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00a0", "\u202f", "\u00ad", "\ufeff"]


@pytest.mark.parametrize("mark", INVISIBLE)
def test_invisible_characters_are_stripped_from_every_identifier_amount_and_date(mark):
    cf = f"{CF1[:6]}{mark}{CF1[6:]}{mark}"
    notice = f"3020{mark}01234567890136"
    text = (
        "cf;importo;avviso;scadenza;ente\n"
        f"{cf};1{mark}500,00;{notice};{mark}31/12/2027{mark};{mark}00000000000{mark}\n"
    )
    table = parse_table(data=text.encode(), filename="elenco.csv")
    spec = MessageSpec(
        subject="Avviso TARI 2026",
        markdown=MARKDOWN,
        placeholders=[
            {"name": "valore", "type": "notice_number", "required": True},
            {"name": "giorno", "type": "date", "required": True},
            {"name": "cifra", "type": "euro", "required": True},
        ],
        has_payment=True,
        has_due_date=True,
    )
    outcome = _check(
        table,
        {
            "fiscal_code": "cf",
            "amount": "importo",
            "cifra": "importo",
            "notice_number": "avviso",
            "valore": "avviso",
            "due_date": "scadenza",
            "giorno": "scadenza",
            "payee_fiscal_code": "ente",
        },
        spec,
    )
    assert outcome.rejected == []
    (row,) = outcome.valid
    assert row["fiscal_code"] == CF1
    assert row["notice_number"] == row["variables"]["valore"] == "302001234567890136"
    assert row["amount"] == 150000 and row["variables"]["cifra"] == "1.500,00"
    assert row["variables"]["giorno"] == "31/12/2027"
    assert row["due_date"] == "2027-12-31T23:59:59+01:00"
    assert row["payee_fiscal_code"] == "00000000000"


# --- markdown in a cell --------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        "[Paga qui](https://pagamenti.example)",
        "![](https://traccia.example/pixel.gif)",
        "<https://pagamenti.example>",
        "[Paga][1] [1]: https://pagamenti.example",
        "<a href='https://pagamenti.example'>Paga</a>",
        "<img src=https://traccia.example/p.gif>",
        "https://pagamenti.example/paga",
        "www.pagamenti.example",
        "[x](javascript:alert(1))",
    ],
)
def test_markdown_in_a_cell_reaches_the_citizen_as_text(cell):
    table = _csv(f'cf;valore\n{CF1};"{cell}"\n')
    outcome = _check(table, {"fiscal_code": "cf", "valore": "valore"}, _spec("text"))
    (row,) = outcome.valid
    assert row["variables"]["valore"] == cell
    _subject, markdown = fill_message(
        subject="Avviso", markdown=MARKDOWN, variables=row["variables"], known=["valore"]
    )
    html = render_body(markdown)
    assert "<a " not in html and "<img" not in html
    # The app's renderer with every extension of CommonMark shows no link or image either.
    full = MarkdownIt("commonmark", {"html": True}).render(markdown)
    assert "<a " not in full and "<img" not in full


# --- attachment names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "entry"),
    [
        ("fattura_più.pdf", "fattura_piu\u0300.pdf"),  # NFC cell, NFD entry (macOS)
        ("fattura_piu\u0300.pdf", "fattura_più.pdf"),
        ("Fattura_PIÙ.PDF", "fattura_più.pdf"),
        ("fattura_più\u200b.pdf", "fattura_più.pdf"),
        ("\ufefffattura_più.pdf", "fattura_più.pdf"),
        ("fattura\u00a0più.pdf", "fattura più.pdf"),
        ("fattura\u202fpiù.pdf", "fattura più.pdf"),
        ("fattura_pi\u00adù.pdf", "fattura_più.pdf"),
    ],
)
def test_an_attachment_name_matches_its_entry_as_the_person_reads_it(cell, entry):
    table = _csv(f"cf;valore;allegato\n{CF1};x;{cell}\n")
    spec = MessageSpec(
        subject="Avviso TARI 2026",
        markdown=MARKDOWN,
        placeholders=[{"name": "valore", "type": "text", "required": True}],
        attachments={attachment_key(entry): []},
    )
    outcome = _check(
        table, {"fiscal_code": "cf", "valore": "valore", "attachment": "allegato"}, spec
    )
    assert outcome.rejected == []


def test_two_cells_naming_the_same_file_otherwise_are_one_file():
    table = _csv(f"cf;valore;allegato\n{CF1};x;fattura_più.pdf\n{CF2};y;FATTURA_PIU\u0300.pdf\n")
    spec = MessageSpec(
        subject="Avviso TARI 2026",
        markdown=MARKDOWN,
        placeholders=[{"name": "valore", "type": "text", "required": True}],
        attachments={attachment_key("fattura_più.pdf"): []},
    )
    outcome = _check(
        table, {"fiscal_code": "cf", "valore": "valore", "attachment": "allegato"}, spec
    )
    assert "è già assegnato alla riga 2" in outcome.rejected[0]["reasons"][0]


@pytest.mark.parametrize("language", ["it", "en"])
def test_a_look_alike_name_next_to_a_repeated_one_is_not_guessed(language):
    from django.utils import translation

    with translation.override(language):
        table = _csv(f"cf;nome;cf;CF\n{CF1};a;{CF2};{CF3}\n")
        assert table.headers[2] != "cf"
        assert "fiscal_code" not in guess_mapping(table.headers, ["fiscal_code"])


def _zip(names):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"%PDF-1.4")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "names",
    [
        ["Fattura_più.pdf", "fattura_PIÙ.pdf"],
        ["fattura\u00a0più.pdf", "fattura più.pdf"],
        ["fattura_più.pdf", "fattura_piu\u0300.pdf"],
        ["fattura_più.pdf", "altra/fattura_più.pdf"],
    ],
)
def test_zip_entries_naming_one_cell_refuse_the_zip(names):
    from ioportal.recipients.attachments import AttachmentUploadError, zip_entries

    with pytest.raises(AttachmentUploadError, match="due file con lo stesso nome"):
        zip_entries(upload=io.BytesIO(_zip(names)))


@pytest.mark.parametrize("cell", ["fattura_più.pdf", "FATTURA_PIÙ.PDF", "fattura_piu\u0300.pdf"])
def test_a_zip_without_the_utf8_flag_matches_the_accented_cell(cell):
    from ioportal.recipients.attachments import zip_entries

    placeholder = "x" * len("fattura_più.pdf")
    raw = _zip([placeholder]).replace(placeholder.encode(), "fattura_più.pdf".encode("cp437"))
    (entry,) = zip_entries(upload=io.BytesIO(raw))
    assert not entry.flag_bits & 0x800
    assert attachment_key(entry.filename) == attachment_key(cell)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("sì\u200b", True),
        ("\ufeffsì", True),
        ("si\u0300", True),
        ("no\u2060", False),
        ("\u200b", False),
    ],
)
def test_a_yes_or_no_cell_is_read_without_invisible_characters(cell, expected):
    table = _csv(
        "cf;importo;avviso;scadenza;non_pagabile\n"
        f"{CF1};10,00;302001234567890136;31/12/2027;{cell}\n"
    )
    outcome = _check(
        table,
        {
            "fiscal_code": "cf",
            "valore": "cf",
            "amount": "importo",
            "notice_number": "avviso",
            "due_date": "scadenza",
            "invalid_after_due_date": "non_pagabile",
        },
        _spec("text", has_payment=True, has_due_date=True),
    )
    assert outcome.rejected == []
    assert outcome.valid[0]["invalid_after_due_date"] is expected


def test_a_name_both_repeated_and_look_alike_is_told_once_in_each_warning():
    table = _csv(f"codice_fiscale;nome;vecchio_cf;Nome;nome\n{CF1};a;x;b;c\n")
    assert table.headers == [
        "codice_fiscale",
        "nome (colonna B)",
        "vecchio_cf",
        "Nome",
        "nome (colonna E)",
    ]
    assert texts(table.warnings) == [
        "La colonna «nome» compare 2 volte (colonne B ed E): nell'abbinamento scegli quale "
        "usare, indicata con la sua lettera.",
        "Le colonne «nome» (colonne B ed E) e «Nome» (colonna D) hanno nomi che differiscono "
        "solo per maiuscole, accenti, spazi o punteggiatura: nell'abbinamento controlla di "
        "scegliere quella giusta.",
    ]
