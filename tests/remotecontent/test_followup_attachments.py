"""A follow-up of a Premium dispatch carries the origin's shared PDF (same bytes) to the new
dispatch, and says before launch what it could not carry."""

import hashlib
import io
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from ioportal.core.fiscalcode import fiscal_code_hmac
from ioportal.core.io_texts import reason_text
from ioportal.messaging import services
from ioportal.messaging.followups import Criterion, follow_up_list_create
from ioportal.messaging.lists import (
    recipient_list_read,
    recipient_list_upload,
    recipient_list_validate,
)
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.recipients.attachments import list_attachments_upload
from ioportal.recipients.models import ListAttachment, RecipientChunk, RecipientList
from ioportal.remotecontent.models import Attachment
from tests import builders
from tests.remotecontent.conftest import make_pdf

BRUNO = "VRDGPP75C15F205S"


@pytest.fixture(autouse=True)
def quiet_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ioportal.messaging.services.pipeline.wake_pipeline", lambda **_: None)


@pytest.fixture
def premium_template(organization: Any, operator_user: Any) -> Any:
    return builders.template(organization, operator_user, feature_level=FeatureLevel.ADVANCED)


def launch(recipient_list: RecipientList, actor: Any) -> Dispatch:
    dispatch, _created = services.dispatch_launch_list(recipient_list=recipient_list, actor=actor)
    return dispatch


def origin_with_pdf(template: Any, service: Any, actor: Any, pdf: bytes) -> Dispatch:
    checked = builders.recipient_list(template, service, actor)
    list_attachments_upload(recipient_list=checked, shared_name="avviso.pdf", shared_data=pdf)
    origin = launch(checked, actor)
    assert Attachment.objects.filter(dispatch=origin).count() == 1
    Delivery.objects.filter(dispatch=origin, fiscal_code_hmac=fiscal_code_hmac(BRUNO)).update(
        state="failed", finished_at=timezone.now()
    )
    return origin


def follow_up(origin: Dispatch, template: Any, service: Any, actor: Any) -> RecipientList:
    return follow_up_list_create(
        origin=origin, criterion=Criterion.FAILED, template=template, service=service, actor=actor
    )


def test_the_follow_up_dispatch_has_the_origins_shared_pdf(
    client, login, operator_user, premium_template, premium_service, rc
):
    pdf = make_pdf(pdfa=True, pages=2)
    origin = origin_with_pdf(premium_template, premium_service, operator_user, pdf)
    built = follow_up(origin, premium_template, premium_service, operator_user)
    staged = ListAttachment.objects.get(recipient_list=built)
    assert staged.shared and not staged.problems
    login(operator_user)
    result = client.get(reverse("messaging:list_result", args=[built.public_id])).content.decode()
    assert "Carica un altro file" not in result and "formato inglese" not in result
    confirm = client.get(reverse("messaging:list_confirm", args=[built.public_id]))
    assert "Allegati PDF" in confirm.content.decode() and "avviso.pdf" in confirm.content.decode()

    new = launch(built, operator_user)
    carried = Attachment.objects.get(dispatch=new)
    assert carried.sha256 == hashlib.sha256(pdf).hexdigest()
    assert hashlib.sha256(carried.file.read()).hexdigest() == carried.sha256
    # The origin keeps its own file.
    kept = Attachment.objects.get(dispatch=origin)
    assert kept.file.name != carried.file.name and kept.file.read() == pdf


def test_a_missing_file_is_said_before_launch_and_not_sent(
    client, login, operator_user, premium_template, premium_service, rc
):
    origin = origin_with_pdf(premium_template, premium_service, operator_user, make_pdf())
    Attachment.objects.get(dispatch=origin).file.delete(save=False)
    built = follow_up(origin, premium_template, premium_service, operator_user)
    login(operator_user)
    page = client.get(reverse("messaging:list_confirm", args=[built.public_id])).content.decode()
    assert "Allegati PDF" in page and "non è più disponibile" in page
    new = launch(built, operator_user)
    assert not Attachment.objects.filter(dispatch=new).exists()


def test_files_deleted_by_retention_are_said_before_launch(
    client, login, operator_user, premium_template, premium_service, rc, settings
):
    origin = origin_with_pdf(premium_template, premium_service, operator_user, make_pdf())
    Attachment.objects.filter(dispatch=origin).delete()
    old = timezone.now() - timedelta(days=settings.REMOTE_CONTENT_RETENTION_DAYS + 1)
    Dispatch.objects.filter(pk=origin.pk).update(created_at=old)
    origin.refresh_from_db()
    built = follow_up(origin, premium_template, premium_service, operator_user)
    login(operator_user)
    page = client.get(reverse("messaging:list_result", args=[built.public_id])).content.decode()
    assert "cancellati dopo" in page and "partirà senza allegati" in page


# --- each citizen's own file ------------------------------------------------------------------

OWN_CSV = (
    b"Codice fiscale;Nome;Importo;Allegato\n"
    b"RSSMRA85T10A562S;Anna;12,50;anna.pdf\n"
    b"VRDGPP75C15F205S;Bruno;30;bruno.pdf\n"
    b"BNCLCU90D45L219H;Dario;5;dario.pdf\n"
)
OWN_PDFS = {
    "anna.pdf": make_pdf(pages=1),
    "bruno.pdf": make_pdf(pages=2),
    "dario.pdf": make_pdf(pages=3),
}
DARIO = "BNCLCU90D45L219H"


def origin_with_own_files(template: Any, service: Any, actor: Any) -> Dispatch:
    """A Premium dispatch of three citizens, each with their own PDF; Bruno's and Dario's
    messages failed."""
    uploaded = recipient_list_upload(
        organization=template.organization,
        actor=actor,
        template=template,
        service=service,
        file_name="tari.csv",
        table=recipient_list_read(file_name="tari.csv", data=OWN_CSV),
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in OWN_PDFS.items():
            archive.writestr(name, data)
    buffer.seek(0)
    list_attachments_upload(recipient_list=uploaded, zip_upload=buffer)
    checked = recipient_list_validate(
        recipient_list=uploaded, mapping={**builders.RECIPIENTS_MAPPING, "attachment": "Allegato"}
    )
    assert checked.valid_count == 3
    origin = launch(checked, actor)
    assert Attachment.objects.filter(delivery__dispatch=origin).count() == 3
    Delivery.objects.filter(
        dispatch=origin, fiscal_code_hmac__in=[fiscal_code_hmac(BRUNO), fiscal_code_hmac(DARIO)]
    ).update(state="failed", finished_at=timezone.now())
    return origin


def own_file_of(dispatch: Dispatch, fiscal_code: str) -> Attachment:
    return Attachment.objects.get(
        delivery__dispatch=dispatch, delivery__fiscal_code_hmac=fiscal_code_hmac(fiscal_code)
    )


def test_each_citizen_of_the_follow_up_gets_their_own_file_and_no_one_elses(
    client, login, operator_user, premium_template, premium_service, rc
):
    origin = origin_with_own_files(premium_template, premium_service, operator_user)
    login(operator_user)
    form = client.get(reverse("messaging:dispatch_follow_up", args=[origin.public_id]))
    assert "ciascuno solo al proprio cittadino" in form.content.decode()
    built = follow_up(origin, premium_template, premium_service, operator_user)
    staged = ListAttachment.objects.filter(recipient_list=built, shared=False)
    assert sorted(row.original_name for row in staged) == ["bruno.pdf", "dario.pdf"]
    assert all(not row.problems and row.file for row in staged)
    assert built.state == RecipientList.State.VALIDATED
    assert built.valid_count == 2 and built.rejected_count == 0
    assert built.column_mapping["attachment"] == "Allegato"  # the origin list's column
    page = client.get(reverse("messaging:list_confirm", args=[built.public_id])).content.decode()
    assert "File per destinatario riportati dall'invio originale" in page
    assert "ciascuno solo al proprio cittadino: 2" in page

    new = launch(built, operator_user)
    for citizen, name in ((BRUNO, "bruno.pdf"), (DARIO, "dario.pdf")):
        carried = own_file_of(new, citizen)
        assert carried.original_name == name
        assert carried.sha256 == own_file_of(origin, citizen).sha256
        assert carried.sha256 == hashlib.sha256(OWN_PDFS[name]).hexdigest()
        assert carried.file.name != own_file_of(origin, citizen).file.name
    assert Attachment.objects.filter(delivery__dispatch=new).count() == 2
    assert not Attachment.objects.filter(dispatch=new).exists()


def test_own_files_deleted_by_retention_are_said_and_the_follow_up_goes_without(
    client, login, operator_user, premium_template, premium_service, rc
):
    origin = origin_with_own_files(premium_template, premium_service, operator_user)
    Attachment.objects.filter(delivery__dispatch=origin).delete()
    built = follow_up(origin, premium_template, premium_service, operator_user)
    assert not ListAttachment.objects.filter(recipient_list=built, shared=False).exists()
    assert "attachment" not in built.column_mapping
    assert built.state == RecipientList.State.VALIDATED and built.valid_count == 2
    login(operator_user)
    page = client.get(reverse("messaging:list_result", args=[built.public_id])).content.decode()
    assert "File per destinatario dell&#x27;invio originale (2)" in page
    assert "non sono più disponibili" in page and "il sollecito partirà senza" in page
    new = launch(built, operator_user)
    assert not Attachment.objects.filter(delivery__dispatch=new).exists()


def test_one_citizens_lost_file_rejects_that_row_with_the_reason(
    operator_user, premium_template, premium_service, rc
):
    origin = origin_with_own_files(premium_template, premium_service, operator_user)
    own_file_of(origin, DARIO).file.delete(save=False)
    built = follow_up(origin, premium_template, premium_service, operator_user)
    assert built.valid_count == 1 and built.rejected_count == 1
    rejected = built.items(RecipientChunk.Kind.REJECTED, 0, 1)[0]
    reasons = " ".join(reason_text(reason) for reason in rejected["reasons"])
    assert "dario.pdf" in reasons and "non è più disponibile" in reasons


def test_a_standard_template_says_own_files_are_not_carried(
    client, login, operator_user, organization, premium_template, premium_service, rc
):
    origin = origin_with_own_files(premium_template, premium_service, operator_user)
    standard = builders.template(organization, operator_user, name="Promemoria")
    built = follow_up(origin, standard, premium_service, operator_user)
    assert not ListAttachment.objects.filter(recipient_list=built, shared=False).exists()
    assert built.state == RecipientList.State.VALIDATED and built.valid_count == 2
    login(operator_user)
    page = client.get(reverse("messaging:list_result", args=[built.public_id])).content.decode()
    assert "Il modello scelto non è Premium" in page
