"""What a person types that Python would read wrongly or choke on gets an Italian form error,
never a 500 nor another number: whole numbers of thousands of digits (Python refuses to convert
more than 4,300), digits other than 0-9 ("١٢", "１٠"), over-long texts, times the clock change
skips; and the single message form shows every payment error at once."""

import pytest
from django.utils import translation
from django.utils.translation import gettext as _

from ioportal.core.forms import parse_whole_number
from ioportal.core.io_texts import reason_text
from ioportal.ioservices.forms import IOServiceForm
from ioportal.ioservices.models import IOService
from ioportal.messaging.forms import ScheduleForm, SingleMessageForm
from ioportal.recipients.numbers import ValueProblem, read_euro_cents, read_integer
from ioportal.recipients.validation import column_problem
from tests import builders
from tests.core.test_whole_numbers import TYPED_INTEGERS

HUGE = "9" * 5000


@pytest.mark.parametrize(("form", "name"), TYPED_INTEGERS)
@pytest.mark.parametrize("typed", [HUGE, "-" + HUGE, "1." + ".".join(["000"] * 2000)])
def test_thousands_of_digits_are_a_form_error(form, name, typed) -> None:
    field = form.base_fields[name]
    with translation.override("it"), pytest.raises(Exception) as raised:
        field.clean(typed)
    assert type(raised.value).__name__ == "ValidationError"
    message = " ".join(raised.value.messages)
    assert "4300" not in message
    # The field's own message for a number out of its range.
    negative = typed.startswith("-")
    limit = field.min_value if negative else field.max_value
    if limit is None:
        assert message == "Il numero ha troppe cifre."
        return
    bound = limit - 1 if negative else limit + 1
    with translation.override("it"), pytest.raises(Exception) as out_of_range:
        field.clean(str(bound))
    assert message == " ".join(out_of_range.value.messages)


def test_a_form_with_thousands_of_digits_is_invalid_not_an_error() -> None:
    form = ScheduleForm(data={"when": "now", "daily_cap": HUGE})
    with translation.override("it"):
        assert "daily_cap" in form.errors


@pytest.mark.parametrize(("form", "name"), TYPED_INTEGERS)
@pytest.mark.parametrize("typed", ["١٢", "１０", "1\u0663"])
def test_other_digits_are_not_whole_numbers(form, name, typed) -> None:
    with translation.override("it"), pytest.raises(Exception) as raised:
        form.base_fields[name].clean(typed)
    assert "cifre da 0 a 9" in " ".join(raised.value.messages)
    assert parse_whole_number(typed) is None


@pytest.mark.parametrize("typed", ["١٢", "１０", "1.０００", "12,٥٠"])
def test_other_digits_are_not_amounts_nor_numbers(typed) -> None:
    with translation.override("it"):
        with pytest.raises(ValueProblem, match="cifre diverse da 0-9"):
            read_euro_cents(typed)
        with pytest.raises(ValueProblem, match="cifre diverse da 0-9"):
            read_integer(typed)


def test_other_digits_are_not_a_service_maximum() -> None:
    field = IOServiceForm.base_fields["max_payment_eur"]
    with translation.override("it"), pytest.raises(Exception) as raised:
        field.clean("١٢")
    assert "cifre da 0 a 9" in " ".join(raised.value.messages)


def test_a_reason_without_subject_is_a_sentence_in_english() -> None:
    with translation.override("it"):
        problem = ValueProblem("non è una data valida (esempio: 31/12/2026)")
        assert (
            reason_text(column_problem(problem)) == "Non è una data valida (esempio: 31/12/2026)."
        )
    with translation.override("en"):
        try:
            read_euro_cents("dieci")
        except ValueProblem as problem:
            text = reason_text(column_problem(problem))
        assert text.startswith("The value is not an amount in euro")
        try:
            read_euro_cents("1,234")
        except ValueProblem as problem:
            assert reason_text(column_problem(problem)).startswith(
                "The value has more than two decimals"
            )


MESSAGE = {
    "feature_level": "standard",
    "fiscal_code": "RSSMRA85T10A562S",
    "subject": "Avviso di pagamento",
    "markdown": "Il Comune le ricorda il pagamento della rata, con l'avviso pagoPA. " * 2,
    "launch_token": "6b3c1b52-0d7c-4f2e-9a53-1f8f0c1f5e11",
}


@pytest.fixture
def single_form(organization):
    service = builders.service(
        organization, payments_enabled=True, max_allowed_payment_amount=1_000_000
    )

    def make(**data):
        return SingleMessageForm(
            data={**MESSAGE, "service": service.pk, **data},
            services=IOService.objects.filter(pk=service.pk),
        )

    return make


@pytest.mark.django_db
def test_amount_range_is_shown_with_the_missing_notice_number(single_form) -> None:
    with translation.override("it"):
        form = single_form(amount="-5")
        assert not form.is_valid()
        assert form.errors["notice_number"] == ["Indica il codice avviso per l'importo."]
        assert any("compreso tra 0,01" in error for error in form.errors["amount"])


@pytest.mark.django_db
def test_over_long_texts_say_their_real_limit(single_form) -> None:
    with translation.override("it"):
        form = single_form(subject="a" * 100_000, amount="10", notice_number="3" * 5000)
        assert not form.is_valid()
        assert form.errors["subject"] == ["Scrivi al massimo 120 caratteri (ora sono 100.000)."]
        assert form.errors["notice_number"] == ["Scrivi al massimo 18 caratteri (ora sono 5.000)."]


@pytest.mark.django_db
def test_a_time_the_clock_change_skips_is_an_italian_sentence(settings) -> None:
    settings.TIME_ZONE = "Europe/Rome"
    field = ScheduleForm.base_fields["scheduled_at"]
    with translation.override("it"), pytest.raises(Exception) as raised:
        field.clean("28/03/2027 02:30")
    assert raised.value.messages == [
        "Le 02:30 del 28/03/2027 non esistono o sono ambigue in Italia per il cambio dell'ora "
        "legale: indica un altro orario."
    ]


@pytest.mark.parametrize(
    "field",
    [IOServiceForm.base_fields["max_payment_eur"], SingleMessageForm.base_fields["amount"]],
)
def test_an_amount_in_the_other_format_reads_as_a_sentence_in_english(field) -> None:
    with translation.override("en"), pytest.raises(Exception) as raised:
        field.clean("1.234,56")  # the Italian way on an English page
    (message,) = raised.value.messages
    assert message.startswith("The value is not an amount in euro: it is written in the "), message


def test_an_amount_in_the_other_format_reads_well_in_italian() -> None:
    with translation.override("it"), pytest.raises(Exception) as raised:
        IOServiceForm.base_fields["max_payment_eur"].clean("1,234.56")
    (message,) = raised.value.messages
    assert message == (
        "Non è un importo in euro: è scritto nel formato inglese (1,234.56), ma è atteso il "
        "formato italiano (1.234,56)."
    )


def test_a_yes_or_no_problem_has_a_subject_in_english() -> None:
    with translation.override("en"):
        assert "due date: the value must be yes or no." in _(
            "Avviso non pagabile dopo la scadenza: %(problem)s."
        ) % {"problem": _("deve essere sì o no")}
