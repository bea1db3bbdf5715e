"""The number format is chosen again on the list, without a new upload: text cells are read
with the new convention, XLSX Number cells keep their value."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from ioportal.recipients.models import RecipientList
from tests import builders

ENGLISH_CSV = (
    b"Codice fiscale;Nome;Importo\n"
    b"RSSMRA85T10A562S;Anna;1,500.00\n"
    b"VRDGPP75C15F205S;Bruno;12.5\n"
    b"BNCLCU90D45L219H;Carla;30\n"
)


@pytest.fixture
def operator(client, login, operator_user):
    login(operator_user)
    return operator_user


def _upload(client, template, service, name, data):
    response = client.post(
        reverse("messaging:compose"),
        {"template": template.pk, "service": service.pk, "file": SimpleUploadedFile(name, data)},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    recipient_list = RecipientList.objects.get()
    mapping = {"map_fiscal_code": "Codice fiscale", "map_nome": "Nome", "map_importo": "Importo"}
    url = reverse("messaging:list_mapping", args=[recipient_list.public_id])
    assert client.post(url, mapping).status_code == 302
    recipient_list.refresh_from_db()
    return recipient_list


def _switch(client, recipient_list, code):
    url = reverse("messaging:list_number_format", args=[recipient_list.public_id])
    return client.post(url, {"number_format": code})


def test_english_numbers_rejected_then_read_after_choosing_english(
    client, operator, organization, service
):
    template = builders.template(organization, operator)
    recipient_list = _upload(client, template, service, "elenco.csv", ENGLISH_CSV)
    assert (recipient_list.valid_count, recipient_list.rejected_count) == (1, 2)
    page = client.get(reverse("messaging:list_result", args=[recipient_list.public_id]))
    assert "Leggi i numeri nel formato inglese (1,234.56)" in page.content.decode()

    response = _switch(client, recipient_list, "en")
    assert response.status_code == 302
    assert response.url == reverse("messaging:list_result", args=[recipient_list.public_id])
    recipient_list.refresh_from_db()
    assert recipient_list.number_format == "en"
    assert (recipient_list.valid_count, recipient_list.rejected_count) == (3, 0)
    values = [row["variables"]["importo"] for row in recipient_list.get_valid()]
    assert values == ["1.500,00", "12,50", "30,00"]
    # And back: the Italian reading refuses them again, nothing guessed.
    _switch(client, recipient_list, "it")
    recipient_list.refresh_from_db()
    assert (recipient_list.valid_count, recipient_list.rejected_count) == (1, 2)


def test_xlsx_number_cells_keep_their_value_in_either_format(
    client, operator, organization, service
):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Codice fiscale", "Nome", "Importo"])
    sheet.append(["RSSMRA85T10A562S", "Anna", 12.5])  # a Number cell
    sheet.append(["VRDGPP75C15F205S", "Bruno", "1.500,00"])  # text, Italian
    buffer = io.BytesIO()
    workbook.save(buffer)
    template = builders.template(organization, operator)
    recipient_list = _upload(client, template, service, "elenco.xlsx", buffer.getvalue())
    assert [r["variables"]["importo"] for r in recipient_list.get_valid()] == ["12,50", "1.500,00"]

    _switch(client, recipient_list, "en")
    recipient_list.refresh_from_db()
    assert recipient_list.get_rows()[0][0][2] == "12.5"  # as the reader writes it in English
    assert [r["variables"]["importo"] for r in recipient_list.get_valid()] == ["12,50"]
    assert recipient_list.rejected_count == 1  # "1.500,00" is not an English number


def test_before_the_check_the_choice_returns_to_the_mapping(
    client, operator, organization, service
):
    template = builders.template(organization, operator)
    response = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": service.pk,
            "file": SimpleUploadedFile("elenco.csv", ENGLISH_CSV),
        },
    )
    recipient_list = RecipientList.objects.get()
    mapping_url = reverse("messaging:list_mapping", args=[recipient_list.public_id])
    assert response.url == mapping_url
    assert "Leggi i numeri nel formato inglese" in client.get(mapping_url).content.decode()
    answer = _switch(client, recipient_list, "en")
    assert answer.url == mapping_url
    recipient_list.refresh_from_db()
    assert recipient_list.number_format == "en"
    assert recipient_list.state == RecipientList.State.UPLOADED


@pytest.mark.parametrize("code", ["", "fr", "it' OR 1=1"])
def test_an_unknown_format_changes_nothing(client, operator, organization, service, code):
    template = builders.template(organization, operator)
    recipient_list = _upload(client, template, service, "elenco.csv", ENGLISH_CSV)
    response = _switch(client, recipient_list, code)
    assert response.status_code == 302
    recipient_list.refresh_from_db()
    assert recipient_list.number_format == "it"


def test_another_operators_list_is_out_of_reach(client, login, operator, organization, service):
    from ioportal.accounts.models import Membership

    template = builders.template(organization, operator)
    recipient_list = _upload(client, template, service, "elenco.csv", ENGLISH_CSV)
    login(builders.user(Membership.Role.OPERATOR, organization, username="altro"))
    assert _switch(client, recipient_list, "en").status_code == 403
    recipient_list.refresh_from_db()
    assert recipient_list.number_format == "it"


def test_only_post(client, operator, organization, service):
    template = builders.template(organization, operator)
    recipient_list = _upload(client, template, service, "elenco.csv", ENGLISH_CSV)
    url = reverse("messaging:list_number_format", args=[recipient_list.public_id])
    assert client.get(url).status_code == 405


def test_the_result_page_button_offers_the_other_format(client, operator, organization, service):
    template = builders.template(organization, operator)
    recipient_list = _upload(client, template, service, "elenco.csv", ENGLISH_CSV)
    page = client.get(reverse("messaging:list_result", args=[recipient_list.public_id]))
    html = page.content.decode()
    assert '<input type="hidden" name="number_format" value="en">' in html
    assert "Leggi i numeri nel formato inglese (1,234.56)</button>" in html


@pytest.mark.django_db(transaction=True)
def test_the_switch_checks_the_rows_outside_the_transaction_that_stores_them(
    client, operator, organization, service
):
    # On SQLite a transaction holds the database's write lock from its start.
    from unittest import mock

    from django.db import connection

    from ioportal.messaging import lists

    template = builders.template(organization, operator)
    recipient_list = _upload(client, template, service, "elenco.csv", ENGLISH_CSV)
    in_transaction = []
    validate_rows = lists.validate_rows

    def checking(**kwargs):
        in_transaction.append(connection.in_atomic_block)
        return validate_rows(**kwargs)

    with mock.patch.object(lists, "validate_rows", side_effect=checking):
        assert _switch(client, recipient_list, "en").status_code == 302
    assert in_transaction == [False]
    recipient_list.refresh_from_db()
    assert recipient_list.number_format == "en"
    assert (recipient_list.valid_count, recipient_list.rejected_count) == (3, 0)
