"""Pacing on the confirmation page: deadline and daily cap, validated against the account's
rate and the send windows, stored on the dispatch; the estimate of the last message."""

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from ioportal.messaging.models import Dispatch
from ioportal.messaging.windows import PRESET_WORKING_DAYS, hours_to_stored
from ioportal.sending.models import SendWindowPolicy
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_list(service, organization, operator_user):
    return builders.recipient_list(
        builders.template(organization, operator_user), service, operator_user
    )


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def post(client, recipient_list, **fields: Any):
    data = {"when": "now", "launch_token": str(recipient_list.launch_token), **fields}
    return client.post(reverse("messaging:list_confirm", args=[recipient_list.public_id]), data)


def test_confirm_page_shows_the_estimate(client, login, operator_user, own_list) -> None:
    login(operator_user)
    page = client.get(reverse("messaging:list_confirm", args=[own_list.public_id]))
    text = page.content.decode()
    assert "Stima: l'ultimo messaggio partirà" in text
    assert "messaggi al minuto" in text
    assert 'name="send_by"' in text and 'name="daily_cap"' in text
    assert "La finestra di invio è chiusa" not in text  # no windows: sends at once


def test_estimate_button_does_not_launch(client, login, operator_user, own_list) -> None:
    login(operator_user)
    response = post(client, own_list, daily_cap="1", stima="1")
    assert response.status_code == 200
    text = response.content.decode()
    assert "al massimo 1 al giorno" in text
    # 2 valid rows at 1 a day: the last goes tomorrow (local day), not today.
    tomorrow = timezone.localtime() + timedelta(days=1)
    assert f"{tomorrow.day} " in text.split("Stima:")[1][:120]
    assert not Dispatch.objects.filter(kind=Dispatch.Kind.LIST).exists()


def test_a_deadline_the_cap_cannot_meet_is_refused(client, login, operator_user, own_list) -> None:
    login(operator_user)
    by = timezone.now() + timedelta(hours=1)
    response = post(client, own_list, daily_cap="1", send_by=local(by))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Con al massimo 1 messaggio al giorno" in text
    assert "dopo la scadenza" in text and "Aumenta il massimo giornaliero" in text
    # No article to agree with the number ("dei 8", "dei 11" are wrong Italian).
    assert "ultimo messaggio (di " in text and "ultimo dei " not in text
    assert not Dispatch.objects.filter(kind=Dispatch.Kind.LIST).exists()


def test_a_deadline_in_the_past_or_too_far_is_refused(
    client, login, operator_user, own_list
) -> None:
    login(operator_user)
    past = post(client, own_list, send_by=local(timezone.now() - timedelta(hours=1)))
    assert "La scadenza deve venire dopo l&#x27;inizio dell&#x27;invio" in past.content.decode()
    far = post(client, own_list, send_by=local(timezone.now() + timedelta(days=90)))
    assert "al massimo 60 giorni" in far.content.decode()
    zero = post(client, own_list, daily_cap="0")
    assert zero.status_code == 200 and "daily_cap" in zero.content.decode()
    assert not Dispatch.objects.filter(kind=Dispatch.Kind.LIST).exists()


def test_a_deadline_outside_every_window_is_refused(
    client, login, operator_user, own_list, organization
) -> None:
    # Windows only on one day a week, two hours: a deadline within the next hour, when no
    # window may open before it, cannot be met unless the window is open right now.
    SendWindowPolicy.objects.create(
        organization=organization, enabled=True, hours={"0": ["03:00", "03:01"]}
    )
    login(operator_user)
    now = timezone.localtime()
    if now.weekday() == 0 and now.hour == 3:
        pytest.skip("the test's only window is open right now")
    response = post(client, own_list, send_by=local(timezone.now() + timedelta(hours=1)))
    assert "Con il limite dell&#x27;account IO e le finestre di invio" in response.content.decode()


def test_pacing_is_stored_on_the_dispatch(
    client, login, operator_user, own_list, woken, organization
) -> None:
    SendWindowPolicy.objects.create(
        organization=organization,
        enabled=True,
        hours=hours_to_stored(PRESET_WORKING_DAYS.hours),
    )
    login(operator_user)
    by = timezone.now() + timedelta(days=10)
    response = post(client, own_list, daily_cap="2000", send_by=local(by))
    assert response.status_code == 302
    dispatch = Dispatch.objects.get(kind=Dispatch.Kind.LIST)
    assert dispatch.daily_cap == 2000
    assert dispatch.send_by is not None
    assert abs(dispatch.send_by - by) < timedelta(minutes=1)
    summary = client.get(response.url).content.decode()
    assert "Al massimo 2000 messaggi al giorno." in summary


def test_other_organization_cannot_confirm(client, login, other_organization, own_list) -> None:
    from ioportal.accounts.models import Membership

    login(builders.user(Membership.Role.ADMIN, other_organization))
    response = post(client, own_list, daily_cap="5")
    assert response.status_code == 404
    assert not Dispatch.objects.filter(kind=Dispatch.Kind.LIST).exists()


def test_an_account_without_calls_gives_no_500(
    client, login, operator_user, own_list, organization
) -> None:
    from ioportal.accounts.models import Organization

    Organization.objects.filter(pk=organization.pk).update(
        rate_tier=Organization.RateTier.CUSTOM, custom_rate_limit=0
    )
    login(operator_user)
    page = client.get(reverse("messaging:list_confirm", args=[own_list.public_id]))
    assert "fra più di un anno" in page.content.decode()
    refused = post(client, own_list, send_by=local(timezone.now() + timedelta(days=2)))
    assert "dopo la scadenza" in refused.content.decode()
