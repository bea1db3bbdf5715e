"""Premium attachments in the compose flow (shared PDF, ZIP matched by a column) and in the
payload the pipeline sends (third_party_data)."""

import html
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ioportal.accounts.models import Membership
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.messaging.services import template_create
from ioportal.recipients import attachments as uploads
from ioportal.recipients.attachments import (
    AttachmentUploadError,
    list_attachments_upload,
    zip_entries,
)
from ioportal.recipients.models import ListAttachment, PendingUpload, RecipientList
from ioportal.remotecontent import services
from ioportal.remotecontent.models import Attachment
from ioportal.sending import outcomes
from ioportal.sending.runner import run_account_worker
from tests import builders
from tests.recipients.support import shown_rejected
from tests.remotecontent.conftest import CONFIGURATION_ID, make_pdf
from tests.sending.support import simulated_service

MARKDOWN = (
    "Gentile {{ nome }},\n\nin allegato trova l'avviso TARI 2026 e il prospetto di calcolo "
    "della tariffa per la sua utenza domestica."
)
CSV = (
    "Codice fiscale;Nome;Allegato\n"
    "RSSMRA80A01H501U;Anna;anna.pdf\n"
    "VRDGPP75C15F205S;Bruno;bruno.pdf\n"
    "RSSMRA85T10A562S;Carla;carla.pdf\n"
    "BNCLCU90D45L219H;Dario;anna.pdf\n"
)


def zip_of(files: dict[str, bytes], *, with_dir: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if with_dir:
            archive.writestr("cartella/", b"")
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def template(organization: Any, operator_user: Any) -> Any:
    return template_create(
        organization=organization,
        actor=operator_user,
        name="TARI Premium",
        subject="Avviso TARI 2026",
        markdown=MARKDOWN,
        placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
        feature_level=FeatureLevel.ADVANCED,
    )


def upload(client: Any, template: Any, service: Any, **files: Any) -> Any:
    data = {
        "template": template.pk,
        "service": service.pk,
        "file": SimpleUploadedFile("tari.csv", CSV.encode(), content_type="text/csv"),
        **files,
    }
    return client.post(reverse("messaging:compose"), data)


def test_shared_and_per_recipient_files_through_the_flow(
    client, login, operator_user, template, premium_service, rc, monkeypatch
):
    monkeypatch.setattr("ioportal.messaging.services.pipeline.wake_pipeline", lambda **_: None)
    login(operator_user)
    bundle = zip_of(
        {
            "anna.pdf": make_pdf(pdfa=True),
            "sub/bruno.pdf": make_pdf(javascript=True),
            "extra.pdf": make_pdf(),
        },
        with_dir=True,
    )
    response = upload(
        client,
        template,
        premium_service,
        shared_pdf=SimpleUploadedFile("informativa.pdf", make_pdf(pdfa=True)),
        attachments_zip=SimpleUploadedFile("allegati.zip", bundle),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    recipient_list = RecipientList.objects.get()
    assert ListAttachment.objects.filter(recipient_list=recipient_list).count() == 4
    # Without the file-name column the mapping is refused.
    mapping_url = reverse("messaging:list_mapping", args=[recipient_list.public_id])
    page = client.post(mapping_url, {"map_fiscal_code": "Codice fiscale", "map_nome": "Nome"})
    assert "indica la colonna con il nome del file" in page.content.decode()
    response = client.post(
        mapping_url,
        {"map_fiscal_code": "Codice fiscale", "map_nome": "Nome", "map_attachment": "Allegato"},
    )
    assert response.status_code == 302
    recipient_list.refresh_from_db()
    assert (recipient_list.valid_count, recipient_list.rejected_count) == (1, 3)
    page = client.get(response.url).content.decode()
    assert "«bruno.pdf» è stato rifiutato" in page and "JavaScript" in page
    assert "«carla.pdf» non è nello ZIP" in page
    assert "già assegnato alla riga 2" in page
    assert "informativa.pdf" in page
    rejected = client.get(
        reverse("messaging:list_rejected_csv", args=[recipient_list.public_id])
    ).content.decode()
    assert "carla.pdf» non è nello ZIP" in rejected
    # The preview lists the files the citizen gets: the shared one, then their own.
    preview = client.get(
        reverse("messaging:list_preview", args=[recipient_list.public_id])
    ).content.decode()
    shown = preview[preview.index('id="row-attachments"') :]
    shown = shown[: shown.index("</section>")]
    assert "Allegati che riceve questo cittadino (2)" in shown
    assert re.findall(r"<li>([^<]*)</li>", shown) == ["informativa.pdf", "anna.pdf"]
    confirm = reverse("messaging:list_confirm", args=[recipient_list.public_id])
    assert 'id="premium-senza-pdf"' not in client.get(confirm).content.decode()
    client.post(confirm, {"when": "now", "launch_token": str(recipient_list.launch_token)})
    dispatch = Dispatch.objects.get(kind=Dispatch.Kind.LIST)
    delivery = Delivery.objects.get(dispatch=dispatch)
    shared = Attachment.objects.get(dispatch=dispatch)
    own = Attachment.objects.get(delivery=delivery)
    assert (shared.original_name, own.original_name) == ("informativa.pdf", "anna.pdf")
    assert own.file.read().startswith(b"%PDF-")
    assert not ListAttachment.objects.exists()
    assert services.third_party_data_for(delivery) == {
        "id": str(delivery.public_id),
        "configuration_id": CONFIGURATION_ID,
        "has_attachments": True,
    }


def test_a_refused_file_is_told_in_the_readers_language(
    client, login, operator_user, template, premium_service, rc
):
    """A ZIP entry refused when an Italian operator uploaded it reads in English for an
    English reader: its reasons are stored untranslated."""
    login(operator_user)
    bundle = zip_of({"anna.pdf": make_pdf(pdfa=True), "bruno.pdf": make_pdf(javascript=True)})
    response = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": premium_service.pk,
            "file": SimpleUploadedFile("tari.csv", CSV.encode(), content_type="text/csv"),
            "attachments_zip": SimpleUploadedFile("allegati.zip", bundle),
        },
        HTTP_ACCEPT_LANGUAGE="it",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    recipient_list = RecipientList.objects.get()
    refused = ListAttachment.objects.get(recipient_list=recipient_list, match_name="bruno.pdf")
    assert refused.problems == [
        {"text": "Il PDF contiene codice JavaScript o moduli attivi, non ammessi."}
    ]
    response = client.post(
        reverse("messaging:list_mapping", args=[recipient_list.public_id]),
        {"map_fiscal_code": "Codice fiscale", "map_nome": "Nome", "map_attachment": "Allegato"},
        HTTP_ACCEPT_LANGUAGE="it",
    )
    assert response.status_code == 302
    english = "The PDF contains JavaScript code or active forms, which are not allowed."
    page = html.unescape(client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert f"Refused: bruno.pdf — {english}" in page
    assert f"The attachment “bruno.pdf” was refused: {english}" in page
    assert "non ammessi" not in page
    italian = html.unescape(client.get(response.url, HTTP_ACCEPT_LANGUAGE="it").content.decode())
    assert "«bruno.pdf» è stato rifiutato: Il PDF contiene codice JavaScript" in italian


def test_no_citizen_of_a_list_goes_without_the_pdf_its_row_names(
    client, login, operator_user, template, premium_service, rc, monkeypatch
):
    """A ZIP that matches only part of the rows, and a row whose file-name cell is empty:
    those rows are rejected with their reason, line by line, before anything is sent; every
    citizen the list is sent to gets the PDF their row names."""
    monkeypatch.setattr("ioportal.messaging.services.pipeline.wake_pipeline", lambda **_: None)
    login(operator_user)
    partial = (
        "Codice fiscale;Nome;Allegato\n"
        "RSSMRA80A01H501U;Anna;anna.pdf\n"
        "VRDGPP75C15F205S;Bruno;\n"
        "RSSMRA85T10A562S;Carla;carla.pdf\n"
        "BNCLCU90D45L219H;Dario;dario.pdf\n"
    )
    response = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": premium_service.pk,
            "file": SimpleUploadedFile("tari.csv", partial.encode(), content_type="text/csv"),
            "attachments_zip": SimpleUploadedFile(
                "allegati.zip", zip_of({"anna.pdf": make_pdf(), "dario.pdf": make_pdf()})
            ),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    recipient_list = RecipientList.objects.get()
    response = client.post(
        reverse("messaging:list_mapping", args=[recipient_list.public_id]),
        {"map_fiscal_code": "Codice fiscale", "map_nome": "Nome", "map_attachment": "Allegato"},
    )
    recipient_list.refresh_from_db()
    assert (recipient_list.valid_count, recipient_list.rejected_count) == (2, 2)
    page = client.get(response.url).content.decode()
    assert "Il nome del file allegato è vuoto." in page
    assert "«carla.pdf» non è nello ZIP" in page
    confirm = reverse("messaging:list_confirm", args=[recipient_list.public_id])
    client.post(confirm, {"when": "now", "launch_token": str(recipient_list.launch_token)})
    dispatch = Dispatch.objects.get(kind=Dispatch.Kind.LIST)
    own = {
        delivery.row_number: list(
            Attachment.objects.filter(delivery=delivery).values_list("original_name", flat=True)
        )
        for delivery in Delivery.objects.filter(dispatch=dispatch)
    }
    assert own == {2: ["anna.pdf"], 5: ["dario.pdf"]}


def test_invalid_shared_pdf_refuses_the_upload(
    client, login, operator_user, template, premium_service
):
    login(operator_user)
    exe = SimpleUploadedFile("avviso.pdf", b"MZ\x90\x00" + b"\x00" * 100)
    response = upload(client, template, premium_service, shared_pdf=exe)
    assert response.status_code == 200
    assert not RecipientList.objects.exists()
    assert "PDF" in response.content.decode()


def test_attachments_need_a_premium_template(
    client, login, operator_user, organization, premium_service
):
    standard = template_create(
        organization=organization,
        actor=operator_user,
        name="TARI",
        subject="Avviso TARI 2026",
        markdown=MARKDOWN,
        placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
    )
    login(operator_user)
    response = upload(
        client, standard, premium_service, shared_pdf=SimpleUploadedFile("a.pdf", make_pdf())
    )
    assert "solo per i messaggi Premium" in response.content.decode()
    assert not RecipientList.objects.exists()


def test_premium_template_on_a_non_premium_service_says_why(
    client, login, operator_user, template, premium_service
):
    premium_service.premium_enabled = False
    premium_service.save()
    login(operator_user)
    response = upload(client, template, premium_service)
    assert "non è abilitato ai messaggi Premium" in response.content.decode()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"../../etc/evil.pdf": b"x"}, "percorso non ammesso"),
        ({"/abs.pdf": b"x"}, "percorso non ammesso"),
        ({"a/doc.pdf": b"x", "b/DOC.pdf": b"y"}, "stesso nome"),
        ({}, "non contiene file"),
    ],
)
def test_unsafe_zips_are_refused(files: dict[str, bytes], expected: str) -> None:
    with pytest.raises(AttachmentUploadError) as caught:
        zip_entries(upload=io.BytesIO(zip_of(files)))
    assert expected in " ".join(caught.value.messages)


def test_not_a_zip_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AttachmentUploadError, match="non è un archivio ZIP"):
        zip_entries(upload=io.BytesIO(b"PK not really"))
    monkeypatch.setattr(uploads, "ZIP_MAX_ENTRIES", 2)
    with pytest.raises(AttachmentUploadError, match="più di 2 file"):
        zip_entries(upload=io.BytesIO(zip_of({f"{n}.pdf": b"x" for n in range(3)})))
    monkeypatch.setattr(uploads, "ZIP_MAX_TOTAL_BYTES", 1000)
    with pytest.raises(AttachmentUploadError, match="decompressi"):
        zip_entries(upload=io.BytesIO(zip_of({"a.pdf": b"\x00" * 2000})))


def test_zip_bomb_entry_is_refused_without_reading_it_all(
    settings, operator_user, template, premium_service
):
    settings.REMOTE_CONTENT_MAX_PDF_BYTES = 50_000
    recipient_list = RecipientList.objects.create(
        organization=template.organization,
        created_by=operator_user,
        template=template,
        service=premium_service,
        file_name="tari.csv",
        file_format="csv",
        expires_at="2099-01-01T00:00:00Z",
    )
    bomb = zip_of({"anna.pdf": b"\x00" * 50_000_000, "bruno.pdf": make_pdf()})
    assert len(bomb) < 100_000
    with pytest.raises(AttachmentUploadError, match="«anna.pdf» dello ZIP supera"):
        list_attachments_upload(recipient_list=recipient_list, zip_upload=io.BytesIO(bomb))
    assert not ListAttachment.objects.exists()


# --- the pipeline's payload -----------------------------------------------------------------

IO = "https://api.io.pagopa.it/api/v1"


@pytest.fixture(autouse=True)
def _fresh_limiter(settings: Any) -> Any:
    from ioportal.sending import limiter

    settings.SENDING_LIMITER = "db"
    limiter._known_rows.clear()
    yield
    limiter._known_rows.clear()


@pytest.fixture
def premium_dispatch(organization, rc):
    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(
        organization, **simulated_service("", remote_content_configuration_id=CONFIGURATION_ID)
    )
    return builders.dispatch(
        service, user, ["RSSMRA80A01H501U"], feature_level=FeatureLevel.ADVANCED
    )


def run(dispatch: Dispatch) -> Delivery:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
        run_account_worker(organization_id=dispatch.organization_id, budget=2)
    return Delivery.objects.get(dispatch=dispatch)


@responses.activate
def test_payload_carries_third_party_data(settings, premium_dispatch, rc, add_attachment):
    settings.SENDING_LIMITER = "db"
    add_attachment(dispatch=premium_dispatch)
    responses.post(f"{IO}/profiles", json={"sender_allowed": True}, status=200)
    responses.post(f"{IO}/messages", json={"id": "01JABCDEFGHJKMNPQRSTVWXYZ0"}, status=201)
    delivery = run(premium_dispatch)
    assert delivery.state == "submitted"
    body = json.loads(responses.calls[1].request.body)
    assert body["feature_level_type"] == "ADVANCED"
    assert body["content"]["third_party_data"] == {
        "id": str(delivery.public_id),
        "configuration_id": CONFIGURATION_ID,
        "has_attachments": True,
    }


@responses.activate
def test_premium_with_attachments_without_configuration_fails_in_italian(
    settings, premium_dispatch, rc, add_attachment
):
    settings.SENDING_LIMITER = "db"
    add_attachment(dispatch=premium_dispatch)
    rc.configuration.delete()  # after the service named it: none registered in the portal
    responses.post(f"{IO}/profiles", json={"sender_allowed": True}, status=200)
    delivery = run(premium_dispatch)
    assert delivery.state == "failed"
    assert delivery.last_error_code == outcomes.INVALID_CONTENT
    assert "contenuti remoti" in delivery.last_error_text
    assert len(responses.calls) == 1  # the profile only: nothing was sent


def test_file_column_without_zip_rejects_the_rows(
    client, login, operator_user, template, premium_service
):
    login(operator_user)
    upload(client, template, premium_service)
    recipient_list = RecipientList.objects.get()
    client.post(
        reverse("messaging:list_mapping", args=[recipient_list.public_id]),
        {"map_fiscal_code": "Codice fiscale", "map_nome": "Nome", "map_attachment": "Allegato"},
    )
    recipient_list.refresh_from_db()
    assert recipient_list.valid_count == 0
    assert "carica lo ZIP" in " ".join(shown_rejected(recipient_list)[0]["reasons"])


def test_test_send_carries_copies_of_the_rows_files(
    client, login, operator_user, template, premium_service, rc, monkeypatch
):
    """The test recipients open the Premium message with the same files a citizen would get;
    the list keeps its staged files for the real launch."""
    monkeypatch.setattr("ioportal.messaging.services.pipeline.wake_pipeline", lambda **_: None)
    login(operator_user)
    anna = make_pdf(pages=2, pdfa=True)
    response = upload(
        client,
        template,
        premium_service,
        shared_pdf=SimpleUploadedFile("informativa.pdf", make_pdf(pdfa=True)),
        attachments_zip=SimpleUploadedFile("allegati.zip", zip_of({"anna.pdf": anna})),
    )
    assert response.status_code == 302
    recipient_list = RecipientList.objects.get()
    client.post(
        reverse("messaging:list_mapping", args=[recipient_list.public_id]),
        {"map_fiscal_code": "Codice fiscale", "map_nome": "Nome", "map_attachment": "Allegato"},
    )
    staged = {row.file.name for row in ListAttachment.objects.all()}
    response = client.post(
        reverse("messaging:list_test_send", args=[recipient_list.public_id]), {"riga": "1"}
    )
    assert response.status_code == 302
    test_dispatch = Dispatch.objects.get(kind=Dispatch.Kind.TEST)
    copies = list(Attachment.objects.filter(dispatch=test_dispatch).order_by("pk"))
    assert [a.original_name for a in copies] == ["informativa.pdf", "anna.pdf"]
    assert copies[1].file.read() == anna
    assert not {a.file.name for a in copies} & staged  # copies, not the list's own files
    assert {row.file.name for row in ListAttachment.objects.all()} == staged
    delivery = Delivery.objects.filter(dispatch=test_dispatch).first()
    assert delivery is not None
    assert services.third_party_data_for(delivery) == {
        "id": str(delivery.public_id),
        "configuration_id": CONFIGURATION_ID,
        "has_attachments": True,
    }
    # The launch still hands the staged files over to the real dispatch.
    confirm = reverse("messaging:list_confirm", args=[recipient_list.public_id])
    client.post(confirm, {"when": "now", "launch_token": str(recipient_list.launch_token)})
    dispatch = Dispatch.objects.get(kind=Dispatch.Kind.LIST)
    assert Attachment.objects.filter(delivery__dispatch=dispatch).count() == 1
    assert Attachment.objects.filter(dispatch=dispatch).count() == 1


# --- attachments kept while the operator chooses the sheet ----------------------------------

TWO_SHEETS = (
    Path(__file__).resolve().parent.parent / "cases" / "import" / "data_on_second_sheet.xlsx"
)


def _kept_id(page: str, name: str) -> str:
    found = re.search(rf'name="pending_{name}" value="([0-9a-f-]{{36}})"', page)
    assert found, page[:3000]
    return found.group(1)


def _ask_for_the_sheet(client: Any, template: Any, service: Any, **files: Any) -> str:
    response = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": service.pk,
            "file": SimpleUploadedFile(TWO_SHEETS.name, TWO_SHEETS.read_bytes()),
            **files,
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="sheet"' in page
    return page


def test_attachments_selected_with_a_multi_sheet_file_are_kept_across_the_sheet_choice(
    client, login, operator_user, template, premium_service, rc
):
    login(operator_user)
    bundle = zip_of({"anna.pdf": make_pdf(pdfa=True), "bruno.pdf": make_pdf(pdfa=True)})
    page = _ask_for_the_sheet(
        client,
        template,
        premium_service,
        shared_pdf=SimpleUploadedFile("informativa.pdf", make_pdf(pdfa=True)),
        attachments_zip=SimpleUploadedFile("allegati.zip", bundle),
    )
    # The page says that the files stay attached: no need to select them again.
    assert "«informativa.pdf» è già caricato e resta allegato" in page
    assert "«allegati.zip» è già caricato e resta allegato" in page
    assert PendingUpload.objects.count() == 3
    response = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": premium_service.pk,
            "pending_file": re.search(r'name="pending_file" value="([0-9a-f-]{36})"', page).group(
                1
            ),
            "sheet": "Destinatari",
            "pending_shared_pdf": _kept_id(page, "shared_pdf"),
            "pending_attachments_zip": _kept_id(page, "attachments_zip"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    recipient_list = RecipientList.objects.get()
    files = ListAttachment.objects.filter(recipient_list=recipient_list)
    assert sorted((f.shared, f.original_name) for f in files) == [
        (False, "anna.pdf"),
        (False, "bruno.pdf"),
        (True, "informativa.pdf"),
    ]
    assert not PendingUpload.objects.exists()  # deleted once attached


def test_a_shared_file_that_is_not_a_pdf_is_refused_with_the_sheet_question(
    client, login, operator_user, template, premium_service, rc
):
    login(operator_user)
    page = _ask_for_the_sheet(
        client,
        template,
        premium_service,
        shared_pdf=SimpleUploadedFile("fake.pdf", b"just some text, not a PDF"),
        attachments_zip=SimpleUploadedFile("allegati.zip", zip_of({"anna.pdf": make_pdf()})),
    )
    # Refused at once, never announced as kept; the ZIP (valid) stays attached.
    assert "Il file non è un PDF" in page
    assert "«fake.pdf» è già caricato" not in page
    assert not re.search(r'name="pending_shared_pdf" value="[0-9a-f-]{36}"', page)
    assert "«allegati.zip» è già caricato e resta allegato" in page
    # A real error besides the question: the page says the upload failed.
    assert "Il file non è stato caricato: correggi i campi indicati." in page
    assert PendingUpload.objects.count() == 2  # the recipients file and the ZIP


def test_a_kept_attachment_can_be_left_out_and_a_refused_zip_is_asked_again(
    client, login, operator_user, template, premium_service, rc
):
    login(operator_user)
    page = _ask_for_the_sheet(
        client,
        template,
        premium_service,
        shared_pdf=SimpleUploadedFile("informativa.pdf", make_pdf(pdfa=True)),
        attachments_zip=SimpleUploadedFile("allegati.zip", b"not a zip"),
    )
    pending_file = re.search(r'name="pending_file" value="([0-9a-f-]{36})"', page).group(1)
    assert "Non allegare «informativa.pdf»" in page
    # The ZIP is refused at once, with the sheet question: its field says why and nothing
    # of it is kept; the PDF stays.
    assert "non è un archivio ZIP valido" in page
    assert "«allegati.zip» è già caricato" not in page
    assert not re.search(r'name="pending_attachments_zip" value="[0-9a-f-]{36}"', page)
    assert "«informativa.pdf» è già caricato e resta allegato" in page
    assert PendingUpload.objects.count() == 2  # the recipients file and the PDF
    again = page
    # Left out: the list has no attachment, and nothing stays kept.
    done = client.post(
        reverse("messaging:compose"),
        {
            "template": template.pk,
            "service": premium_service.pk,
            "pending_file": pending_file,
            "sheet": "Destinatari",
            "pending_shared_pdf": _kept_id(again, "shared_pdf"),
            "drop_shared_pdf": "on",
        },
    )
    assert done.status_code == 302, done.content.decode()[:3000]
    assert not ListAttachment.objects.exists()
    assert not PendingUpload.objects.exists()


def test_a_premium_list_without_pdf_is_confirmed_with_a_warning(
    client, login, operator_user, organization, premium_service
):
    """Attachments are optional (a template has no flag requiring them): a Premium list
    without any PDF is not refused, but its confirmation page says so, louder when the
    template's text announces a document; a standard message gets no such warning."""
    login(operator_user)
    announcing = builders.template(
        organization,
        operator_user,
        feature_level=FeatureLevel.ADVANCED,
        markdown="Gentile {{ nome }}, trova in allegato l'avviso TARI 2026 di {{ importo }} "
        "euro per la sua utenza domestica, da conservare.",
    )
    silent = builders.template(
        organization, operator_user, name="Promemoria", feature_level=FeatureLevel.ADVANCED
    )
    standard = builders.template(organization, operator_user, name="Standard")

    def confirm_page(template: Any) -> str:
        recipient_list = builders.recipient_list(template, premium_service, operator_user)
        url = reverse("messaging:list_confirm", args=[recipient_list.public_id])
        return client.get(url).content.decode().replace("&#x27;", "'")

    page = confirm_page(announcing)
    assert 'id="premium-senza-pdf"' in page
    assert "Nessun PDF allegato, ma il modello parla di un allegato." in page
    page = confirm_page(silent)
    assert "Nessun PDF allegato: i cittadini riceveranno il messaggio Premium" in page
    assert 'id="premium-senza-pdf"' not in confirm_page(standard)


@pytest.mark.django_db(transaction=True)
def test_the_attachments_are_checked_outside_the_transaction_that_writes_the_list(
    client, login, operator_user, template, premium_service
):
    # On SQLite a transaction (IMMEDIATE) holds the database's write lock from its start:
    # reading a large ZIP and checking each PDF inside one would make the workers wait.
    from unittest import mock

    from django.db import connection

    login(operator_user)
    in_transaction = []
    validate_pdf = uploads.validate_pdf

    def checking(*args, **kwargs):
        in_transaction.append(connection.in_atomic_block)
        return validate_pdf(*args, **kwargs)

    bundle = zip_of({"anna.pdf": make_pdf(), "bruno.pdf": make_pdf(javascript=True)})
    with mock.patch.object(uploads, "validate_pdf", side_effect=checking):
        response = upload(
            client,
            template,
            premium_service,
            shared_pdf=SimpleUploadedFile("informativa.pdf", make_pdf()),
            attachments_zip=SimpleUploadedFile("allegati.zip", bundle),
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert in_transaction and not any(in_transaction)
    recipient_list = RecipientList.objects.get()
    rows = ListAttachment.objects.filter(recipient_list=recipient_list)
    assert sorted((row.original_name, row.shared, bool(row.problems)) for row in rows) == [
        ("anna.pdf", False, False),
        ("bruno.pdf", False, True),
        ("informativa.pdf", True, False),
    ]
    assert all(row.file.storage.exists(row.file.name) for row in rows if not row.problems)


@pytest.mark.django_db(transaction=True)
def test_checked_files_are_deleted_when_the_list_cannot_be_written(
    client, login, operator_user, template, premium_service
):
    from unittest import mock

    from django.core.files.storage import default_storage

    from ioportal.messaging import lists

    login(operator_user)

    def stored() -> list[str]:
        try:
            return default_storage.listdir("attachments")[1]
        except FileNotFoundError:
            return []

    before = stored()
    with (
        mock.patch.object(lists, "audit_log", side_effect=RuntimeError("database gone")),
        pytest.raises(RuntimeError),
    ):
        upload(
            client,
            template,
            premium_service,
            shared_pdf=SimpleUploadedFile("informativa.pdf", make_pdf()),
            attachments_zip=SimpleUploadedFile("allegati.zip", zip_of({"anna.pdf": make_pdf()})),
        )
    assert not RecipientList.objects.exists() and not ListAttachment.objects.exists()
    assert stored() == before
