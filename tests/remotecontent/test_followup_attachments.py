"""A follow-up of a Premium dispatch carries the origin's shared PDF (same bytes) to the new
dispatch, and says before launch what it could not carry."""

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from ioportal.core.fiscalcode import fiscal_code_hmac
from ioportal.messaging import services
from ioportal.messaging.followups import Criterion, follow_up_list_create
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.recipients.attachments import list_attachments_upload
from ioportal.recipients.models import ListAttachment, RecipientList
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
