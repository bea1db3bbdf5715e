"""Unreadable cells over HTTP: the page of the check and the rejected rows' CSV name the
column and the cell, never echo a value too long, and a column the message does not use
rejects no row; what the file said survives a change of number convention."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from ioportal.recipients.models import RecipientList
from tests import builders
from tests.recipients.support import shown_rejected

CF1, CF2, CF3 = "RSSMRA85T10A562S", "VRDGPP75C15F205S", "BNCLCU90D45L219H"
HUGE = "Z" * 50_000
TOO_LONG = "La cella B2 supera 10.000 caratteri: accorcia il testo nel file e caricalo di nuovo."


@pytest.fixture
def template(organization, operator_user):
    return builders.template(organization, operator_user)


def _file(kind):
    rows = [
        ["codice_fiscale", "nome", "importo", "nota"],
        [CF1, HUGE, "10", ""],
        [CF2, "Bruno", "20", "=1+1" if kind == "xlsx" else "#NOME?"],
        [CF3, "Carla", "30", "x" * 10_001],
    ]
    if kind == "csv":
        return "\n".join(";".join(row) for row in rows).encode()
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)  # openpyxl saves no result for the formula
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_cell_too_long_is_named_by_column_and_cell_on_the_page_and_in_the_csv(
    client, login, operator_user, template, service, kind
):
    login(operator_user)
    uploaded = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": service.pk,
            "file": SimpleUploadedFile(f"elenco.{kind}", _file(kind)),
        },
    )
    assert uploaded.status_code == 302, uploaded.content.decode()[:2000]
    recipient_list = RecipientList.objects.latest("created_at")
    mapping = {"fiscal_code": "codice_fiscale", "nome": "nome", "importo": "importo"}
    checked = client.post(
        reverse("messaging:list_mapping", args=[recipient_list.public_id]),
        {f"map_{target}": column for target, column in mapping.items()},
    )
    assert checked.status_code == 302
    page = client.get(checked.url).content.decode()
    assert f"<td>nome (B2)</td><td>{TOO_LONG}</td>" in page
    assert HUGE not in page
    # The column «nota» is not used by the message: its cells reject no row.
    recipient_list.refresh_from_db()
    assert (recipient_list.valid_count, recipient_list.rejected_count) == (2, 1)
    assert "2 celle non sono leggibili (D3 («nota»), D4 («nota»)" in page
    csv_text = client.get(
        reverse("messaging:list_rejected_csv", args=[recipient_list.public_id])
    ).content.decode()
    assert f'"2";"nome (B2): {TOO_LONG}"' in csv_text
    # The other number convention checks the list again with the same cells' reasons.
    client.post(
        reverse("messaging:list_number_format", args=[recipient_list.public_id]),
        {"number_format": "en"},
    )
    recipient_list.refresh_from_db()
    (rejected,) = shown_rejected(recipient_list)
    assert rejected["problems"][0] == {"column": "nome (B2)", "value": "", "reason": TOO_LONG}
