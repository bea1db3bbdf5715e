"""Numbers the portal writes for its reader follow the active language: 1.234,56 in
Italian, 1,234.56 in English (sizes, euro amounts, counts in sentences, IO's amount
limits); what the citizen reads in the message stays Italian."""

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from ioportal.core.io_texts import field_error_text, io_text, reason_text
from ioportal.core.numbers import euro_amount
from ioportal.core.sizes import size_text
from ioportal.ioapi import messages_it
from ioportal.ioapi.errors import FieldError
from ioportal.ioapi.payloads import AMOUNT_MAX, AMOUNT_MIN, PaymentData, _validate_payment
from ioportal.recipients.numbers import format_cents
from ioportal.recipients.parsing import _too_long
from tests import builders
from tests.conftest import verified_login


@pytest.mark.parametrize(
    ("language", "amount", "size", "cells"),
    [
        ("it", "1.234,56", "10 MB", "10.000"),
        ("en", "1,234.56", "10 MB", "10,000"),
    ],
)
def test_helpers_write_numbers_the_readers_way(
    language: str, amount: str, size: str, cells: str
) -> None:
    with translation.override(language):
        assert euro_amount(123456) == amount
        assert euro_amount(5) == ("0,05" if language == "it" else "0.05")
        assert size_text(10_485_760) == size
        assert size_text(2_000 * 1024 * 1024) == ("2.000 MB" if language == "it" else "2,000 MB")
        exact = "20.000.000 byte" if language == "it" else "20,000,000 byte"
        assert size_text(20_000_000) == exact
        assert cells in reason_text(_too_long(1, 6))
        # The value the citizen reads in the message stays Italian whatever the language.
        assert format_cents(123456) == "1.234,56"


def _amount_errors(amount: int, max_allowed: int | None = None) -> list[FieldError]:
    payment = PaymentData(amount=amount, notice_number="012345678901234567")
    return [e for e in _validate_payment(payment, max_allowed) if e.field.endswith(".amount")]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "it",
            "L'importo (1.234,56 €) supera il massimo consentito per questo servizio (1.000,00 €).",
        ),
        ("en", "1,234.56 €"),
    ],
)
def test_io_amount_problems_write_euro_the_readers_way(language: str, expected: str) -> None:
    (error,) = _amount_errors(123456, max_allowed=100000)
    # IO's own Italian text keeps the Italian notation.
    assert error.message == (
        "L'importo (1.234,56 €) supera il massimo consentito per questo servizio (1.000,00 €)."
    )
    stored = json.loads(json.dumps({"io": error.template, "params": dict(error.params)}))
    with translation.override(language):
        assert expected in field_error_text(error)
        # A stored outcome (JSON) is written the same way when shown.
        assert expected in io_text(stored["io"], stored["params"])
        if language == "en":
            assert "1.234,56" not in field_error_text(error)
            assert "1,000.00 €" in field_error_text(error)


def test_io_amount_range_in_english() -> None:
    (error,) = _amount_errors(AMOUNT_MAX + 1)
    assert error.template == messages_it.AMOUNT_RANGE
    with translation.override("en"):
        text = field_error_text(error)
    low = f"{AMOUNT_MIN // 100}.{AMOUNT_MIN % 100:02d}"
    assert f"{low} €" in text and "," in text.split("and")[-1]


def test_older_stored_amounts_already_written_are_shown_as_they_are() -> None:
    with translation.override("en"):
        text = io_text(messages_it.AMOUNT_RANGE, {"min": "0,01 €", "max": "9.999.999,99 €"})
    assert "0,01 €" in text and "9.999.999,99 €" in text


@pytest.mark.parametrize(("language", "amount"), [("it", "1.234,56 €"), ("en", "1,234.56 €")])
def test_delivery_page_writes_the_payment_amount_the_readers_way(
    client: Client, operator_user: Any, organization: Any, language: str, amount: str
) -> None:
    service = builders.service(organization)
    dispatch = builders.dispatch(service, operator_user)
    delivery = builders.delivery(
        dispatch, payment_amount=123456, notice_number="012345678901234567"
    )
    verified_login(client, operator_user)
    page = client.get(
        reverse("sending:delivery_detail", args=[delivery.public_id]),
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert page.status_code == 200
    assert amount in page.content.decode()
