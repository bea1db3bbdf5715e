"""Every validation rule of a recipient row, with its Italian message."""

from datetime import UTC, datetime

import pytest
from django.utils import translation

from ioportal.core.io_texts import reason_text
from ioportal.recipients.services import problem_text
from ioportal.recipients.validation import (
    ATTACHMENT_KEY,
    MessageSpec,
    guess_mapping,
    mapping_errors,
    validate_rows,
)
from tests.recipients.support import validated
from tests.sending.support import fiscal_codes

NOW = datetime(2026, 1, 1, tzinfo=UTC)
GOOD = "RSSMRA85T10A562S"
OTHER = "VRDGPP75C15F205S"
OMOCODIA = "RSSMRA85T10A56NH"  # omocodia: digits replaced by letters, valid check char
MARKDOWN = (
    "Gentile {{ nome }}, questo è un messaggio di prova abbastanza lungo da superare il minimo."
)
HEADERS = ["CF", "Nome", "Importo", "Avviso", "Scadenza", "Codice", "Nota"]
MAPPING = {"fiscal_code": "CF", "nome": "Nome"}


def spec(**overrides):
    values = dict(
        subject="Avviso dal Comune",
        markdown=MARKDOWN,
        placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
    )
    values.update(overrides)
    return MessageSpec(**values)


def check(rows, mapping=None, **spec_overrides):
    return validated(
        headers=HEADERS, rows=rows, mapping=mapping or MAPPING, spec=spec(**spec_overrides), now=NOW
    )


def reasons(outcome):
    return [reason for row in outcome.rejected for reason in row["reasons"]]


def test_valid_row():
    outcome = check([[GOOD, "Anna"]])
    assert not outcome.rejected
    assert outcome.valid[0]["fiscal_code"] == GOOD
    assert outcome.valid[0]["variables"] == {"nome": "Anna"}
    assert outcome.valid[0]["line"] == 2


def test_omocodia_and_lower_case_accepted():
    outcome = check([[OMOCODIA, "Anna"], [OTHER.lower(), "Bruno"]])
    assert not outcome.rejected
    assert outcome.valid[1]["fiscal_code"] == OTHER


def test_wrong_check_character():
    outcome = check([[GOOD[:-1] + "A", "Anna"]])
    assert "carattere di controllo" in reasons(outcome)[0]
    assert outcome.rejected[0]["line"] == 2


def test_bad_format_and_missing_fiscal_code():
    outcome = check([["ABC", "Anna"], ["", "Bruno"]])
    assert "non ha il formato corretto" in reasons(outcome)[0]
    assert "obbligatorio" in reasons(outcome)[1]


def test_duplicate_in_file_names_the_first_line():
    outcome = check([[GOOD, "Anna"], [OTHER, "Bruno"], [GOOD.lower(), "Anna"]])
    assert reasons(outcome) == ["Codice fiscale già presente alla riga 2."]
    assert outcome.rejected[0]["line"] == 4


def test_required_placeholder_empty():
    # The column "Nome" is shown next to the reason: the reason does not name it again.
    outcome = check([[GOOD, ""]])
    assert reasons(outcome) == ["È obbligatorio ma è vuoto."]
    assert outcome.rejected[0]["problems"][0]["column"] == "Nome"


def test_pattern():
    placeholders = [{"name": "nome", "type": "text", "required": True, "pattern": "[A-Z]+"}]
    outcome = check([[GOOD, "anna"]], placeholders=placeholders)
    assert reasons(outcome) == ["Non rispetta il formato richiesto dal modello."]


def test_a_placeholder_read_from_a_column_of_another_name_is_named_in_the_reason():
    placeholders = [{"name": "nome", "type": "text", "required": True, "pattern": "[A-Z]+"}]
    mapping = {"fiscal_code": "CF", "nome": "Nota"}
    empty = check([[GOOD, "", "", "", "", "", ""]], mapping=mapping)
    assert reasons(empty) == ["«nome» è obbligatorio ma è vuoto."]
    wrong = check([[GOOD, "", "", "", "", "", "anna"]], mapping=mapping, placeholders=placeholders)
    assert reasons(wrong) == ["«nome» non rispetta il formato richiesto dal modello."]


@pytest.mark.parametrize(
    "reason",
    ["È obbligatorio ma è vuoto.", "Non rispetta il formato richiesto dal modello."],
)
def test_no_reason_names_its_own_column_again(reason: str):
    rows = [[GOOD, ""]] if reason.startswith("È") else [[GOOD, "anna"]]
    placeholders = [{"name": "nome", "type": "text", "required": True, "pattern": "[A-Z]+"}]
    outcome = check(rows, placeholders=placeholders)
    (problem,) = outcome.rejected[0]["problems"]
    assert problem["reason"] == reason
    assert problem["column"].casefold() not in problem["reason"].casefold()


@pytest.mark.parametrize(
    ("kind", "value", "shown", "problem"),
    [
        ("integer", "42", "42", None),
        ("integer", "4,2", None, "non è un numero intero"),
        ("decimal", "1.234,5", "1.234,5", None),
        ("decimal", "abc", None, "non è un numero"),
        ("date", "31/12/2026", "31/12/2026", None),
        ("date", "2026-12-31", "31/12/2026", None),
        ("date", "31/02/2026", None, "non è una data valida"),
        ("euro", "1234,5", "1.234,50", None),
        ("euro", "12,345", None, "ha più di due decimali"),
        ("euro", "dieci", None, "non è un importo in euro"),
        ("notice_number", "302000100000009424", "302000100000009424", None),
        ("notice_number", "12345", None, "non è un codice avviso pagoPA"),
        ("fiscal_code", OTHER.lower(), OTHER, None),
        ("fiscal_code", "XYZ", None, "non è un codice fiscale valido"),
    ],
)
def test_placeholder_types(kind, value, shown, problem):
    placeholders = [
        {"name": "nome", "type": "text", "required": True, "pattern": ""},
        {"name": "valore", "type": kind, "required": True, "pattern": ""},
    ]
    outcome = check(
        [[GOOD, "Anna", "", "", "", "", value]],
        mapping={**MAPPING, "valore": "Nota"},
        placeholders=placeholders,
    )
    if problem:
        assert any(r.startswith(f"«valore» {problem}") for r in reasons(outcome))
    else:
        assert outcome.valid[0]["variables"]["valore"] == shown


def test_values_are_data_not_code():
    value = "{{ nome }} {% if x %}<b>HTML</b>{% endif %}"
    outcome = check([[GOOD, value]])
    assert outcome.valid[0]["variables"]["nome"] == value


def test_rendered_subject_too_long():
    outcome = check([[GOOD, "A" * 130]], subject="Per {{ nome }}")
    assert "L'oggetto deve avere da 10 a 120 caratteri (ora ne ha 134)." in reasons(outcome)


def test_rendered_markdown_too_short():
    outcome = check([[GOOD, "A"]], markdown="Ciao {{ nome }}")
    assert any("Il testo deve avere da 80 a 10.000 caratteri" in r for r in reasons(outcome))


def test_rendered_markdown_too_long():
    outcome = check([[GOOD, "x" * 10_000]])
    assert any("Il testo deve avere da 80 a 10.000" in r for r in reasons(outcome))


PAY = {**MAPPING, "amount": "Importo", "notice_number": "Avviso", "due_date": "Scadenza"}


def pay_row(amount="12,50", notice="302000100000009424", due="31/12/2030"):
    return [GOOD, "Anna", amount, notice, due, "", ""]


def test_payment_ok():
    outcome = check([pay_row()], mapping=PAY, has_payment=True, max_payment_amount=100_000)
    row = outcome.valid[0]
    assert row["amount"] == 1250 and row["notice_number"] == "302000100000009424"
    assert row["due_date"].startswith("2030-12-31T23:59:59")
    assert outcome.total_amount == 1250


def test_amount_over_service_maximum():
    outcome = check([pay_row("2000,00")], mapping=PAY, has_payment=True, max_payment_amount=100_000)
    assert any("supera il massimo consentito per questo servizio" in r for r in reasons(outcome))


def test_amount_out_of_io_range():
    outcome = check([pay_row("0,00")], mapping=PAY, has_payment=True)
    assert "L'importo deve essere compreso tra 0,01 € e 99.999.999,99 €." in reasons(outcome)


def test_amount_missing_and_notice_invalid():
    outcome = check([pay_row("", "99")], mapping=PAY, has_payment=True)
    found = reasons(outcome)
    assert "L'importo è obbligatorio per l'avviso di pagamento." in found
    assert any("Il numero avviso pagoPA deve avere 18 cifre" in r for r in found)


def test_notice_missing():
    outcome = check([pay_row(notice="")], mapping=PAY, has_payment=True)
    assert "Il codice avviso pagoPA è obbligatorio." in reasons(outcome)


def test_due_date_invalid_and_past():
    outcome = check([pay_row(due="domani"), pay_row(due="01/01/2020")], mapping=PAY)
    found = reasons(outcome)
    assert any(r.startswith("Non è una data valida") for r in found)
    assert "La data di scadenza è già passata." in found


def test_due_date_required_by_template():
    outcome = check([[GOOD, "Anna"]], has_due_date=True)
    assert "La data di scadenza è obbligatoria ma è vuota." in reasons(outcome)


def test_invalid_after_due_date_and_payee():
    mapping = {**PAY, "invalid_after_due_date": "Codice", "payee_fiscal_code": "Nota"}
    row = pay_row()
    row[5], row[6] = "forse", "123"
    outcome = check([row], mapping=mapping, has_payment=True)
    found = reasons(outcome)
    assert "Avviso non pagabile dopo la scadenza: deve essere sì o no." in found
    assert any("ente creditore deve essere composto da 11 cifre" in r for r in found)
    row[5], row[6] = "sì", "80001230582"
    valid = check([row], mapping=mapping, has_payment=True).valid[0]
    assert valid["invalid_after_due_date"] is True and valid["payee_fiscal_code"] == "80001230582"


def test_attachment_file_name():
    mapping = {**MAPPING, "attachment": "Nota"}
    rows = [
        [GOOD, "Anna", "", "", "", "", "avviso 2026.pdf"],
        [OTHER, "Bruno", "", "", "", "", "../etc/passwd"],
        [OMOCODIA, "Carla", "", "", "", "", ""],
    ]
    outcome = check(rows, mapping=mapping, feature_level="advanced")
    assert outcome.valid[0]["variables"][ATTACHMENT_KEY] == "avviso 2026.pdf"
    found = reasons(outcome)
    assert any("nome del file allegato non è valido" in r for r in found)
    assert "Il nome del file allegato è vuoto." in found


def test_every_reason_of_a_row_is_listed():
    outcome = check([["XX", ""]])
    assert len(outcome.rejected[0]["reasons"]) >= 2


def test_mapping_errors():
    s = spec(has_payment=True, has_due_date=True, max_payment_amount=0)
    errors = mapping_errors(
        headers=HEADERS, mapping={"nome": "Assente", "attachment": "Nota"}, spec=s
    )
    assert errors["fiscal_code"] == "Indica la colonna con il codice fiscale dei destinatari."
    assert errors["nome"] == "La colonna «Assente» non è nel file."
    assert errors["amount"] == "Il servizio scelto non è abilitato ai pagamenti."
    assert "notice_number" in errors and "due_date" in errors
    assert errors["attachment"] == "Gli allegati sono disponibili solo per i messaggi Premium."


def test_guess_mapping():
    guess = guess_mapping(
        ["Codice Fiscale", "NOME", "Importo"], ["fiscal_code", "nome", "amount"], has_payment=True
    )
    assert guess == {"fiscal_code": "Codice Fiscale", "nome": "NOME", "amount": "Importo"}


def test_guess_mapping_matches_the_labels_of_the_mapping_page_and_their_synonyms():
    # The headers a Premium IMU list carries, named like the fields on the mapping page.
    headers = [
        "Codice fiscale",
        "Nome",
        "Importo",
        "Codice avviso pagoPA",
        "Nome del file allegato",
    ]
    targets = ["fiscal_code", "nome", "amount", "notice_number", "attachment"]
    placeholders = [{"name": "nome", "type": "text"}]
    guess = guess_mapping(headers, targets, placeholders=placeholders, has_payment=True)
    assert guess == {
        "fiscal_code": "Codice fiscale",
        "nome": "Nome",
        "amount": "Importo",
        "notice_number": "Codice avviso pagoPA",
        "attachment": "Nome del file allegato",
    }
    # Case, accents, spaces and punctuation do not matter; the other labels match too.
    other = guess_mapping(
        [
            "CODICE FISCALE DEL DESTINATARIO",
            "Data di scadenza",
            "Importo in euro",
            "numero avviso",
            "Codice fiscale dell'ente creditore",
            "Avviso non pagabile dopo la scadenza",
        ],
        [
            "fiscal_code",
            "due_date",
            "amount",
            "notice_number",
            "payee_fiscal_code",
            "invalid_after_due_date",
        ],
        has_payment=True,
        has_due_date=True,
    )
    assert set(other) == {
        "fiscal_code",
        "due_date",
        "amount",
        "notice_number",
        "payee_fiscal_code",
        "invalid_after_due_date",
    }
    assert guess_mapping(["Città"], ["citta"]) == {"citta": "Città"}
    # A template without payment or due date gets neither from columns named like them.
    assert guess_mapping(
        ["Codice fiscale", "Numero avviso", "Importo", "Scadenza", "CF ente"],
        ["fiscal_code", "due_date", "amount", "notice_number", "payee_fiscal_code"],
    ) == {"fiscal_code": "Codice fiscale"}
    # The IUV is not the notice number: never guessed as it.
    assert guess_mapping(["IUV"], ["notice_number"]) == {}


# --- numbers, dates and identifiers as the person sees them -------------------------------

VALID_NOTICE = "302001234567890136"  # 3020012345678901 mod 93 = 36
OTHER_NOTICE = "302001234567890237"


def test_amounts_follow_the_chosen_number_format():
    rows = [pay_row("1.500", VALID_NOTICE), pay_row("1,000.00", OTHER_NOTICE)]
    rows[1][0] = OTHER
    italian = check(rows, mapping=PAY, has_payment=True)
    assert [row["amount"] for row in italian.valid] == [150000]
    assert reasons(italian)[0].startswith("Non è un importo in euro: è scritto nel formato")
    assert italian.warnings[0].startswith("Riga 3: numeri scritti nel formato inglese")
    english = validated(
        headers=HEADERS,
        rows=rows,
        mapping=PAY,
        spec=spec(has_payment=True),
        now=NOW,
        number_format="en",
    )
    assert [row["amount"] for row in english.valid] == [150, 100000]


def test_service_maximum_in_euro():
    outcome = check([pay_row("12.345")], mapping=PAY, has_payment=True, max_payment_amount=500_000)
    assert (
        "L'importo (12.345,00 €) supera il massimo consentito per questo servizio (5.000,00 €)."
        in reasons(outcome)
    )


def test_same_notice_number_on_two_rows():
    second = pay_row(notice="3020 0123 4567 8901 36")
    second[0] = OTHER
    outcome = check([pay_row(notice=VALID_NOTICE), second], mapping=PAY, has_payment=True)
    assert len(outcome.valid) == 1
    assert outcome.rejected[0]["line"] == 3
    assert reasons(outcome) == [
        "Codice avviso già presente alla riga 2: ogni avviso va a un solo destinatario."
    ]


def test_wrong_check_digits_are_flagged_not_hidden():
    outcome = check([pay_row(notice=VALID_NOTICE[:-2] + "99")], mapping=PAY, has_payment=True)
    assert len(outcome.valid) == 1
    assert outcome.warnings and outcome.warnings[0].startswith("Riga 2: il codice avviso")
    clean = check([pay_row(notice=VALID_NOTICE)], mapping=PAY, has_payment=True)
    assert clean.warnings == []


def test_invisible_characters_in_identifiers():
    row = pay_row(notice="\u200b" + VALID_NOTICE + "\u00a0")
    row[0] = "RSSMRA85T10\u00adA562S\ufeff"
    row[6] = "80001230582\u200b"
    mapping = {**PAY, "payee_fiscal_code": "Nota"}
    outcome = check([row], mapping=mapping, has_payment=True)
    assert not outcome.rejected
    valid = outcome.valid[0]
    assert valid["fiscal_code"] == GOOD and valid["notice_number"] == VALID_NOTICE
    assert valid["payee_fiscal_code"] == "80001230582"


STORED_AS_NUMBER = "salvato come numero: formatta la colonna come testo"


def test_identifiers_from_number_cells_that_lost_digits():
    placeholders = [
        {"name": "nome", "type": "text", "required": True, "pattern": ""},
        {"name": "pratica", "type": "text", "required": True, "pattern": ""},
    ]
    headers = ["CF", "Nome", "Importo", "Avviso", "Scadenza", "Pratica"]
    mapping = {**PAY, "pratica": "Pratica"}
    rows = [
        [GOOD, "Anna", "12,5", "302001234567890000", "31/12/2030", "1234567890123450000"],
        [OTHER, "Bruno", "80", VALID_NOTICE, "31/12/2030", "00123"],
    ]
    outcome = validated(
        headers=headers,
        rows=rows,
        mapping=mapping,
        spec=spec(placeholders=placeholders, has_payment=True),
        now=NOW,
        number_cells=[[2, 3, 5], [2]],
        date_system=1900,
    )
    found = reasons(outcome)
    assert any(r.startswith(f"Il numero avviso è {STORED_AS_NUMBER}") for r in found)
    # The column "Pratica" is named next to the reason, which does not name it again.
    assert any(r.startswith(f"Il valore è {STORED_AS_NUMBER}") for r in found)
    assert not any("«pratica»" in r for r in found)
    assert [row["line"] for row in outcome.valid] == [3]
    assert outcome.valid[0]["variables"]["pratica"] == "00123"  # a text cell: as typed


def test_notice_number_in_a_number_cell_that_lost_its_leading_zero():
    row = pay_row(notice="12345678901234567")
    outcome = validated(
        headers=HEADERS,
        rows=[row],
        mapping=PAY,
        spec=spec(has_payment=True),
        now=NOW,
        number_cells=[[3]],
        date_system=1900,
    )
    assert any(f"Il numero avviso è {STORED_AS_NUMBER}" in r for r in reasons(outcome))
    assert not any("18 cifre" in r for r in reasons(outcome))


def test_payee_and_fiscal_code_in_number_cells():
    row = pay_row(notice=VALID_NOTICE)
    row[6] = "1230582"  # 00001230582 without its zeros
    mapping = {**PAY, "payee_fiscal_code": "Nota"}
    outcome = validated(
        headers=HEADERS,
        rows=[row, [OTHER, "Bruno"]],
        mapping=mapping,
        spec=spec(),
        now=NOW,
        number_cells=[[6], [0]],
        date_system=1900,
    )
    found = reasons(outcome)
    assert f"Il codice fiscale dell'ente creditore è {STORED_AS_NUMBER}" in found[0]
    assert f"Il codice fiscale è {STORED_AS_NUMBER}" in found[1]


def test_serial_numbers_in_date_columns():
    placeholders = [
        {"name": "nome", "type": "text", "required": True, "pattern": ""},
        {"name": "giorno", "type": "date", "required": True, "pattern": ""},
    ]
    mapping = {**MAPPING, "due_date": "Scadenza", "giorno": "Codice"}
    rows = [[GOOD, "Anna", "", "", "47664", "47665", ""]]
    options = dict(
        headers=HEADERS, rows=rows, mapping=mapping, spec=spec(placeholders=placeholders), now=NOW
    )
    excel = validated(**options, number_cells=[[4, 5]], date_system=1900)
    assert excel.valid[0]["due_date"].startswith("2030-06-30T23:59:59")
    assert excel.valid[0]["variables"]["giorno"] == "01/07/2030"
    assert any("«Scadenza»" in w and "47664 è il 30/06/2030" in w for w in excel.warnings)
    mac = validated(**options, number_cells=[[4, 5]], date_system=1904)
    assert mac.valid[0]["due_date"].startswith("2034-07-01")
    # The same digits typed as text, or in a CSV: a number, not a date.
    as_text = validated(**options)
    assert any(r.startswith("Contiene un numero, non una data") for r in reasons(as_text))
    assert any(r.startswith("«giorno» contiene un numero, non una data") for r in reasons(as_text))


@pytest.mark.parametrize(
    ("kind", "value", "refused"),
    [
        ("notice_number", "000001234567890123", False),  # cell format 000…0: digits intact
        ("notice_number", "1234567890123", True),  # leading zeros gone
        ("notice_number", "302001234567890000", True),  # more than 15 digits
        ("fiscal_code", "12345678901", True),
        ("text", "123456789012345", False),
        ("text", "1234567890123456", True),
        ("integer", "1234567890123", False),
    ],
)
def test_placeholders_from_number_cells(kind, value, refused):
    placeholders = [
        {"name": "nome", "type": "text", "required": True, "pattern": ""},
        {"name": "valore", "type": kind, "required": True, "pattern": ""},
    ]
    outcome = validated(
        headers=HEADERS,
        rows=[[GOOD, "Anna", "", "", "", "", value]],
        mapping={**MAPPING, "valore": "Nota"},
        spec=spec(placeholders=placeholders),
        now=NOW,
        number_cells=[[6]],
        date_system=1900,
    )
    stored = any(r.startswith(f"«valore» è {STORED_AS_NUMBER}") for r in reasons(outcome))
    assert stored is refused
    if not refused:
        assert outcome.valid[0]["variables"]["valore"] == value


def problems(outcome):
    return [problem for row in outcome.rejected for problem in row["problems"]]


def test_each_reason_comes_with_the_value_as_typed_and_fiscal_codes_masked():
    placeholders = [
        {"name": "nome", "type": "text", "required": True, "pattern": ""},
        {"name": "figlio", "type": "fiscal_code", "required": True, "pattern": ""},
    ]
    outcome = check(
        [[GOOD[:-1] + "A", "Anna", "", "", "", "", "vrdgpp75c15f205x"]],
        mapping={**MAPPING, "figlio": "Nota"},
        placeholders=placeholders,
    )
    found = problems(outcome)
    assert [(p["column"], p["value"]) for p in found] == [
        ("Nota", "vrd************x"),
        ("CF", "RSS************A"),
    ]
    assert found[0]["reason"] == "«figlio» non è un codice fiscale valido."
    assert "carattere di controllo" in found[1]["reason"]
    assert GOOD[3:15] not in str(outcome.rejected[0]["problems"])


def test_amount_errors_are_in_euro():
    outcome = check([pay_row("2000,00")], mapping=PAY, has_payment=True, max_payment_amount=100_000)
    assert problems(outcome) == [
        {
            "column": "Importo",
            "value": "2000,00",
            "reason": "L'importo (2.000,00 €) supera il massimo consentito per questo servizio "
            "(1.000,00 €).",
        }
    ]


def test_each_cell_is_reported_once_per_row():
    placeholders = [
        {"name": "nome", "type": "text", "required": True, "pattern": ""},
        {"name": "importo", "type": "euro", "required": True, "pattern": ""},
        {"name": "avviso", "type": "notice_number", "required": True, "pattern": ""},
    ]
    mapping = {**PAY, "importo": "Importo", "avviso": "Avviso"}
    outcome = check(
        [pay_row("dieci", "12345")], mapping=mapping, placeholders=placeholders, has_payment=True
    )
    columns = [p["column"] for p in problems(outcome)]
    assert sorted(columns) == ["Avviso", "Importo"]
    assert [p["value"] for p in problems(outcome)] == ["dieci", "12345"]


def test_a_repeated_date_or_amount_is_read_once_and_judged_alike():
    # Each notice goes to one citizen: the two rows share the amount and the date only.
    outcome = check(
        [pay_row("12,50"), [OTHER, "Bruno", "12,50", VALID_NOTICE, "31/12/2030", "", ""]],
        mapping=PAY,
        has_payment=True,
    )
    assert [row["amount"] for row in outcome.valid] == [1250, 1250]
    bad = check(
        [
            pay_row(due="31/02/2030"),
            [OTHER, "Bruno", *pay_row(notice=VALID_NOTICE, due="31/02/2030")[2:]],
        ],
        mapping=PAY,
        has_payment=True,
    )
    assert [len(row["problems"]) for row in bad.rejected] == [1, 1]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (pay_row(amount="settanta"), "Importo «settanta»: Non è un importo in euro"),
        (pay_row(amount="99999999999999999999,00"), "Importo «99999999999999999999,00»: "),
        (pay_row(due="domani"), "Scadenza «domani»: Non è una data valida"),
    ],
)
def test_a_value_s_problem_names_its_column_once(row, expected):
    texts = [problem_text(p) for p in problems(check([row], mapping=PAY))]
    assert len(texts) == 1 and texts[0].startswith(expected)
    assert texts[0].count("Importo") + texts[0].count("Scadenza") == 1
    assert "Data di scadenza:" not in texts[0]


SCIENTIFIC = "è scritto in notazione scientifica: Excel lo ha salvato come numero"


@pytest.mark.parametrize("written", ["1,23457E+17", "1.23457E+17", "3,02E+17"])
def test_csv_values_excel_wrote_in_scientific_notation_say_excel_changed_them(written):
    placeholders = [
        {"name": "nome", "type": "text", "required": True, "pattern": ""},
        {"name": "pratica", "type": "text", "required": True, "pattern": ""},
        {"name": "avviso", "type": "notice_number", "required": True, "pattern": ""},
        {"name": "rata", "type": "euro", "required": True, "pattern": ""},
    ]
    headers = ["CF", "Nome", "Importo", "Avviso", "Scadenza", "Pratica", "Ente", "Av2", "Rata"]
    mapping = {
        **PAY,
        "pratica": "Pratica",
        "avviso": "Av2",
        "rata": "Rata",
        "payee_fiscal_code": "Ente",
    }
    row = [written, "Anna", written, written, "31/12/2030", written, "8,00012E+10"]
    rows = [[*row, written, written]]
    outcome = validated(
        headers=headers,
        rows=rows,
        mapping=mapping,
        spec=spec(placeholders=placeholders, has_payment=True),
        now=NOW,
    )
    found = reasons(outcome)
    for what in (
        "Il codice fiscale",
        "Il numero avviso",
        "L'importo",
        "«pratica»",
        "«avviso»",
        "«rata»",
        "Il codice fiscale dell'ente creditore",
    ):
        assert f"{what} {SCIENTIFIC}" in " | ".join(found), what
    assert all("esporta di nuovo il file" in r for r in found if SCIENTIFIC in r)
    # Neither the generic reasons nor a second reason for the same cells.
    assert not any("deve avere 18 cifre" in r or "formato italiano" in r for r in found)
    assert not any("codice fiscale non è valido" in r.lower() for r in found)
    problems = outcome.rejected[0]["problems"]
    assert f"«{written}»" in problem_text(next(p for p in problems if p["column"] == "Avviso"))


def test_scientific_notation_in_a_short_text_is_kept_as_typed():
    placeholders = [{"name": "nome", "type": "text", "required": True, "pattern": ""}]
    outcome = check([[GOOD, "1,5E+03"]], placeholders=placeholders)
    assert not outcome.rejected and outcome.valid[0]["variables"]["nome"] == "1,5E+03"


def test_warnings_name_only_rows_that_will_be_sent():
    """A notice number whose check digits fail, or a date stored as a number, is a warning
    about a row that will be sent: a row already rejected for another reason (here its
    fiscal code) is not named again among the rows to verify."""
    # 3020001000000094 mod 93 = 24: "…25" fails the check, "…26" too.
    sent = [GOOD, "Anna", "12,50", "302000100000009425", "47664", "", ""]
    rejected = [GOOD[:-1] + "A", "Bruno", "12,50", "302000100000009426", "47665", "", ""]

    def warnings(rows):
        return validate_rows(
            headers=HEADERS,
            rows=rows,
            mapping=PAY,
            spec=spec(has_payment=True),
            now=NOW,
            number_cells=[[4]] * len(rows),
            date_system=1900,
        ).warnings

    found = [reason_text(w) for w in warnings([sent, rejected])]
    assert len(found) == 2
    assert found[0].startswith("Riga 2: il codice avviso non supera il controllo")
    assert "contiene 1 data salvata come numero" in found[1] and "riga 2: 47664 è il" in found[1]
    assert warnings([rejected]) == []


@pytest.mark.parametrize(
    ("reader", "warning", "reason"),
    [
        ("it", "Righe 2, 3: il codice avviso", "Codice fiscale già presente alla riga 2."),
        ("en", "Rows 2, 3: the notice number", "Fiscal code already present in row 2."),
    ],
)
def test_reasons_and_warnings_are_stored_untranslated(reader, warning, reason):
    """The check runs in one language, its reasons and warnings are read in another."""
    second = pay_row(notice=OTHER_NOTICE[:-2] + "98")
    second[0] = OTHER
    rows = [pay_row(notice=VALID_NOTICE[:-2] + "99"), second, pay_row(notice=VALID_NOTICE)]
    with translation.override("en" if reader == "it" else "it"):
        outcome = validate_rows(
            headers=HEADERS, rows=rows, mapping=PAY, spec=spec(has_payment=True), now=NOW
        )
    with translation.override(reader):
        warnings = [reason_text(w) for w in outcome.warnings]
        reasons = [reason_text(r) for row in outcome.rejected for r in row["reasons"]]
    assert warnings[0].startswith(warning)
    assert reasons == [reason]


def test_many_warned_lines_say_how_many_more_in_the_readers_language():
    # Twelve citizens: a warning names only rows that will be sent, never a repeated code.
    rows = [pay_row(notice=f"3020012345678{number:03d}99") for number in range(12)]
    for row, code in zip(rows, fiscal_codes(12), strict=True):
        row[0] = code
    outcome = validate_rows(
        headers=HEADERS, rows=rows, mapping=PAY, spec=spec(has_payment=True), now=NOW
    )
    with translation.override("en"):
        text = reason_text(outcome.warnings[0])
    assert text.startswith("Rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more: the notice")


def test_the_other_format_warning_names_the_button_as_the_english_page_shows_it():
    rows = [pay_row("1,000.00", OTHER_NOTICE)]
    outcome = validate_rows(
        headers=HEADERS, rows=rows, mapping=PAY, spec=spec(has_payment=True), now=NOW
    )
    with translation.override("en"):
        text = reason_text(outcome.warnings[0])
    assert text.startswith("Row 2: numbers written in the English format")
    assert "press “Read the numbers in the English format”" in text
    assert "Leggi" not in text
