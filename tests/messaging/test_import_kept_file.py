"""A file that needs a choice (sheet, hidden rows, separator) is kept, sealed, so that the
choice re-reads it without selecting it again; only its author in its organization reaches
it, and it is gone once read, refused or expired."""

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from ioportal.accounts.models import Membership
from ioportal.recipients.models import PendingUpload, RecipientList
from ioportal.recipients.sealing import unseal_bytes
from ioportal.recipients.services import recipient_lists_purge_expired
from tests import builders

CASES = Path(__file__).resolve().parent.parent / "cases" / "import"
PENDING_RE = re.compile(r'name="pending_file" value="([0-9a-f-]{36})"')


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


def _post(client, template, service, name=None, data=None, **fields):
    payload = {"template": template.pk, "service": service.pk, **fields}
    if name:
        payload["file"] = SimpleUploadedFile(name, data or (CASES / name).read_bytes())
    return client.post(reverse("messaging:compose"), payload)


def _pending_id(response):
    found = PENDING_RE.search(response.content.decode())
    assert found, response.content.decode()[:3000]
    return found.group(1)


def test_a_sheet_choice_reads_the_kept_file_without_a_new_upload(
    client, operator, organization, service, template
):
    data = (CASES / "data_on_second_sheet.xlsx").read_bytes()
    asked = _post(client, template, service, "data_on_second_sheet.xlsx")
    assert asked.status_code == 200
    pending_id = _pending_id(asked)
    page = asked.content.decode()
    assert "«data_on_second_sheet.xlsx» è già caricato" in page
    # A question about the file, not an upload error.
    assert (
        "Serve una scelta sul file: la domanda è qui sotto, al campo «Foglio con i destinatari»."
        in page
    )
    # Said once, under the field where the choice is made.
    assert page.count("Il file ha più fogli") == 1
    assert "scegli quello con i destinatari" in page
    assert "Il file non è stato caricato" not in page
    kept = PendingUpload.objects.get()
    assert str(kept.public_id) == pending_id
    assert kept.created_by == operator and kept.organization == organization
    assert kept.size == len(data)
    assert data not in kept.sealed.encode() and b"FNTMRC80A01H501Y" not in kept.sealed.encode()
    assert unseal_bytes(kept.sealed) == data  # nothing changed while kept
    assert timedelta(minutes=50) < kept.expires_at - timezone.now() <= timedelta(hours=1)

    done = _post(client, template, service, pending_file=pending_id, sheet="Destinatari")
    assert done.status_code == 302, done.content.decode()[:3000]
    recipient_list = RecipientList.objects.get()
    assert recipient_list.file_name == "data_on_second_sheet.xlsx"
    assert recipient_list.headers[:2] == ["codice_fiscale", "nome"]
    assert not PendingUpload.objects.exists()  # deleted after use


def test_two_choices_in_a_row_keep_the_same_file(client, operator, service, template):
    # Hidden rows asked first; the same kept file answers the second question too.
    asked = _post(client, template, service, "xlsx_filtered_rows.xlsx")
    pending_id = _pending_id(asked)
    done = _post(client, template, service, pending_file=pending_id, hidden_rows="exclude")
    assert done.status_code == 302
    assert RecipientList.objects.get().row_count == 3
    assert not PendingUpload.objects.exists()


def test_a_separator_choice_reads_the_kept_csv(client, operator, service, template):
    data = b"codice_fiscale|nome\nRSSMRA80A01H501U|Anna\n"
    asked = _post(client, template, service, "elenco.csv", data, delimiter=";")
    assert asked.status_code == 200
    pending_id = _pending_id(asked)
    done = _post(client, template, service, pending_file=pending_id, delimiter="|")
    assert done.status_code == 302, done.content.decode()[:3000]
    assert RecipientList.objects.get().headers == ["codice_fiscale", "nome"]


def test_a_new_file_replaces_the_kept_one(client, operator, service, template):
    pending_id = _pending_id(_post(client, template, service, "data_on_second_sheet.xlsx"))
    replaced = _post(client, template, service, "xlsx_filtered_rows.xlsx", pending_file=pending_id)
    new_id = _pending_id(replaced)
    assert new_id != pending_id
    assert list(PendingUpload.objects.values_list("file_name", flat=True)) == [
        "xlsx_filtered_rows.xlsx"
    ]


def _two_sheets(other_header):
    workbook = Workbook()
    workbook.active.title = "Destinatari"
    workbook.active.append(["codice_fiscale", "nome"])
    workbook.active.append(["RSSMRA85T10A562S", "Anna"])
    other = workbook.create_sheet("Vecchio")
    other.append(other_header)
    other.append(["VRDGPP75C15F205S", "Bruno"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_refused_file_is_not_kept(client, operator, service, template):
    data = _two_sheets(["codice_fiscale", "#N/A"])  # an error in the header refuses the sheet
    pending_id = _pending_id(_post(client, template, service, "elenco.xlsx", data))
    refused = _post(client, template, service, pending_file=pending_id, sheet="Vecchio")
    assert refused.status_code == 200
    assert "L&#x27;intestazione ha un errore di Excel" in refused.content.decode()
    assert "Il file non è stato caricato: correggi i campi indicati." in refused.content.decode()
    assert not PendingUpload.objects.exists()


def test_a_sheet_without_data_offers_the_file_s_other_sheets(client, operator, service, template):
    pending_id = _pending_id(_post(client, template, service, "data_on_second_sheet.xlsx"))
    asked = _post(client, template, service, pending_file=pending_id, sheet="Istruzioni")
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "Il foglio «Istruzioni» non contiene righe di dati dopo l&#x27;intestazione" in page
    assert "Il file ha anche il foglio «Destinatari»: scegli il foglio con i destinatari" in page
    assert 'value="Destinatari"' in page and 'value="Istruzioni"' not in page
    # The file is kept: choosing the other sheet reads it.
    done = _post(client, template, service, pending_file=_pending_id(asked), sheet="Destinatari")
    assert done.status_code == 302, done.content.decode()[:3000]
    assert not PendingUpload.objects.exists()


def test_no_file_and_nothing_kept_asks_for_the_file(client, operator, service, template):
    response = _post(client, template, service)
    assert response.status_code == 200
    assert "Seleziona il file dei destinatari." in response.content.decode()


@pytest.mark.parametrize("value", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_kept_file_is_asked_again(client, operator, service, template, value):
    response = _post(client, template, service, pending_file=value, sheet="Destinatari")
    assert response.status_code == 200
    assert "non è più disponibile" in response.content.decode()
    assert not RecipientList.objects.exists()


def test_an_expired_kept_file_is_not_read_and_is_purged(client, operator, service, template):
    pending_id = _pending_id(_post(client, template, service, "data_on_second_sheet.xlsx"))
    PendingUpload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _post(client, template, service, pending_file=pending_id, sheet="Destinatari")
    assert "non è più disponibile" in response.content.decode()
    recipient_lists_purge_expired()
    assert not PendingUpload.objects.exists()


def test_another_users_kept_file_is_out_of_reach(
    client, login, organization, service, template, operator
):
    pending_id = _pending_id(_post(client, template, service, "data_on_second_sheet.xlsx"))
    colleague = builders.user(Membership.Role.SUPERVISOR, organization, username="collega")
    login(colleague)
    response = _post(client, template, service, pending_file=pending_id, sheet="Destinatari")
    assert "non è più disponibile" in response.content.decode()
    assert not RecipientList.objects.exists()
    assert PendingUpload.objects.count() == 1  # still its author's
