"""Every text field of the portal's forms with a maximum length says it in the portal's own
sentence, with the real limit and the numbers grouped ("Scrivi al massimo 500 caratteri (ora
sono 1.000)."), never Django's generic "Assicurati che questo valore contenga al massimo…"."""

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.utils import translation

from ioportal.accounts.forms import InviteForm
from ioportal.core.forms import LimitedCharField
from ioportal.core.numbers import grouped
from ioportal.ioservices.models import IOService
from ioportal.messaging.forms import TemplateForm
from tests.portal_forms import portal_forms

DJANGO_GENERIC = "Assicurati che questo valore contenga al massimo"


def _limited_text_fields() -> list[tuple[str, forms.CharField]]:
    return [
        (f"{form.__module__}.{form.__name__}.{name}", field)
        for form in portal_forms()
        for name, field in form.base_fields.items()
        if isinstance(field, forms.CharField) and field.max_length is not None
    ]


def test_every_text_field_with_a_limit_gives_the_portal_sentence() -> None:
    fields = _limited_text_fields()
    # The walk finds the forms: the subject of the template and of a single message at least.
    names = {name for name, _field in fields}
    assert {
        "ioportal.messaging.forms.TemplateForm.subject",
        "ioportal.messaging.forms.SingleMessageForm.subject",
        "ioportal.accounts.forms.InviteForm.email",
    } <= names
    offenders = {}
    with translation.override("it"):
        for name, field in fields:
            assert field.max_length is not None
            too_long = "a" * (field.max_length + 1)
            with pytest.raises(ValidationError) as raised:
                field.clean(too_long)
            messages = raised.value.messages
            expected = f"Scrivi al massimo {grouped(field.max_length)} caratteri"
            if any(DJANGO_GENERIC in m for m in messages) or not any(
                m.startswith(expected) for m in messages
            ):
                offenders[name] = messages
    assert offenders == {}
    assert all(isinstance(field, LimitedCharField) for _name, field in fields)


@pytest.mark.django_db
def test_the_template_subject_says_its_limit_with_grouped_numbers() -> None:
    form = TemplateForm(
        data={"name": "TARI", "subject": "a" * 1000, "markdown": "Testo"},
        services=IOService.objects.none(),
    )
    with translation.override("it"):
        assert form.errors["subject"] == ["Scrivi al massimo 500 caratteri (ora sono 1.000)."]
    with translation.override("en"):
        form = TemplateForm(
            data={"name": "TARI", "subject": "a" * 1000, "markdown": "Testo"},
            services=IOService.objects.none(),
        )
        assert form.errors["subject"] == ["Write at most 500 characters (there are 1,000 now)."]


def test_an_invited_user_name_and_email_say_their_limits() -> None:
    form = InviteForm(
        data={
            "email": "a" * 320 + "@example.it",
            "first_name": "b" * 151,
            "role": "operator",
        }
    )
    with translation.override("it"):
        assert form.errors["first_name"] == ["Scrivi al massimo 150 caratteri (ora sono 151)."]
        assert form.errors["email"] == ["Scrivi al massimo 320 caratteri (ora sono 331)."]
