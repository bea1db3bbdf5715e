"""Integer fields of the portal's forms read thousands separators as thousands (the portal
prints a thousand as "1.000") and refuse what could be read two ways, never saving another
number: Django's IntegerField reads "1.000" as 1 (it drops a trailing ".000")."""

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from ioportal.accounts.forms import OrganizationForm
from ioportal.core.forms import WholeNumberField, parse_whole_number
from ioportal.ioservices.forms import PremiumCarnetForm
from ioportal.ioservices.models import PremiumCarnet
from ioportal.messaging.forms import ApprovalPolicyForm, FollowUpForm, ScheduleForm
from ioportal.retention.forms import RetentionForm
from tests import builders
from tests.portal_forms import portal_forms

# Every integer field a person types into: (form, field).
TYPED_INTEGERS = [
    (PremiumCarnetForm, "purchased"),
    (ScheduleForm, "daily_cap"),
    (ApprovalPolicyForm, "threshold"),
    (FollowUpForm, "days"),
    (RetentionForm, "retention_days"),
    (OrganizationForm, "custom_rate_limit"),
]


@pytest.mark.parametrize(("form", "name"), TYPED_INTEGERS)
@pytest.mark.parametrize("typed", ["1.000", "1000", " 1 000 ", "1\u00a0000"])
def test_italian_thousands_are_thousands(form, name, typed) -> None:
    with translation.override("it"):
        assert form.base_fields[name].clean(typed) == 1000


@pytest.mark.parametrize(("form", "name"), TYPED_INTEGERS)
@pytest.mark.parametrize("typed", ["1,5", "1.5", "1.00", "1.000,00", "1,000", "10.00.000", "1e3"])
def test_italian_ambiguous_numbers_are_refused(form, name, typed) -> None:
    with translation.override("it"), pytest.raises(ValidationError) as refused:
        form.base_fields[name].clean(typed)
    assert "numero intero" in str(refused.value) or "giorni" in str(refused.value)


@pytest.mark.parametrize(("form", "name"), TYPED_INTEGERS)
def test_english_thousands_are_thousands_and_a_point_is_refused(form, name) -> None:
    with translation.override("en"):
        assert form.base_fields[name].clean("1,000") == 1000
        with pytest.raises(ValidationError):
            form.base_fields[name].clean("1.000")


def test_the_message_shows_the_language_grouping() -> None:
    with translation.override("it"), pytest.raises(ValidationError) as refused:
        WholeNumberField().clean("1,5")
    assert refused.value.messages == [
        "Scrivi un numero intero, senza decimali: per esempio 1000 oppure 1.000."
    ]
    with translation.override("en"):
        with pytest.raises(ValidationError) as refused:
            WholeNumberField().clean("1.5")
        assert refused.value.messages == [
            "Write a whole number without decimals: for example 1000 or 1,000."
        ]


def test_parse_keeps_signs_and_groups_of_three() -> None:
    with translation.override("it"):
        assert parse_whole_number("-2.000") == -2000
        assert parse_whole_number("1.000.000") == 1_000_000
        assert parse_whole_number("1.0000") is None
        assert parse_whole_number("") is None


def test_no_form_of_the_portal_uses_django_integer_field() -> None:
    offenders = [
        f"{form.__module__}.{form.__name__}.{name}"
        for form in portal_forms()
        for name, field in form.base_fields.items()
        if isinstance(field, forms.IntegerField)
        and not isinstance(field, (WholeNumberField, forms.DecimalField))
    ]
    assert offenders == []
    typed = {
        f"{form.__name__}.{name}"
        for form in portal_forms()
        for name, field in form.base_fields.items()
        if isinstance(field, WholeNumberField)
    }
    assert typed == {f"{form.__name__}.{name}" for form, name in TYPED_INTEGERS}


@pytest.mark.django_db
def test_carnet_page_saves_a_thousand_typed_the_italian_way(
    client, login, admin_user, organization
):
    service = builders.service(organization, premium_enabled=True, test_mode=False)
    login(admin_user)
    data = {"starts_on": "2026-01-01", "ends_on": "2026-12-31", "purchased": "1.000"}
    response = client.post(reverse("messaging:carnet_create", args=[service.public_id]), data)
    assert response.status_code == 302
    assert PremiumCarnet.objects.get().purchased == 1000
    page = client.post(
        reverse("messaging:carnet_create", args=[service.public_id]),
        {**data, "starts_on": "2027-01-01", "ends_on": "2027-12-31", "purchased": "1,5"},
    ).content.decode()
    assert "Scrivi un numero intero" in page
    assert PremiumCarnet.objects.count() == 1
