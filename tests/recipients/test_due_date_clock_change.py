"""A due date at a time the clock change skips or repeats in Italy (Europe/Rome): in 2027 the
clocks go forward on 28 March at 02:00 (02:00-02:59 does not exist) and back on 31 October at
03:00 (02:00-02:59 happens twice). A skipped time is refused with a sentence, never read as
another time; a repeated one is the later of its two moments (`parse_due_date`)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import translation

from ioportal.core.io_texts import reason_text
from ioportal.messaging.models import Dispatch
from ioportal.recipients.validation import (
    MessageSpec,
    ValueProblem,
    column_problem,
    parse_due_date,
)
from tests import builders
from tests.recipients.support import validated

GAP = "28/03/2027 02:30"
OVERLAP = "31/10/2027 02:30"
GAP_REASON = (
    "Contiene le 02:30 del 28/03/2027, un orario che in Italia non esiste per il passaggio "
    "all'ora legale: scrivi un altro orario."
)
GOOD = "RSSMRA85T10A562S"
MARKDOWN = (
    "Gentile {{ nome }}, questo è un messaggio di prova abbastanza lungo da superare il minimo."
)


@pytest.mark.parametrize("text", [GAP, "2027-03-28 02:00", "2027-03-28T02:59", "28/03/2027 02:59"])
def test_a_time_the_clocks_skip_is_refused(text: str) -> None:
    with pytest.raises(ValueProblem) as raised:
        parse_due_date(text)
    assert "non esiste per il passaggio all'ora legale" in str(raised.value)


def test_the_times_around_the_skip_are_read_as_written() -> None:
    before = parse_due_date("28/03/2027 01:59")
    after = parse_due_date("28/03/2027 03:00")
    assert before.isoformat() == "2027-03-28T01:59:00+01:00"
    assert after.isoformat() == "2027-03-28T03:00:00+02:00"
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(minutes=1)


def test_a_repeated_time_is_the_later_of_its_two_moments() -> None:
    due = parse_due_date(OVERLAP)
    # The second 02:30, in standard time: 01:30 UTC, an hour after the first one.
    assert due.astimezone(UTC) == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    assert due.isoformat() == "2027-10-31T02:30:00+01:00"
    assert parse_due_date("31/10/2027 01:59").isoformat() == "2027-10-31T01:59:00+02:00"
    assert parse_due_date("31/10/2027 03:00").isoformat() == "2027-10-31T03:00:00+01:00"


def test_a_list_row_in_the_skip_is_rejected_and_one_in_the_repeat_is_kept() -> None:
    outcome = validated(
        headers=["CF", "Nome", "Scadenza"],
        rows=[[GOOD, "Anna", GAP], ["VRDGPP75C15F205S", "Luca", OVERLAP]],
        mapping={"fiscal_code": "CF", "nome": "Nome", "due_date": "Scadenza"},
        spec=MessageSpec(
            subject="Avviso dal Comune",
            markdown=MARKDOWN,
            placeholders=[{"name": "nome", "type": "text", "required": True, "pattern": ""}],
            has_due_date=True,
        ),
        now=datetime(2027, 1, 1, tzinfo=UTC),
    )
    (rejected,) = outcome.rejected
    assert rejected["reasons"] == [GAP_REASON]
    (valid,) = outcome.valid
    assert valid["due_date"] == "2027-10-31T02:30:00+01:00"


def test_the_reason_in_english() -> None:
    with translation.override("en"):
        with pytest.raises(ValueProblem) as raised:
            parse_due_date(GAP)
        assert reason_text(column_problem(raised.value)) == (
            "The value is 02:30 on 28/03/2027, a time that does not exist in Italy because "
            "the clocks go forward to summer time: write another time."
        )


@pytest.mark.django_db
def test_the_single_message_form_refuses_a_time_the_clocks_skip(
    client, login, operator_user, organization
) -> None:
    service = builders.service(organization)
    login(operator_user)
    response = client.post(
        reverse("messaging:single"),
        {
            "service": service.pk,
            "feature_level": "standard",
            "fiscal_code": GOOD,
            "subject": "Avviso dal Comune di Prova",
            "markdown": MARKDOWN,
            "due_date": GAP,
            "launch_token": "6b3c1b52-0d7c-4f2e-9a53-1f8f0c1f5e13",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["due_date"] == [GAP_REASON]
    assert not Dispatch.objects.exists()
