"""A workbook that needs a choice (rows hidden by a filter, several sheets) is read again once
the operator answers: the mapping page then names everything the reading found in the chosen
sheet (hidden columns, repeated and look-alike column names), and nothing of another sheet."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from ioportal.recipients.models import RecipientList
from tests import builders

PENDING_RE = re.compile(r'name="pending_file" value="([0-9a-f-]{36})"')
WARNING_RE = re.compile(r'<div class="alert alert-warning">(.*?)</div>', re.S)
HEADERS = ["codice_fiscale", "nome", "vecchio_cf", "Nome", "nome"]
ROWS = [
    ["RSSMRA80A01H501U", "Mario", "X", "a", "q"],
    ["VRDLGU75B12F205X", "Luigi", "Y", "b", "q"],
    ["BNCGPP90C03L219L", "Giuseppe", "Z", "c", "q"],
]
HIDDEN_C = "La colonna C («vecchio_cf») è nascosta in Excel: è stata letta come le altre."
REPEATED = "La colonna «nome» compare 2 volte (colonne B ed E)"
LOOK_ALIKE = "Le colonne «nome» (colonne B ed E) e «Nome» (colonna D) hanno nomi"


@pytest.fixture
def operator(client, login, operator_user):
    login(operator_user)
    return operator_user


@pytest.fixture
def template(organization, operator):
    return builders.template(
        organization,
        operator,
        markdown="Gentile cittadino,\n\nnome: {{ nome }}\n\nIl Comune ti ricorda la scadenza.",
        placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
    )


def _recipients_sheet(sheet):
    sheet.append(HEADERS)
    for row in ROWS:
        sheet.append(row)
    sheet.column_dimensions["C"].hidden = True


def _saved(workbook):
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _filtered_workbook():
    workbook = Workbook()
    sheet = workbook.active
    _recipients_sheet(sheet)
    sheet.auto_filter.ref = "A1:E4"
    sheet.row_dimensions[3].hidden = True  # Luigi, hidden by the filter
    return _saved(workbook)


def _second_sheet_workbook(filtered=False):
    workbook = Workbook()
    instructions = workbook.active
    instructions.title = "Istruzioni"
    instructions.append(["Compila il foglio Destinatari", "nota", "Codice fiscale"])
    instructions.append(["una riga per cittadino", "", ""])
    instructions.column_dimensions["B"].hidden = True  # not the chosen sheet's
    sheet = workbook.create_sheet("Destinatari")
    _recipients_sheet(sheet)
    if filtered:
        sheet.row_dimensions[3].hidden = True
    return _saved(workbook)


def _post(client, template, service, **fields):
    return client.post(
        reverse("messaging:compose"), {"template": template.pk, "service": service.pk, **fields}
    )


def _upload(client, template, service, data):
    asked = _post(client, template, service, file=SimpleUploadedFile("elenco.xlsx", data))
    assert asked.status_code == 200
    found = PENDING_RE.search(asked.content.decode())
    assert found, asked.content.decode()[:3000]
    return found.group(1)


def _mapping_warnings(client):
    recipient_list = RecipientList.objects.get()
    page = client.get(
        reverse("messaging:list_mapping", kwargs={"public_id": recipient_list.public_id})
    )
    assert page.status_code == 200
    found = WARNING_RE.findall(page.content.decode())
    return [" ".join(warning.split()).replace("&#x27;", "'") for warning in found]


def _has(warnings, start):
    return sum(1 for warning in warnings if warning.startswith(start)) == 1


@pytest.mark.parametrize("hidden_rows", ["exclude", "include"])
def test_hidden_columns_are_named_after_the_hidden_rows_choice(
    client, operator, service, template, hidden_rows
):
    pending = _upload(client, template, service, _filtered_workbook())
    done = _post(client, template, service, pending_file=pending, hidden_rows=hidden_rows)
    assert done.status_code == 302, done.content.decode()[:3000]
    warnings = _mapping_warnings(client)
    assert _has(warnings, HIDDEN_C), warnings
    assert _has(warnings, REPEATED) and _has(warnings, LOOK_ALIKE), warnings
    verb = "non è stata letta" if hidden_rows == "exclude" else "è stata letta"
    assert f"La riga nascosta del foglio (riga 3) {verb}, come hai scelto." in warnings
    assert RecipientList.objects.get().row_count == (2 if hidden_rows == "exclude" else 3)


def test_hidden_columns_of_the_chosen_sheet_are_named_after_the_sheet_choice(
    client, operator, service, template
):
    pending = _upload(client, template, service, _second_sheet_workbook())
    done = _post(client, template, service, pending_file=pending, sheet="Destinatari")
    assert done.status_code == 302, done.content.decode()[:3000]
    warnings = _mapping_warnings(client)
    assert "È stato letto il foglio «Destinatari»." in warnings
    assert _has(warnings, HIDDEN_C) and _has(warnings, REPEATED), warnings
    assert _has(warnings, LOOK_ALIKE), warnings
    # Column B is hidden on the instructions sheet only.
    assert not any("colonna B (" in warning or "La colonna B" in warning for warning in warnings)
    assert RecipientList.objects.get().row_count == 3


def test_two_choices_in_a_row_keep_every_warning_of_the_chosen_sheet(
    client, operator, service, template
):
    pending = _upload(client, template, service, _second_sheet_workbook(filtered=True))
    asked = _post(client, template, service, pending_file=pending, sheet="Destinatari")
    assert asked.status_code == 200
    pending = PENDING_RE.search(asked.content.decode()).group(1)
    done = _post(
        client, template, service, pending_file=pending, sheet="Destinatari", hidden_rows="exclude"
    )
    assert done.status_code == 302, done.content.decode()[:3000]
    warnings = _mapping_warnings(client)
    assert "È stato letto il foglio «Destinatari»." in warnings
    assert "La riga nascosta del foglio (riga 3) non è stata letta, come hai scelto." in warnings
    assert _has(warnings, HIDDEN_C) and _has(warnings, REPEATED), warnings
    assert _has(warnings, LOOK_ALIKE), warnings
    assert RecipientList.objects.get().row_count == 2
