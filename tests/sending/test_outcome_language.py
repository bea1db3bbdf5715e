"""A delivery's outcome detail is stored untranslated (msgids with their params) and told in
the reader's language: the worker's language at the time does not matter."""

from typing import Any

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from ioportal.messaging.models import Delivery
from ioportal.sending import outcomes, steps
from tests import builders
from tests.sending.support import simulated_service

pytestmark = pytest.mark.django_db

CF = "RSSMRA80A01H501U"


@pytest.fixture
def delivery(organization: Any, operator_user: Any) -> Delivery:
    service = builders.service(organization, **simulated_service(""))
    dispatch = builders.dispatch(service, operator_user)
    return builders.delivery(dispatch, payment_amount=123456, notice_number="012345678901234567")


def test_a_refused_content_is_told_in_the_readers_language(delivery: Delivery) -> None:
    service = delivery.dispatch.service
    with translation.override("en"):  # whatever language prepared it
        message, code, detail = steps.prepare_message(delivery, CF, service)
    assert message is None and code == outcomes.AMOUNT_OVER_MAX
    # An outcome whose code has no sentence of its own is told by its detail.
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.FAILED, last_error_code="something_new", last_error_parts=detail
    )
    delivery.refresh_from_db()
    with translation.override("it"):
        italian = outcomes.describe_delivery(delivery)
        exported = outcomes.outcome_describer()(
            delivery.state, "", "something_new", delivery.last_error_parts
        )
    with translation.override("en"):
        english = outcomes.describe_delivery(delivery)
    assert "L'importo (1.234,56 €) supera il massimo consentito" in italian
    assert exported == italian
    assert "The amount (1,234.56 €) is over the maximum allowed" in english
    assert "importo" not in english


def test_a_detail_stored_as_text_before_still_reads(delivery: Delivery) -> None:
    # What the data migration makes of a text stored before.
    known = (
        "Il servizio non ha una configurazione per i contenuti remoti: gli allegati non "
        "possono essere inviati."
    )
    delivery.last_error_parts = [{"text": known}, {"raw": "HTTP 500 da IO"}]
    with translation.override("en"):
        text = delivery.last_error_text
    assert "contenuti remoti" not in text and "HTTP 500 da IO" in text


def test_the_test_send_outcome_is_told_in_the_readers_language(delivery: Delivery) -> None:
    with translation.override("it"):
        _message, _code, detail = steps.prepare_message(delivery, CF, delivery.dispatch.service)
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.FAILED,
        last_error_code=outcomes.AMOUNT_OVER_MAX,
        last_error_parts=detail,
    )
    delivery.refresh_from_db()
    context = {"test_sends": [{"created_at": delivery.created_at, "test_deliveries": [delivery]}]}
    with translation.override("en"):
        english = render_to_string("messaging/_test_outcomes.html", context)
    with translation.override("it"):
        italian = render_to_string("messaging/_test_outcomes.html", context)
    assert "The amount (1,234.56 €) is over the maximum allowed" in english
    assert "supera il massimo" not in english
    assert "L&#x27;importo (1.234,56 €) supera il massimo" in italian
