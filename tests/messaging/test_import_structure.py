"""The structure of real office files through the web flow (upload -> mapping -> check): the
declared sheet size, hidden rows, several sheets, repeated headers, separators, line breaks
in cells. Each value is read as the spreadsheet shows it, or the file is refused or the
operator asked; never guessed silently."""

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from ioportal.recipients.models import RecipientList
from tests import builders
from tests.recipients.support import shown_rejected

CASES = Path(__file__).resolve().parent.parent / "cases" / "import"
TEXT = "text"


def _placeholders(*names):
    return [{"name": n, "type": TEXT, "required": True, "pattern": ""} for n in names]


def _template(organization, author, *names, **overrides):
    markdown = "Gentile cittadino,\n\n" + "\n\n".join(f"{n}: {{{{ {n} }}}}" for n in names)
    markdown += "\n\nIl Comune ti ricorda di controllare i dati indicati sopra, grazie."
    return builders.template(
        organization, author, markdown=markdown, placeholders=_placeholders(*names), **overrides
    )


def _upload(client, template, service, name, **choices):
    upload = SimpleUploadedFile(name, (CASES / name).read_bytes())
    data = {"template": template.pk, "service": service.pk, "file": upload, **choices}
    return client.post(reverse("messaging:compose"), data)


def _check(client, response, mapping):
    """Follow the upload's redirect to the mapping, post `mapping`, return the list."""
    assert response.status_code == 302, response.content.decode()[:3000]
    recipient_list = RecipientList.objects.get()
    page = client.get(response.url)
    assert page.status_code == 200
    url = reverse("messaging:list_mapping", args=[recipient_list.public_id])
    answer = client.post(url, {f"map_{target}": column for target, column in mapping.items()})
    assert answer.status_code == 302, answer.content.decode()[:3000]
    recipient_list.refresh_from_db()
    return recipient_list


def _rejected_csv(client, recipient_list):
    url = reverse("messaging:list_rejected_csv", args=[recipient_list.public_id])
    body = client.get(url).content.decode().removeprefix("\ufeff")
    return list(csv.DictReader(io.StringIO(body), delimiter=recipient_list.delimiter or ";"))


@pytest.fixture
def operator(client, login, operator_user):
    login(operator_user)
    return operator_user


def test_declared_size_a1_reads_all_five_rows(client, operator, organization, service):
    template = _template(organization, operator, "nominativo")
    response = _upload(client, template, service, "xlsx_declared_size_A1.xlsx")
    recipient_list = _check(
        client,
        response,
        {"fiscal_code": "codice_fiscale", "nominativo": "nominativo"},
    )
    assert recipient_list.row_count == 5
    assert recipient_list.valid_count == 5
    fiscal_codes = [row["fiscal_code"] for row in recipient_list.get_valid()]
    assert fiscal_codes == [
        "RSSMRA80A01H501U",
        "BNCLCU90D45L219H",
        "VRDGPP75C15F205S",
        "FRRLRA00B69L219T",
        "RSSMRA8LA01H501F",
    ]
    assert [row["line"] for row in recipient_list.get_valid()] == [2, 3, 4, 5, 6]


def test_filtered_rows_are_asked_about_then_excluded_or_included(
    client, operator, organization, service
):
    template = _template(organization, operator, "nominativo")
    response = _upload(client, template, service, "xlsx_filtered_rows.xlsx")
    page = response.content.decode()
    assert response.status_code == 200
    assert "2 righe nascoste (righe 3, 5)" in page
    assert 'name="hidden_rows" value="exclude"' in page
    assert 'name="hidden_rows" value="include"' in page
    assert not RecipientList.objects.exists()

    mapping = {"fiscal_code": "codice_fiscale", "nominativo": "nominativo"}
    excluded = _check(
        client,
        _upload(client, template, service, "xlsx_filtered_rows.xlsx", hidden_rows="exclude"),
        mapping,
    )
    assert [row["line"] for row in excluded.get_valid()] == [2, 4, 6]
    assert "BNCLCU90D45L219H" not in {row["fiscal_code"] for row in excluded.get_valid()}
    assert any("non sono state lette" in w for w in excluded.file_warnings_text)

    excluded.delete()
    included = _check(
        client,
        _upload(client, template, service, "xlsx_filtered_rows.xlsx", hidden_rows="include"),
        mapping,
    )
    assert [row["line"] for row in included.get_valid()] == [2, 3, 4, 5, 6]
    assert any("sono state lette" in w for w in included.file_warnings_text)


def test_several_sheets_the_operator_picks_one_by_name(client, operator, organization, service):
    template = _template(organization, operator, "nome")
    response = _upload(client, template, service, "data_on_second_sheet.xlsx")
    page = response.content.decode()
    assert response.status_code == 200
    assert "scegli quello con i destinatari" in page
    # The file is kept for the choice: nothing tells the operator to upload it again.
    assert "carica di nuovo il file" not in page
    assert "premi «Carica e prosegui»" in page
    assert '<option value="Istruzioni">Istruzioni</option>' in page
    assert '<option value="Destinatari">Destinatari</option>' in page
    assert not RecipientList.objects.exists()

    recipient_list = _check(
        client,
        _upload(client, template, service, "data_on_second_sheet.xlsx", sheet="Destinatari"),
        {"fiscal_code": "codice_fiscale", "nome": "nome"},
    )
    assert recipient_list.headers[:2] == ["codice_fiscale", "nome"]
    assert [row["fiscal_code"] for row in recipient_list.get_valid()] == ["FNTMRC80A01H501Y"]
    assert recipient_list.rejected_count == 0


def test_instructions_sheet_chosen_by_mistake_gives_no_recipient(
    client, operator, organization, service
):
    template = _template(organization, operator, "nome")
    response = _upload(client, template, service, "data_on_second_sheet.xlsx", sheet="Istruzioni")
    assert response.status_code == 200
    assert "non contiene righe di dati" in response.content.decode()
    assert not RecipientList.objects.exists()


def test_repeated_header_is_offered_with_its_column_letters(
    client, operator, organization, service
):
    template = _template(organization, operator, "alunno")
    response = _upload(client, template, service, "duplicate_header_names.csv")
    assert response.status_code == 302
    mapping_page = client.get(response.url)
    page = mapping_page.content.decode()
    assert "compare 2 volte (colonne A ed E)" in page
    assert "codice_fiscale (colonna A)" in page and "codice_fiscale (colonna E)" in page
    # Neither column is picked for the operator.
    assert mapping_page.context["form"].fields["map_fiscal_code"].initial == ""

    RecipientList.objects.all().delete()
    recipient_list = _check(
        client,
        _upload(client, template, service, "duplicate_header_names.csv"),
        {"fiscal_code": "codice_fiscale (colonna E)", "alunno": "alunno"},
    )
    valid = recipient_list.get_valid()
    assert [row["fiscal_code"] for row in valid] == ["RSSMRA80A01H501U", "BNCLCU90D45L219H"]
    assert [row["variables"]["alunno"] for row in valid] == ["Laura Ferri", "Marco Rossi"]


def test_semicolon_file_with_quotes_and_commas_in_text(client, operator, organization, service):
    template = _template(organization, operator, "causale")
    recipient_list = _check(
        client,
        _upload(client, template, service, "semicolon_with_quotes_in_text.csv"),
        {"fiscal_code": "codice_fiscale", "causale": "causale"},
    )
    assert recipient_list.delimiter == ";"
    assert [row["variables"]["causale"] for row in recipient_list.get_valid()] == [
        "Tributi 'TARI', 'TEFA'",
        "Tributi 'TARI', 'TEFA'",
    ]


def test_a_wrong_separator_chosen_by_the_operator_is_refused(
    client, operator, organization, service
):
    template = _template(organization, operator, "causale")
    response = _upload(
        client, template, service, "semicolon_with_quotes_in_text.csv", delimiter=","
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Con il separatore virgola (,) l&#x27;intestazione è una sola colonna" in page
    assert "scegli un altro separatore" in page
    assert not RecipientList.objects.exists()


def test_line_breaks_in_cells_keep_the_spreadsheet_row_numbers(
    client, operator, organization, service
):
    template = _template(organization, operator, "nome", "indirizzo")
    recipient_list = _check(
        client,
        _upload(client, template, service, "line_break_inside_a_cell.csv"),
        {"fiscal_code": "codice_fiscale", "nome": "nome", "indirizzo": "indirizzo"},
    )
    valid = recipient_list.get_valid()
    assert [(row["line"], row["variables"]["indirizzo"]) for row in valid] == [
        (2, "Via Roma 1\nScala B")
    ]
    rejected = shown_rejected(recipient_list)
    assert [row["line"] for row in rejected] == [3]
    result = client.get(reverse("messaging:list_result", args=[recipient_list.public_id]))
    assert '<th scope="row" rowspan="1">3</th>' in result.content.decode()
    exported = _rejected_csv(client, recipient_list)
    assert [(row["codice_fiscale"], row["riga"]) for row in exported] == [("FNTMRC80A01H501A", "3")]


def test_payment_columns_guessed_from_the_template_placeholders(client, operator, organization):
    service = builders.service(
        organization, payments_enabled=True, max_allowed_payment_amount=100000
    )
    template = builders.template(
        organization,
        operator,
        has_payment=True,
        has_due_date=True,
        placeholders=[
            {"name": "nome", "type": "text", "required": True, "pattern": ""},
            {"name": "importo", "type": "euro", "required": True, "pattern": ""},
            {"name": "numero_avviso", "type": "notice_number", "required": True, "pattern": ""},
            {"name": "scadenza", "type": "date", "required": True, "pattern": ""},
        ],
    )
    response = _upload(client, template, service, "line_break_inside_a_cell.csv")
    assert response.status_code == 302
    fields = client.get(response.url).context["form"].fields
    assert fields["map_importo"].initial == "importo"
    assert fields["map_amount"].initial == "importo"
    assert fields["map_notice_number"].initial == "numero_avviso"
    assert fields["map_due_date"].initial == "scadenza"
    assert fields["map_fiscal_code"].initial == "codice_fiscale"


def _post_bytes(client, template, service, name, data, **choices):
    upload = SimpleUploadedFile(name, data)
    body = {"template": template.pk, "service": service.pk, "file": upload, **choices}
    return client.post(reverse("messaging:compose"), body)


def test_a_row_with_shifted_columns_is_rejected_with_its_reason(
    client, operator, organization, service
):
    template = _template(organization, operator, "nome")
    data = (
        b"cf;nome;nota\r\n"
        b"RSSMRA85T10A562S;Anna;a\r\n"
        b"VRDGPP75C15F205S;Bruno;Rossi;b\r\n"  # an unquoted ";" inside the name
        b"BNCLCU90D45L219H;Carla;c\r\n"
    )
    response = _post_bytes(client, template, service, "elenco.csv", data)
    recipient_list = _check(client, response, {"fiscal_code": "cf", "nome": "nome"})
    assert [row["line"] for row in recipient_list.get_valid()] == [2, 4]
    rejected = shown_rejected(recipient_list)
    assert [row["line"] for row in rejected] == [3]
    assert "4 colonne invece delle 3" in rejected[0]["reasons"][0]
    with translation.override("en"):  # uploaded in Italian, read in English
        (english,) = shown_rejected(recipient_list)
    assert "With the semicolon (;) separator the row has 4 columns" in english["reasons"][0]
    exported = _rejected_csv(client, recipient_list)
    assert exported[0]["riga"] == "3" and "4 colonne" in exported[0]["motivo"]


def test_an_unclosed_quote_refuses_the_file_naming_its_row(client, operator, organization, service):
    template = _template(organization, operator, "nome")
    data = (
        b"cf;nome;nota\r\n"
        b'RSSMRA85T10A562S;"Anna;a\r\n'
        b"VRDGPP75C15F205S;Bruno;b\r\n"
        b"BNCLCU90D45L219H;Carla;c\r\n"
    )
    response = _post_bytes(client, template, service, "elenco.csv", data)
    assert response.status_code == 200
    assert "Alla riga 2 una virgoletta" in response.content.decode()
    assert not RecipientList.objects.exists()


def test_separator_choice_offered_when_none_fits(client, operator, organization, service):
    template = _template(organization, operator, "nome")
    data = b"cf;nome\r\nRSSMRA85T10A562S,Anna\r\n"
    response = _post_bytes(client, template, service, "elenco.csv", data)
    page = response.content.decode()
    assert "Non è chiaro quale carattere separi le colonne" in page
    assert '<option value="|">barra verticale (|)</option>' in page


def test_excel_errors_and_merged_cells_reject_their_rows_through_the_web_flow(
    client, operator, organization, service
):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["codice_fiscale", "nome"])
    sheet.append(["RSSMRA80A01H501U", "Anna"])
    sheet.append(["BNCLCU90D45L219H", "#N/A"])  # an error cell: Italian Excel shows #N/D
    sheet.append(["VRDGPP75C15F205S", "Bruno"])
    sheet.append(["FRRLRA00B69L219T", None])  # B4:B5 merged: Excel shows "Bruno" here too
    sheet.append(["RSSMRA8LA01H501F", "Carla"])
    sheet.merge_cells("B4:B5")
    buffer = io.BytesIO()
    workbook.save(buffer)
    template = _template(organization, operator, "nome")
    response = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": service.pk,
            "file": SimpleUploadedFile("elenco.xlsx", buffer.getvalue()),
        },
    )
    recipient_list = _check(client, response, {"fiscal_code": "codice_fiscale", "nome": "nome"})
    assert [row["line"] for row in recipient_list.get_valid()] == [2, 6]
    rejected = {row["riga"]: row["motivo"] for row in _rejected_csv(client, recipient_list)}
    assert list(rejected) == ["3", "4", "5"]
    assert "La cella B3 contiene l'errore di Excel «#N/D»" in rejected["3"]
    assert "celle unite (B4:B5)" in rejected["4"] and "celle unite (B4:B5)" in rejected["5"]
    page = client.get(reverse("messaging:list_result", args=[recipient_list.public_id]))
    assert "«#N/D»" in page.content.decode()


def test_the_rejected_rows_file_is_named_in_the_user_language(client, operator, organization):
    template = builders.template(organization, operator)
    recipient_list = builders.recipient_list(template, builders.service(organization), operator)
    url = reverse("messaging:list_rejected_csv", args=[recipient_list.public_id])
    italian = client.get(url)
    assert italian["Content-Disposition"] == 'attachment; filename="righe-scartate.csv"'
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert english["Content-Disposition"] == 'attachment; filename="rejected-rows.csv"'
