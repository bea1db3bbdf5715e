"""What reading a list's file found is stored untranslated and said in the language of whoever
reads the list's pages, not of whoever uploaded it."""

import html
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook

from ioportal.recipients.models import RecipientList
from tests import builders

WARNING_RE = re.compile(r'<div class="alert alert-warning">(.*?)</div>', re.S)
PENDING_RE = re.compile(r'name="pending_file" value="([0-9a-f-]{36})"')
ITALIAN = [
    "La colonna C («vecchio_cf») è nascosta in Excel: è stata letta come le altre. "
    "Nell'abbinamento controlla di sceglierla solo se contiene i dati giusti.",
    "La colonna «nome» compare 2 volte (colonne B ed E): nell'abbinamento scegli quale usare, "
    "indicata con la sua lettera.",
    "Le colonne «nome» (colonne B ed E) e «Nome» (colonna D) hanno nomi che differiscono solo "
    "per maiuscole, accenti, spazi o punteggiatura: nell'abbinamento controlla di scegliere "
    "quella giusta.",
]
ENGLISH = [
    "Column C (“vecchio_cf”) is hidden in Excel: it was read like the others. In the mapping, "
    "choose it only if it holds the right data.",
    "The column “nome” appears 2 times (columns B and E): in the mapping choose which one to "
    "use, shown with its letter.",
    "The columns “nome” (columns B and E) and “Nome” (column D) have names that differ only in "
    "case, accents, spaces or punctuation: in the mapping, check that you choose the right one.",
]


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


def _workbook(*, sheets: int = 1) -> bytes:
    """Column C hidden, "nome" twice and "Nome" once; `sheets` 2: an instructions sheet first."""
    workbook = Workbook()
    sheet = workbook.active
    if sheets == 2:
        sheet.title = "Istruzioni"
        sheet.append(["Compila il foglio Destinatari", "nota"])
        sheet = workbook.create_sheet("Destinatari")
    sheet.append(["codice_fiscale", "nome", "vecchio_cf", "Nome", "nome"])
    sheet.append(["RSSMRA80A01H501U", "Mario", "X", "a", "q"])
    sheet.column_dimensions["C"].hidden = True
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _warnings(page: str) -> list[str]:
    return [" ".join(html.unescape(w).split()) for w in WARNING_RE.findall(page)]


def _upload(client, template, service, language, data=None, **fields):
    return client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": service.pk,
            "file": SimpleUploadedFile("elenco.xlsx", data or _workbook()),
            **fields,
        },
        HTTP_ACCEPT_LANGUAGE=language,
    )


def _mapping_page(client, language):
    recipient_list = RecipientList.objects.get()
    page = client.get(
        reverse("messaging:list_mapping", kwargs={"public_id": recipient_list.public_id}),
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert page.status_code == 200
    return _warnings(page.content.decode())


@pytest.mark.parametrize(
    ("uploaded_in", "read_in", "expected"), [("it", "en", ENGLISH), ("en", "it", ITALIAN)]
)
def test_the_mapping_page_says_the_file_warnings_in_the_readers_language(
    client, operator, service, template, uploaded_in, read_in, expected
):
    done = _upload(client, template, service, uploaded_in)
    assert done.status_code == 302, done.content.decode()[:3000]
    assert _mapping_page(client, read_in) == expected
    # Stored untranslated: the same whoever uploaded the file.
    assert all(isinstance(w, dict) for w in RecipientList.objects.get().file_warnings)


def test_the_file_question_says_the_warnings_in_the_readers_language(
    client, operator, service, template
):
    asked = _upload(client, template, service, "en", _workbook(sheets=2))
    assert asked.status_code == 200
    pending = PENDING_RE.search(asked.content.decode()).group(1)
    done = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": service.pk,
            "pending_file": pending,
            "sheet": "Destinatari",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert done.status_code == 302, done.content.decode()[:3000]
    assert _mapping_page(client, "it") == ["È stato letto il foglio «Destinatari».", *ITALIAN]
    assert _mapping_page(client, "en") == ["The sheet “Destinatari” was read.", *ENGLISH]


def test_a_list_uploaded_before_keeps_its_warnings_as_written(client, operator, service, template):
    """Warnings stored as texts before they were stored untranslated are shown as written,
    translated when they are a sentence of the catalog."""
    recipient_list = builders.recipient_list(template, service, operator)
    recipient_list.file_warnings = ["Un avviso scritto prima.", "Il file è vuoto."]
    recipient_list.save(update_fields=["file_warnings"])
    assert _mapping_page(client, "en") == ["Un avviso scritto prima.", "The file is empty."]
    with translation.override("it"):
        assert recipient_list.file_warnings_text == [
            "Un avviso scritto prima.",
            "Il file è vuoto.",
        ]
