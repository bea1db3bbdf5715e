"""Real office files through the upload flow: every value read as the person sees it in the
file, or its row (or the file) refused with a reason. Files: tests/cases/import/."""

import io
from datetime import datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from ioportal.recipients.models import RecipientChunk, RecipientList
from tests import builders
from tests.conftest import send_single
from tests.recipients.support import shown_rejected

CASES = Path(__file__).resolve().parent.parent / "cases" / "import"
MARKDOWN = (
    "Gentile contribuente,\n\nla TARI 2026 è di **{{ importo }} euro**. Può pagarla con "
    "l'avviso pagoPA direttamente dall'app IO."
)
IMPORTO = {"name": "importo", "type": "euro", "required": True, "pattern": ""}


@pytest.fixture
def payments_service(organization):
    # 10.000,00 € per notice.
    return builders.service(
        organization, payments_enabled=True, max_allowed_payment_amount=1_000_000
    )


@pytest.fixture
def payment_template(organization, operator_user, payments_service):
    return builders.template(
        organization,
        operator_user,
        markdown=MARKDOWN,
        placeholders=[IMPORTO],
        has_payment=True,
    )


def upload(client, template, service, name, data=None, **fields):
    data = (CASES / name).read_bytes() if data is None else data
    response = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": service.pk,
            "file": SimpleUploadedFile(name, data),
            **fields,
        },
    )
    return response


def map_and_check(client, response, mapping):
    assert response.status_code == 302, response.content.decode()[:2000]
    recipient_list = RecipientList.objects.latest("created_at")
    checked = client.post(
        reverse("messaging:list_mapping", args=[recipient_list.public_id]),
        {f"map_{target}": column for target, column in mapping.items()},
    )
    assert checked.status_code == 302
    page = client.get(checked.url)
    assert page.status_code == 200
    recipient_list.refresh_from_db()
    return recipient_list, page.content.decode()


AMOUNTS_MAPPING = {
    "fiscal_code": "codice_fiscale",
    "importo": "importo",
    "amount": "importo",
    "notice_number": "codice_avviso",
}


def test_amounts_written_the_italian_way(
    client, login, operator_user, payment_template, payments_service
):
    login(operator_user)
    response = upload(client, payment_template, payments_service, "amounts_thousands_separator.csv")
    recipient_list, page = map_and_check(client, response, AMOUNTS_MAPPING)
    assert recipient_list.number_format == "it"
    valid = recipient_list.get_valid()
    assert [(row["line"], row["amount"]) for row in valid] == [
        (2, 150000),
        (3, 123456),
        (4, 200000),
    ]
    assert [row["variables"]["importo"] for row in valid] == ["1.500,00", "1.234,56", "2.000,00"]
    rejected = {row["line"]: " ".join(row["reasons"]) for row in shown_rejected(recipient_list)}
    assert set(rejected) == {5, 6}
    assert "è scritto nel formato inglese" in rejected[5]
    # 12.345 is twelve thousand euro, then judged against the service's maximum, in euro.
    assert "L'importo (12.345,00 €) supera il massimo consentito" in rejected[6]
    assert "(10.000,00 €)" in rejected[6] and "centesimi" not in rejected[6]
    assert "è scritto nel formato inglese" in page
    assert "Riga 5: numeri scritti nel formato inglese" in page
    assert recipient_list.total_amount == 150000 + 123456 + 200000


def test_amounts_with_the_english_convention_chosen(
    client, login, operator_user, payment_template, payments_service
):
    login(operator_user)
    response = upload(
        client,
        payment_template,
        payments_service,
        "amounts_thousands_separator.csv",
        number_format="en",
    )
    recipient_list, page = map_and_check(client, response, AMOUNTS_MAPPING)
    assert recipient_list.number_format == "en"
    assert [(row["line"], row["amount"]) for row in recipient_list.get_valid()] == [
        (2, 150),
        (4, 200),
        (5, 100000),
    ]
    rejected = {row["line"]: " ".join(row["reasons"]) for row in shown_rejected(recipient_list)}
    assert "è scritto nel formato italiano" in rejected[3]
    assert "più di due decimali" in rejected[6]
    assert (
        "Numeri del file letti nel formato: Inglese"
        in client.get(
            reverse("messaging:list_mapping", args=[recipient_list.public_id])
        ).content.decode()
    )


def test_unknown_number_format_is_refused(
    client, login, operator_user, payment_template, payments_service
):
    login(operator_user)
    response = upload(
        client,
        payment_template,
        payments_service,
        "amounts_thousands_separator.csv",
        number_format="fr",
    )
    assert response.status_code == 200
    assert not RecipientList.objects.exists()


def test_wrong_check_digits_are_shown_to_the_operator(
    client, login, operator_user, payment_template, payments_service
):
    login(operator_user)
    response = upload(client, payment_template, payments_service, "amounts_thousands_separator.csv")
    _list, page = map_and_check(client, response, AMOUNTS_MAPPING)
    assert 'id="check-warnings"' in page
    # Rows 5 and 6 are rejected (amount format, service maximum): not named again here.
    assert "Righe 2, 3, 4: il codice avviso non supera il controllo" in page


def test_notice_numbers_in_number_cells(
    client, login, operator_user, payment_template, payments_service
):
    login(operator_user)
    response = upload(
        client, payment_template, payments_service, "notice_numbers_in_number_cells.xlsx"
    )
    recipient_list, page = map_and_check(client, response, AMOUNTS_MAPPING)
    assert recipient_list.valid_count == 0
    for row in shown_rejected(recipient_list):
        assert any(
            reason.startswith(
                "Il numero avviso è salvato come numero: formatta la colonna come testo"
            )
            for reason in row["reasons"]
        )
    assert "salvato come numero" in page
    assert "302001234567890000" not in page


def test_date_as_serial_number(client, login, operator_user, organization, payments_service):
    template = builders.template(
        organization,
        operator_user,
        markdown="Gentile {{ nome }}, " + MARKDOWN,
        placeholders=[
            {"name": "nome", "type": "text", "required": True, "pattern": ""},
            IMPORTO,
            {"name": "scadenza", "type": "date", "required": True, "pattern": ""},
        ],
        has_payment=True,
        has_due_date=True,
    )
    login(operator_user)
    response = upload(client, template, payments_service, "date_as_serial_number.xlsx")
    recipient_list, page = map_and_check(
        client,
        response,
        {
            "fiscal_code": "codice_fiscale",
            "nome": "nome",
            "importo": "importo",
            "amount": "importo",
            "notice_number": "numero_avviso",
            "due_date": "scadenza",
            "scadenza": "scadenza",
        },
    )
    (row,) = recipient_list.get_valid()
    assert row["variables"]["scadenza"] == "30/06/2030"
    # 47664 in the workbook's 1900 date system is 30 June 2030, due at the end of that day.
    assert row["due_date"] == "2030-06-30T23:59:59+02:00"
    assert row["amount"] == 1000 and row["notice_number"] == "301000000000000017"
    assert "La colonna «scadenza» contiene 1 data salvata come numero" in page
    assert "47664 è il 30/06/2030" in page


def test_invisible_characters_in_fiscal_codes(client, login, operator_user, organization, service):
    template = builders.template(
        organization, operator_user, markdown=MARKDOWN, placeholders=[IMPORTO]
    )
    login(operator_user)
    response = upload(client, template, service, "invisible_characters_in_fiscal_codes.csv")
    recipient_list, _page = map_and_check(
        client, response, {"fiscal_code": "codice_fiscale", "importo": "importo"}
    )
    assert recipient_list.rejected_count == 0
    assert [row["fiscal_code"] for row in recipient_list.get_valid()] == [
        "RSSMRA80A01H501U",
        "BNCLCU90D45L219H",
        "VRDGPP75C15F205S",
        "FRRLRA00B69L219T",
    ]


@pytest.mark.django_db(transaction=True)
def test_nul_after_the_first_64_kib_refuses_the_file(
    client, login, operator_user, organization, service
):
    """Run on PostgreSQL too (DATABASE_URL): it cannot store NUL, the launch used to fail."""
    template = builders.template(
        organization, operator_user, markdown=MARKDOWN, placeholders=[IMPORTO]
    )
    line = b"RSSMRA80A01H501U;10,00\n"
    data = b"codice_fiscale;importo\n" + line * 4000 + b"BNCLCU90D45L219H;1\x000,00\n"
    assert len(data) > 64 * 1024
    login(operator_user)
    response = upload(client, template, service, "elenco.csv", data=data)
    assert response.status_code == 200
    assert "carattere NUL" in response.content.decode()
    assert not RecipientList.objects.exists()


def test_single_message_amount_uses_the_same_reader(
    client, login, operator_user, payments_service, woken
):
    from ioportal.messaging.models import Delivery

    login(operator_user)
    message = {
        "service": payments_service.pk,
        "feature_level": "standard",
        "fiscal_code": "RSSMRA85T10A562S",
        "subject": "Avviso di pagamento",
        "markdown": "Il Comune le ricorda il pagamento della rata, con l'avviso pagoPA. " * 2,
        "notice_number": "302001234567890136",
        "launch_token": "6b3c1b52-0d7c-4f2e-9a53-1f8f0c1f5e11",
    }
    refused = client.post(reverse("messaging:single"), {**message, "amount": "1,000.00"})
    assert refused.status_code == 200
    assert "è scritto nel formato inglese" in refused.content.decode()
    accepted = send_single(client, {**message, "amount": "1.500"})
    assert accepted.status_code == 302
    assert Delivery.objects.get().payment_amount == 150000


def test_number_cells_stay_with_their_rows_when_structure_problems_are_set_aside(
    client, login, operator_user, payment_template, payments_service
):
    """Row 2 has an unreadable cell (a formula without its result), row 3 hidden and excluded: the
    notice number of row 5, typed into a Number cell, is still known to be one."""
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["codice_fiscale", "importo", "codice_avviso", "nota"])
    sheet.append(["RSSMRA85T10A562S", 10.5, "=1+1", "x"])
    sheet.append(["VRDGPP75C15F205S", 11, 302001234567890144, "nascosta"])
    sheet.append(["BNCLCU90D45L219H", "12,50", "302001234567890152", ""])
    sheet.append(["RSSMRA80A01H501U", 13, 302001234567890160.0, ""])
    sheet.row_dimensions[3].hidden = True
    buffer = io.BytesIO()
    workbook.save(buffer)  # openpyxl saves no result for the formula
    login(operator_user)
    response = upload(
        client,
        payment_template,
        payments_service,
        "elenco.xlsx",
        data=buffer.getvalue(),
        hidden_rows="exclude",
    )
    recipient_list, _page = map_and_check(client, response, AMOUNTS_MAPPING)
    assert [row["line"] for row in recipient_list.get_valid()] == [4]
    rejected = {row["line"]: " ".join(row["reasons"]) for row in shown_rejected(recipient_list)}
    assert set(rejected) == {2, 5}
    assert "La cella C2 contiene una formula" in rejected[2]
    assert "Il numero avviso è salvato come numero" in rejected[5]


def test_preview_shows_cells_as_excel_shows_them_and_the_check_reads_them_as_before(
    client, login, operator_user, payment_template, payments_service
):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["codice_fiscale", "importo", "codice_avviso", "scadenza", "pratica"])
    sheet.append(["RSSMRA85T10A562S", 1234.5, 302000100000012000, datetime(2027, 1, 15), "P-1"])
    sheet.append(["VRDGPP75C15F205S", 12.345, "302000100000011023", "05/12/2026", 42])
    sheet["B2"].number_format = sheet["B3"].number_format = "#,##0.00"
    sheet["C2"].number_format = "0.00E+00"
    sheet["D2"].number_format = "yyyy-mm-dd"
    sheet["E3"].number_format = "000000"
    buffer = io.BytesIO()
    workbook.save(buffer)
    login(operator_user)
    response = upload(
        client, payment_template, payments_service, "scadenze.xlsx", buffer.getvalue()
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    recipient_list = RecipientList.objects.get()
    page = client.get(response.url).content.decode()
    preview = page[page.index("Prime righe del file") :]
    for shown in ("1.234,50", "3,02E+17", "15/01/2027", "12,35", "000042", "05/12/2026"):
        assert f"<td>{shown}</td>" in preview, shown
    for raw in ("302000100000012000", "2027-01-15", "1234,5"):
        assert raw not in preview, raw
    # What the check reads is unchanged: the cells as read, not as shown.
    rows, _lines = recipient_list.get_rows()
    assert rows[0][1:4] == ["1234,50", "302000100000012000,00", "2027-01-15"]
    assert rows[1][1] == "12,345" and rows[1][4] == "000042"
    # The number convention switched: the preview still shows what Excel shows.
    client.post(
        reverse("messaging:list_number_format", args=[recipient_list.public_id]),
        {"number_format": "en"},
    )
    recipient_list = RecipientList.objects.get()
    assert recipient_list.number_format == "en"
    assert recipient_list.get_rows()[0][0][1] == "1234.50"
    page = client.get(response.url).content.decode()
    assert "<td>1.234,50</td>" in page and "<td>3,02E+17</td>" in page
    assert len(recipient_list.items(RecipientChunk.Kind.ROWS, 0, 3)[0]) == 5


def test_a_percentage_cell_and_a_formula_row_are_rejected_naming_their_cell(
    client, login, operator_user, payment_template, payments_service
):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["codice_fiscale", "importo", "codice_avviso", "nota"])
    sheet.append(["RSSMRA85T10A562S", 10.5, "=1+1", "x"])
    sheet.append(["VRDGPP75C15F205S", 0.1, "302001234567890144", ""])
    sheet.append(["BNCLCU90D45L219H", 1234.5, "302001234567890152", ""])
    sheet["B3"].number_format = "0.00%"
    sheet["B4"].number_format = '#,##0.00 "€"'
    buffer = io.BytesIO()
    workbook.save(buffer)  # openpyxl saves no result for the formula
    login(operator_user)
    response = upload(client, payment_template, payments_service, "elenco.xlsx", buffer.getvalue())
    mapping_page = client.get(response.url).content.decode()
    preview = mapping_page[mapping_page.index("Prime righe del file") :]
    assert "<td>10,00%</td>" in preview and "<td>1.234,50 €</td>" in preview
    recipient_list, page = map_and_check(client, response, AMOUNTS_MAPPING)
    assert [row["line"] for row in recipient_list.get_valid()] == [4]
    rejected = {row["line"]: row["problems"] for row in shown_rejected(recipient_list)}
    # The formula's row names its column and cell.
    assert rejected[2][0]["column"] == "codice_avviso (C2)"
    assert "La cella C2 contiene una formula" in rejected[2][0]["reason"]
    assert "codice_avviso (C2)" in page
    # A percentage is a number, but not an amount in euro: said so.
    reasons = " ".join(problem["reason"] for problem in rejected[3])
    assert "È una percentuale (10,00%), non un importo." in reasons
    assert "non è un numero nel formato italiano" not in reasons


def test_an_image_renamed_csv_is_refused_as_an_image(
    client, login, operator_user, organization, service
):
    template = builders.template(
        organization, operator_user, markdown=MARKDOWN, placeholders=[IMPORTO]
    )
    login(operator_user)
    data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 4
    response = upload(client, template, service, "foto.csv", data=data)
    assert response.status_code == 200
    assert "Il file è un&#x27;immagine JPEG, non un elenco" in response.content.decode()
    assert not RecipientList.objects.exists()


def test_the_confirmation_sample_shows_its_payment_box(
    client, login, operator_user, payment_template, payments_service
):
    """A message with a payment: the sample on the confirmation page shows the payment box
    of its row, as the preview does, so a text speaking of "the button below" finds it."""
    login(operator_user)
    response = upload(client, payment_template, payments_service, "amounts_thousands_separator.csv")
    recipient_list, _page = map_and_check(client, response, AMOUNTS_MAPPING)
    page = client.get(reverse("messaging:list_confirm", args=[recipient_list.public_id]))
    text = page.content.decode()
    assert 'class="io-phone-payment"' in text
    assert "1.500,00 €" in text.split('class="io-phone-payment"')[1]
