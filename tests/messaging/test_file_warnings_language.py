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


REPEATED_CSV = (
    b"codice_fiscale;nome;codice_fiscale\n"
    b"RSSMRA80A01H501U;Mario;VRDLGU75B12F205X\n"
    b"RSSMRA80A01H501X;Luigi;BNCGPP90C03L219L\n"
)
OPTION_RE = re.compile(r'<option value="([^"]*)"[^>]*>([^<]*)</option>')


@pytest.mark.parametrize("uploaded_in", ["it", "en"])
def test_a_repeated_column_name_is_told_apart_in_the_readers_language(
    client, operator, service, template, uploaded_in
):
    """The letter that tells a repeated name apart is stored the same whoever uploads the
    file (the mapping's key), and said in the reader's language: on the mapping page (its
    choices and the first rows) and among the rejected rows."""
    done = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": service.pk,
            "file": SimpleUploadedFile("elenco.csv", REPEATED_CSV),
        },
        HTTP_ACCEPT_LANGUAGE=uploaded_in,
    )
    assert done.status_code == 302, done.content.decode()[:3000]
    recipient_list = RecipientList.objects.get()
    assert recipient_list.headers == [
        "codice_fiscale (colonna A)",
        "nome",
        "codice_fiscale (colonna C)",
    ]
    url = reverse("messaging:list_mapping", kwargs={"public_id": recipient_list.public_id})
    english = html.unescape(client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    options = OPTION_RE.findall(english[english.index('name="map_fiscal_code"') :])
    assert ("codice_fiscale (colonna A)", "codice_fiscale (column A)") in options
    assert '<th scope="col">codice_fiscale (column C)</th>' in english
    italian = html.unescape(client.get(url, HTTP_ACCEPT_LANGUAGE="it").content.decode())
    assert '<th scope="col">codice_fiscale (colonna C)</th>' in italian
    checked = client.post(
        url,
        {"map_fiscal_code": "codice_fiscale (colonna A)", "map_nome": "nome"},
        HTTP_ACCEPT_LANGUAGE=uploaded_in,
    )
    assert checked.status_code == 302, checked.content.decode()[:3000]
    result = html.unescape(client.get(checked.url, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    rejected = result[result.index("<tbody>") :]
    rejected = rejected[: rejected.index("</tbody>")]
    assert "<td>codice_fiscale (column A): " in rejected and "colonna" not in rejected
    csv_url = reverse("messaging:list_rejected_csv", kwargs={"public_id": recipient_list.public_id})
    header = client.get(csv_url, HTTP_ACCEPT_LANGUAGE="en").content.decode("utf-8-sig")
    assert header.splitlines()[0].startswith('"codice_fiscale (column A)";"nome"')
