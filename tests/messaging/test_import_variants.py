"""Variants of the real-world files of tests/cases/import through the upload view (upload ->
mapping -> check -> result page and rejected-rows CSV): generated files of the same classes,
each read as the spreadsheet shows it, or refused, or the operator asked."""

import html
import io
import re

import pytest
from django.urls import reverse
from openpyxl import Workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from ioportal.recipients.models import RecipientList
from tests import builders
from tests.messaging.test_import_structure import _check, _post_bytes, _rejected_csv, _template
from tests.recipients.support import shown_rejected
from tests.xlsx_parts import rewrite_part

CF1, CF2, CF3 = "RSSMRA85T10A562S", "VRDGPP75C15F205S", "BNCLCU90D45L219H"


@pytest.fixture
def operator(client, login, operator_user):
    login(operator_user)
    return operator_user


def _xlsx(rows, epoch=None):
    workbook = Workbook()
    if epoch is not None:
        workbook.epoch = epoch
    for row in rows:
        workbook.active.append(row)
    return workbook


def _bytes(workbook):
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("inside", ["\n", "\r\n", "\r"])
def test_a_rejected_row_after_multi_line_cells_has_its_spreadsheet_number_everywhere(
    client, operator, organization, service, newline, inside
):
    template = _template(organization, operator, "indirizzo")
    text = newline.join(
        [
            "codice_fiscale;indirizzo",
            f'{CF1};"Via Roma 1{inside}Scala B{inside}Interno 4"',
            f'RSSMRA85T10A562X;"Via Po 2{inside}Piano 3"',
            f"{CF3};Via Dante 3",
            "",
        ]
    )
    recipient_list = _check(
        client,
        _post_bytes(client, template, service, "elenco.csv", text.encode()),
        {"fiscal_code": "codice_fiscale", "indirizzo": "indirizzo"},
    )
    assert [row["line"] for row in recipient_list.get_valid()] == [2, 4]
    assert [row["line"] for row in shown_rejected(recipient_list)] == [3]
    result = client.get(reverse("messaging:list_result", args=[recipient_list.public_id]))
    assert '<th scope="row" rowspan="1">3</th>' in result.content.decode()
    exported = _rejected_csv(client, recipient_list)
    # Given back as typed, to be corrected and uploaded again.
    assert [(row["riga"], row["indirizzo"]) for row in exported] == [
        ("3", f"Via Po 2{inside}Piano 3")
    ]


def test_rows_hidden_without_a_filter_are_asked_about(client, operator, organization, service):
    template = _template(organization, operator, "nome")
    workbook = _xlsx([["codice_fiscale", "nome"], [CF1, "Anna"], [CF2, "Bruno"], [CF3, "Carla"]])
    workbook.active.row_dimensions[3].hidden = True
    data = _bytes(workbook)
    response = _post_bytes(client, template, service, "elenco.xlsx", data)
    assert response.status_code == 200
    assert "ha una riga nascosta (riga 3)" in html.unescape(response.content.decode())
    assert not RecipientList.objects.exists()
    recipient_list = _check(
        client,
        _post_bytes(client, template, service, "elenco.xlsx", data, hidden_rows="exclude"),
        {"fiscal_code": "codice_fiscale", "nome": "nome"},
    )
    assert [row["line"] for row in recipient_list.get_valid()] == [2, 4]


def test_a_hidden_column_is_named_on_the_mapping_page(client, operator, organization, service):
    template = _template(organization, operator, "nome")
    workbook = _xlsx([["codice_fiscale", "nome", "codice_fiscale_vecchio"], [CF1, "Anna", CF2]])
    workbook.active.column_dimensions["C"].hidden = True
    response = _post_bytes(client, template, service, "elenco.xlsx", _bytes(workbook))
    assert response.status_code == 302
    page = html.unescape(client.get(response.url).content.decode())
    assert "La colonna C («codice_fiscale_vecchio») è nascosta in Excel" in page


def test_look_alike_column_names_are_told_apart_on_the_mapping_page(
    client, operator, organization, service
):
    template = _template(organization, operator, "nome")
    data = (
        "codice_fiscale;nome;codice_fiscale\u200b;Codice Fiscale\n"
        f"{CF1};Anna;{CF2};{CF3}\n".encode()
    )
    response = _post_bytes(client, template, service, "elenco.csv", data)
    assert response.status_code == 302
    mapping_page = client.get(response.url)
    page = html.unescape(mapping_page.content.decode())
    assert "La colonna «codice_fiscale» compare 2 volte (colonne A e C)" in page
    assert "«Codice Fiscale» (colonna D) hanno nomi che differiscono solo" in page
    # None of the three is picked for the operator.
    assert mapping_page.context["form"].fields["map_fiscal_code"].initial == ""
    RecipientList.objects.all().delete()
    recipient_list = _check(
        client,
        _post_bytes(client, template, service, "elenco.csv", data),
        {"fiscal_code": "codice_fiscale (colonna C)", "nome": "nome"},
    )
    assert [row["fiscal_code"] for row in recipient_list.get_valid()] == [CF2]


@pytest.mark.parametrize(
    ("epoch", "shown"), [(None, "30/06/2030"), (CALENDAR_MAC_1904, "01/07/2034")]
)
def test_a_serial_date_in_a_general_cell_over_http(
    client, operator, organization, service, epoch, shown
):
    template = builders.template(
        organization,
        operator,
        markdown="Gentile cittadino, la sua pratica scade il {{ scadenza }}. " * 2,
        placeholders=[{"name": "scadenza", "type": "date", "required": True, "pattern": ""}],
    )
    workbook = _xlsx([["codice_fiscale", "scadenza"], [CF1, 47664], [CF2, 47664.25]], epoch)
    recipient_list = _check(
        client,
        _post_bytes(client, template, service, "elenco.xlsx", _bytes(workbook)),
        {"fiscal_code": "codice_fiscale", "scadenza": "scadenza"},
    )
    assert [row["variables"]["scadenza"] for row in recipient_list.get_valid()] == [shown]
    (rejected,) = shown_rejected(recipient_list)
    assert f"contiene una data con un'ora ({shown} alle 06:00)" in rejected["reasons"][0].lower()


def test_invisible_characters_in_a_payment_row_over_http(client, operator, organization):
    service = builders.service(
        organization, payments_enabled=True, max_allowed_payment_amount=1_000_000
    )
    template = builders.template(
        organization,
        operator,
        markdown="Gentile cittadino, la TARI 2026 è di {{ importo }} euro, da pagare entro il "
        "{{ giorno }} con l'avviso pagoPA.",
        placeholders=[
            {"name": "importo", "type": "euro", "required": True, "pattern": ""},
            {"name": "giorno", "type": "date", "required": True, "pattern": ""},
        ],
        has_payment=True,
        has_due_date=True,
    )
    data = (
        "codice_fiscale;importo;codice_avviso;scadenza\n"
        f"\u2060{CF1}\u200d;1\u202f500,00\u200c;3020\u00ad01234567890136;31/12/2027\u2060\n"
        f"{CF2}\u00a0;\ufeff12,50;\u200b302001234567890144;\u200b31/12/2027\n"
    ).encode()
    recipient_list = _check(
        client,
        _post_bytes(client, template, service, "elenco.csv", data),
        {
            "fiscal_code": "codice_fiscale",
            "importo": "importo",
            "amount": "importo",
            "notice_number": "codice_avviso",
            "due_date": "scadenza",
            "giorno": "scadenza",
        },
    )
    assert shown_rejected(recipient_list) == []
    valid = recipient_list.get_valid()
    assert [(row["fiscal_code"], row["amount"], row["notice_number"]) for row in valid] == [
        (CF1, 150000, "302001234567890136"),
        (CF2, 1250, "302001234567890144"),
    ]
    assert [row["variables"]["giorno"] for row in valid] == ["31/12/2027"] * 2


def test_a_filtered_and_declared_a1_workbook_over_http(client, operator, organization, service):
    """Two classes at once: the declared size says "A1" and a filter hides a row."""
    template = _template(organization, operator, "nome")
    workbook = _xlsx([["codice_fiscale", "nome"], [CF1, "Anna"], [CF2, "Bruno"], [CF3, "Carla"]])
    workbook.active.auto_filter.ref = "A1:B4"
    workbook.active.row_dimensions[4].hidden = True
    data = rewrite_part(
        _bytes(workbook),
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1"', xml),
    )
    recipient_list = _check(
        client,
        _post_bytes(client, template, service, "elenco.xlsx", data, hidden_rows="include"),
        {"fiscal_code": "codice_fiscale", "nome": "nome"},
    )
    assert [row["line"] for row in recipient_list.get_valid()] == [2, 3, 4]
