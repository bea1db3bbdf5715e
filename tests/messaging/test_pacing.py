"""Pacing on the confirmation page: deadline and daily cap, validated against the account's
rate and the send windows, stored on the dispatch; the estimate of the last message."""

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from ioportal.messaging.models import Dispatch
from ioportal.messaging.windows import PRESET_WORKING_DAYS, describe_moment, hours_to_stored
from ioportal.sending.models import SendWindowPolicy
from tests import builders
from tests.sending.support import fiscal_codes

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(organization):
    """A service in production mode: every valid row is sent to (in test mode the builders'
    rows would all be skipped, and nothing would take time to send)."""
    return builders.service(organization, test_mode=False)


@pytest.fixture
def own_list(production, organization, operator_user):
    return builders.recipient_list(
        builders.template(organization, operator_user), production, operator_user
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
    # From tomorrow at 10:00: a paced dispatch without windows sends 08:00–20:00, so the
    # day of the last message does not depend on the hour the test runs.
    start = (timezone.localtime() + timedelta(days=1)).replace(hour=10, minute=0)
    response = post(
        client, own_list, daily_cap="1", stima="1", when="later", scheduled_at=local(start)
    )
    assert response.status_code == 200
    text = response.content.decode()
    # The cap is a sentence of its own, not a clause of the account's rate.
    assert "Al giorno parte al massimo 1 messaggio." in text
    assert "al minuto, al massimo" not in text
    english = client.post(
        reverse("messaging:list_confirm", args=[own_list.public_id]),
        {
            "when": "now",
            "launch_token": str(own_list.launch_token),
            "daily_cap": "1000",
            "stima": "1",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    assert "At most 1,000 messages are sent a day." in english
    # 2 valid rows at 1 a day: the last goes the day after the start, at 08:00.
    following = start + timedelta(days=1)
    assert f"{following.day} " in text.split("Stima:")[1][:120]
    assert "08:00" in text.split("Stima:")[1][:120]
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
    # Windows only on one day a week, a minute long, three days from today: a deadline within
    # the next hour, before which no window opens, cannot be met (whatever the day and hour
    # the test runs at).
    day = (timezone.localtime().weekday() + 3) % 7
    SendWindowPolicy.objects.create(
        organization=organization, enabled=True, hours={str(day): ["03:00", "03:01"]}
    )
    login(operator_user)
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
    assert "Al massimo 2.000 messaggi al giorno." in summary


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


def stima(text: str) -> str:
    """The text of the estimate's box, spaces collapsed."""
    box = text.split('id="stima-invio">', 1)[1].split("</div>\n<form", 1)[0]
    return " ".join(box.split())


def day_of(moment) -> str:
    """The date part of a moment as the pages write it: "mercoledì 9 dicembre 2026"."""
    return describe_moment(moment).rsplit(",", 1)[0]


def test_a_deadline_without_windows_spreads_over_every_day(
    client, login, operator_user, organization, production
) -> None:
    """No windows ("In qualsiasi momento"): 1,200 due in four days (today and three more)
    go 300 a day, the last on the fourth day, and the page says so."""
    rows = "".join(f"{code};Cittadino;10\n" for code in fiscal_codes(1200))
    big = builders.recipient_list(
        builders.template(organization, operator_user),
        production,
        operator_user,
        ("Codice fiscale;Nome;Importo\n" + rows).encode(),
    )
    assert big.valid_count == 1200
    login(operator_user)
    today = timezone.localtime()
    # Started tomorrow at 10:00 (a paced dispatch without windows sends 08:00–20:00: today
    # may have no daytime left when the test runs), due four days later.
    start = (today + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    by = (start + timedelta(days=3)).replace(hour=20)
    response = post(
        client, big, when="later", scheduled_at=local(start), send_by=local(by), stima="1"
    )
    text = response.content.decode()
    box = stima(text)
    assert (
        "I messaggi si distribuiscono in parti uguali su ogni giorno fino alla scadenza, "
        "dalle 8 alle 20: 300 il primo giorno." in box
    )
    assert "al minuto, distribuiti" not in box and "al minuto." in box
    assert "finestre di invio" not in box
    assert f"l'ultimo messaggio partirà {day_of(by)}" in box.replace("&#x27;", "'")
    assert day_of(today) not in box
    # Numbers grouped the Italian way.
    assert 'id="confirm-valid">1.200<' in text and "Invia a 1.200 cittadini" in text
    result = client.get(reverse("messaging:list_result", args=[big.public_id])).content.decode()
    assert 'id="valid-count">1.200<' in result
    assert not Dispatch.objects.filter(kind=Dispatch.Kind.LIST).exists()


def test_a_refused_pacing_shows_no_stale_estimate(client, login, operator_user, own_list) -> None:
    login(operator_user)
    # 2 at 1 a day cannot go within the hour: refused, and no estimate of another pacing.
    refused = post(
        client, own_list, daily_cap="1", send_by=local(timezone.now() + timedelta(hours=1))
    )
    text = refused.content.decode()
    assert "dopo la scadenza" in text
    box = stima(text)
    assert "Stima:" not in box and 'id="stima-non-disponibile"' in text
    # The same for a start in the past or the estimate button with an invalid cap.
    past = post(
        client, own_list, when="later", scheduled_at=local(timezone.now() - timedelta(hours=1))
    )
    assert "Stima:" not in stima(past.content.decode())
    zero = post(client, own_list, daily_cap="0", stima="1")
    assert "Stima:" not in stima(zero.content.decode())
    # A valid request gets its estimate back.
    fine = post(client, own_list, daily_cap="1", stima="1")
    assert "Stima:" in stima(fine.content.decode())


def test_test_mode_counts_only_those_really_sent_to(
    client, login, operator_user, organization
) -> None:
    # Two valid rows; only the second citizen is authorised: one is sent to, one skipped.
    testing = builders.service(
        organization, test_mode=True, authorized_recipients=["VRDGPP75C15F205S"]
    )
    recipient_list = builders.recipient_list(
        builders.template(organization, operator_user), testing, operator_user
    )
    login(operator_user)
    text = client.get(reverse("messaging:list_confirm", args=[recipient_list.public_id]))
    page = " ".join(text.content.decode().split())
    assert "1 destinatario su 2 non è autorizzato" in page
    assert "Invia a 1 cittadino (saltati: 1)" in page
    assert "Invia a 2 cittadini" not in page


def test_no_estimate_when_every_recipient_is_skipped(
    client, login, operator_user, organization
) -> None:
    # The builders' service is in test mode with only the sandbox authorised: both valid rows
    # are skipped, nothing goes to IO, so no moment of a last message.
    skipped = builders.recipient_list(
        builders.template(organization, operator_user),
        builders.service(organization),
        operator_user,
    )
    login(operator_user)
    text = client.get(reverse("messaging:list_confirm", args=[skipped.public_id])).content
    box = stima(text.decode())
    assert "Nessun messaggio partirà" in box and "Stima:" not in box
    assert "Invia a 0 cittadini (saltati: 2)" in text.decode()


def test_pacing_errors_are_shown_with_the_others(client, login, operator_user, own_list) -> None:
    """A deadline that cannot be met is reported together with another field's error, not
    only once that one is fixed."""
    login(operator_user)
    response = post(
        client,
        own_list,
        when="later",
        scheduled_at="non una data",
        send_by=local(timezone.now() - timedelta(hours=1)),
    )
    errors = response.context["form"].errors
    assert "scheduled_at" in errors
    assert errors["send_by"] == ["La scadenza deve essere nel futuro."]
    # With an unreadable daily cap, the deadline's own checks still run.
    response = post(
        client,
        own_list,
        daily_cap="molti",
        send_by=local(timezone.now() + timedelta(days=90)),
    )
    errors = response.context["form"].errors
    assert "daily_cap" in errors
    assert "al massimo 60 giorni" in errors["send_by"][0]
    assert not Dispatch.objects.filter(kind=Dispatch.Kind.LIST).exists()


def test_a_daily_cap_has_a_sensible_maximum(client, login, operator_user, own_list) -> None:
    login(operator_user)
    response = post(client, own_list, daily_cap="1.000.001")
    assert response.context["form"].errors["daily_cap"] == [
        "Il massimo giornaliero può essere al più 1.000.000 messaggi: per non porre un "
        "limite, lascia vuoto il campo."
    ]
    assert not Dispatch.objects.filter(kind=Dispatch.Kind.LIST).exists()
    response = post(client, own_list, daily_cap="1.000.000")
    assert response.status_code == 302
    assert Dispatch.objects.get(kind=Dispatch.Kind.LIST).daily_cap == 1_000_000


def test_without_windows_a_missed_deadline_blames_daytime_not_windows(
    client, login, operator_user, own_list, organization
) -> None:
    """Without windows, the reason a deadline cannot be met is sending in daytime only, not
    send windows the organization does not have; with windows, the windows are named."""
    login(operator_user)
    # Tomorrow at 21:00, due at 23:00: no daytime between them.
    start = (timezone.localtime() + timedelta(days=1)).replace(hour=21, minute=0)
    by = start + timedelta(hours=2)
    fields = {"when": "later", "scheduled_at": local(start), "send_by": local(by)}
    for extra, opening in (({}, "Con il limite"), ({"daily_cap": "5"}, "Con al massimo 5")):
        text = post(client, own_list, **fields, **extra).content.decode().replace("&#x27;", "'")
        assert opening in text and "dopo la scadenza" in text
        assert "l'invio solo di giorno (dalle 8 alle 20" in text
        assert "finestre di invio dell'ente" not in text
    english = client.post(
        reverse("messaging:list_confirm", args=[own_list.public_id]),
        {"launch_token": str(own_list.launch_token), **fields},
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    assert "sending in daytime only (8:00 to 20:00" in english
    assert "send windows, the last" not in english
    SendWindowPolicy.objects.create(
        organization=organization, enabled=True, hours={"0": ["03:00", "03:01"]}
    )
    text = post(client, own_list, **fields).content.decode().replace("&#x27;", "'")
    assert "finestre di invio dell'ente" in text and "l'invio solo di giorno" not in text
    assert not Dispatch.objects.filter(kind=Dispatch.Kind.LIST).exists()


def test_a_daily_cap_without_windows_says_daytime(
    client, login, operator_user, own_list, woken
) -> None:
    """A cap alone, without windows, is sent 08:00–20:00: the help texts, the estimate and
    the dispatch's page say so."""
    login(operator_user)
    page = client.get(reverse("messaging:list_confirm", args=[own_list.public_id]))
    form = page.context["form"]
    assert "dalle 8 alle 20" in str(form.fields["daily_cap"].help_text)
    assert "dalle 8 alle 20" in str(form.fields["send_by"].help_text)
    start = (timezone.localtime() + timedelta(days=1)).replace(hour=10, minute=0)
    later = {"when": "later", "scheduled_at": local(start)}
    box = stima(post(client, own_list, daily_cap="10", stima="1", **later).content.decode())
    assert "Al giorno partono al massimo 10 messaggi." in box
    assert "un invio distribuito parte solo di giorno, dalle 8 alle 20." in box
    # Not paced: no daytime.
    box = stima(post(client, own_list, stima="1", **later).content.decode())
    assert "dalle 8 alle 20" not in box
    response = post(client, own_list, daily_cap="10")
    assert response.status_code == 302
    summary = client.get(response.url).content.decode()
    assert "Al massimo 10 messaggi al giorno, dalle 8 alle 20." in summary


def test_english_refused_estimate_names_the_english_button(
    client, login, operator_user, own_list
) -> None:
    login(operator_user)
    text = client.post(
        reverse("messaging:list_confirm", args=[own_list.public_id]),
        {"when": "now", "launch_token": str(own_list.launch_token), "daily_cap": "0"},
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    notice = text.split('id="stima-non-disponibile">', 1)[1].split("</p>", 1)[0]
    assert "Calculate when the last message goes" in notice
    assert "Calcola" not in notice
    italian = post(client, own_list, daily_cap="0").content.decode()
    assert "premi di nuovo «Calcola quando parte l'ultimo messaggio»." in italian


def test_an_invalid_scheduled_time_has_one_error_and_is_ignored_when_sending_now(
    client, login, operator_user, own_list, woken
) -> None:
    login(operator_user)
    response = post(client, own_list, when="later", scheduled_at="2026-02-31T10:00")
    assert response.context["form"].errors["scheduled_at"] == ["Inserisci una data/ora valida."]
    empty = post(client, own_list, when="later", scheduled_at="")
    assert empty.context["form"].errors["scheduled_at"] == ["Indica data e ora dell'invio."]
    assert not Dispatch.objects.filter(kind=Dispatch.Kind.LIST).exists()
    now = post(client, own_list, when="now", scheduled_at="2026-02-31T10:00")
    assert now.status_code == 302
    assert Dispatch.objects.get(kind=Dispatch.Kind.LIST).scheduled_at is None


def test_a_scheduled_launch_says_when_it_will_go(
    client, login, operator_user, own_list, woken
) -> None:
    login(operator_user)
    start = (timezone.localtime() + timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    response = post(client, own_list, when="later", scheduled_at=local(start))
    assert response.status_code == 302
    dispatch = Dispatch.objects.get(kind=Dispatch.Kind.LIST)
    assert dispatch.state == Dispatch.State.SCHEDULED
    page = client.get(response.url).content.decode().replace("&#x27;", "'")
    assert f"Invio programmato per {describe_moment(start)}." in page
    assert "Invio avviato." not in page
