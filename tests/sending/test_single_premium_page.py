"""The page of a single citizen's Premium message with a payment notice shows, under
«Contenuto inviato», the amount, the notice number and the due date it was sent with; the
counts of opened messages and downloaded files appear only where the dispatch has files IO
can fetch (a single message never has any)."""

import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.remotecontent.models import Attachment
from tests import builders
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db
DUE = datetime(2026, 12, 31, 22, 59, tzinfo=UTC)  # 31/12/2026 23:59 in Rome


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _premium(service, author, **fields) -> tuple[Dispatch, Delivery]:
    dispatch = builders.dispatch(
        service,
        author,
        ["RSSMRA85T10A562S"],
        state=Dispatch.State.COMPLETED,
        feature_level=FeatureLevel.ADVANCED,
        **fields,
    )
    delivery = Delivery.objects.get(dispatch=dispatch)
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.PROCESSED,
        io_message_id="01JSINGLE0000000000000001",
        payment_amount=123456,
        notice_number="012345678901234567",
        due_date=DUE,
    )
    return dispatch, delivery


def test_a_single_message_shows_its_payment_and_no_attachment_counts(organization, supervisor_user):
    service = builders.service(organization, premium_enabled=True)
    dispatch, delivery = _premium(service, supervisor_user, kind=Dispatch.Kind.SINGLE)
    client = verified_login(Client(), supervisor_user)

    page = client.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    text = _text(page.content.decode())
    sent = text[text.index("Contenuto inviato") :]

    assert "1.234,56 €" in sent
    assert "Codice avviso pagoPA: 012345678901234567" in sent
    assert "Scadenza: 31/12/2026 23:59" in sent
    assert "Con allegati scaricati" not in text and "Aperti:" not in text
    detail = _text(
        client.get(reverse("sending:delivery_detail", args=[delivery.public_id])).content.decode()
    )
    assert "Codice avviso pagoPA: 012345678901234567" in detail
    assert "Scadenza: 31/12/2026 23:59" in detail
    assert "Aperture e scaricamenti fatti da IO" not in detail


def test_a_dispatch_with_a_file_counts_opened_and_downloaded(organization, supervisor_user):
    service = builders.service(organization, premium_enabled=True)
    dispatch, delivery = _premium(service, supervisor_user)
    Attachment.objects.create(
        dispatch=dispatch, original_name="avviso.pdf", file="attachments/a.pdf", size=1000
    )
    client = verified_login(Client(), supervisor_user)

    text = _text(
        client.get(reverse("sending:dispatch_detail", args=[dispatch.public_id])).content.decode()
    )

    assert "Aperti: 0" in text and "Con allegati scaricati: 0" in text
    # A list's payments differ from citizen to citizen: each on its delivery's page.
    assert "Codice avviso pagoPA" not in text[text.index("Contenuto inviato") :]
    detail = client.get(reverse("sending:delivery_detail", args=[delivery.public_id]))
    assert "Aperture e scaricamenti fatti da IO" in detail.content.decode()
