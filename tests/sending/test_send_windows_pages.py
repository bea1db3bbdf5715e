"""The send windows page (admins only, audited), and the waiting notice on dispatch pages."""

import re
import time
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import translation

from ioportal.accounts.models import Membership, Organization
from ioportal.core.models import AuditEvent
from ioportal.messaging.windows import ROME
from ioportal.sending import clock
from ioportal.sending.audit import Action
from ioportal.sending.gate import Waiting
from ioportal.sending.models import SendWindowPolicy
from tests import builders
from tests.conftest import verified_login
from tests.sending.support import fiscal_codes, simulated_service

pytestmark = pytest.mark.django_db
URL = "/invii/finestre/"


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)


def form_data(**changes: str) -> dict[str, str]:
    data = {"enabled": "1", "skip_holidays": "on"}
    for day in range(6):
        data |= {f"day_{day}": "on", f"start_{day}": "08:00", f"end_{day}": "20:00"}
    data |= {"start_6": "08:00", "end_6": "20:00"}
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_url_name() -> None:
    assert reverse("sending:send_windows") == URL


@pytest.mark.parametrize("role", [Membership.Role.OPERATOR, Membership.Role.SUPERVISOR])
def test_only_admins(role: str, organization: Organization) -> None:
    client = verified_login(Client(), builders.user(role, organization))
    assert client.get(URL).status_code == 403
    assert client.post(URL, form_data()).status_code == 403
    assert not SendWindowPolicy.objects.exists()


def test_anonymous_goes_to_sign_in() -> None:
    response = Client().get(URL)
    assert response.status_code == 302 and "accesso" in response.url


@pytest.mark.parametrize("enabled", ["maybe", ""])
def test_an_invalid_choice_is_refused_with_an_italian_error(admin_user: Any, enabled: str) -> None:
    response = verified_login(Client(), admin_user).post(URL, form_data(enabled=enabled))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="errori-finestre"' in page
    assert "Scegli quando possono arrivare i messaggi" in page
    assert not SendWindowPolicy.objects.exists()


def test_default_is_no_window(admin_user: Any) -> None:
    page = verified_login(Client(), admin_user).get(URL).content.decode()
    assert "i messaggi partono subito" in page
    assert 'value="0" id="id_enabled_0" checked' in page


def test_preset_fills_the_form_without_saving(admin_user: Any) -> None:
    client = verified_login(Client(), admin_user)
    page = client.post(URL, {"preset": "1"}).content.decode()
    assert "controlla e salva" in page
    assert 'value="1" id="id_enabled_1" checked' in page
    assert 'name="day_5" id="id_day_5" checked' in page  # Saturday
    assert 'name="day_6" id="id_day_6">' in page  # Sunday not ticked
    assert 'value="08:00"' in page and 'value="20:00"' in page
    assert not SendWindowPolicy.objects.exists()


def test_save_is_audited_once_per_change(admin_user: Any, organization: Organization) -> None:
    client = verified_login(Client(), admin_user)
    response = client.post(URL, form_data())
    assert response.status_code == 302
    policy = SendWindowPolicy.objects.get(organization=organization)
    assert policy.enabled and policy.skip_holidays
    assert policy.hours == {str(d): ["08:00", "20:00"] for d in range(6)}
    events = AuditEvent.objects.filter(action=Action.SEND_WINDOWS_CHANGED)
    assert events.count() == 1 and events.get().organization_id == organization.pk
    client.post(URL, form_data())  # unchanged: no new event
    assert events.count() == 1
    client.post(URL, form_data(day_5="", end_0="00:00"))
    policy.refresh_from_db()
    assert "5" not in policy.hours and policy.hours["0"] == ["08:00", "00:00"]
    assert events.count() == 2
    page = client.get(URL).content.decode()
    assert "La finestra è" in page


def test_an_admin_sets_only_their_own_organization(
    organization: Organization, other_organization: Organization
) -> None:
    outsider = builders.user(Membership.Role.ADMIN, other_organization)
    verified_login(Client(), outsider).post(URL, form_data())
    assert not SendWindowPolicy.objects.filter(organization=organization).exists()
    assert SendWindowPolicy.objects.filter(organization=other_organization).exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({**{f"day_{d}": "" for d in range(7)}}, "Scegli almeno un giorno"),
        ({"start_2": "20:00", "end_2": "08:00"}, "Per mercoledì l&#x27;ora di fine deve venire"),
        ({"start_3": ""}, "Indica l&#x27;ora di inizio e quella di fine per giovedì."),
        ({"start_1": "25:99"}, "Per martedì l&#x27;ora di inizio non è valida"),
        ({"end_4": "8.30"}, "Per venerdì l&#x27;ora di fine non è valida"),
    ],
)
def test_invalid_windows_are_refused_in_italian(
    admin_user: Any, changes: dict[str, str], message: str
) -> None:
    response = verified_login(Client(), admin_user).post(URL, form_data(**changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SendWindowPolicy.objects.exists()


def test_no_window_needed_when_sending_at_any_time(admin_user: Any) -> None:
    data = form_data(enabled="0", **{f"day_{d}": "" for d in range(7)})
    assert verified_login(Client(), admin_user).post(URL, data).status_code == 302
    assert SendWindowPolicy.objects.get().enabled is False


def test_dispatch_pages_say_until_when_they_wait(
    organization: Organization,
    admin_user: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = verified_login(Client(), admin_user)
    client.post(URL, form_data())
    sunday = datetime(2026, 12, 13, 12, 0, tzinfo=ROME).timestamp()
    monkeypatch.setattr(clock, "time", lambda: sunday + (time.time() % 1))
    clock.forget()
    dispatch = builders.dispatch(
        builders.service(organization, **simulated_service("")), admin_user, fiscal_codes(2)
    )
    for url in (
        reverse("sending:dispatch_detail", args=[dispatch.public_id]),
        # The old address of a dispatch leads to the one dispatch page.
        reverse("messaging:dispatch_summary", args=[dispatch.public_id]),
    ):
        page = client.get(url, follow=True).content.decode()
        assert "In attesa della finestra di invio fino a lunedì 14 dicembre 2026, 08:00" in page
    clock.forget()


def test_single_message_page_says_the_window_is_closed(
    organization: Organization, admin_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = verified_login(Client(), admin_user)
    single = reverse("messaging:single")
    assert "finestra-chiusa" not in client.get(single).content.decode()
    client.post(URL, form_data())
    sunday = datetime(2026, 12, 13, 12, 0, tzinfo=ROME).timestamp()
    monkeypatch.setattr(clock, "time", lambda: sunday)
    page = client.get(single).content.decode()
    assert "il messaggio resterà in coda fino a lunedì 14 dicembre 2026, 08:00" in page


@pytest.mark.parametrize(
    ("reason", "expected", "absent"),
    [
        (
            "daily_quota",
            "Raggiunto il numero di messaggi previsto per oggi: l'invio riprende lunedì "
            "7 dicembre 2026, 00:00.",
            "finestra",
        ),
        ("window", "In attesa della finestra di invio fino a lunedì 7 dicembre 2026, 00:00.", ""),
    ],
)
def test_waiting_notice_blames_a_window_only_when_waiting_for_one(
    reason: str, expected: str, absent: str
) -> None:
    until = datetime(2026, 12, 7, 0, 0, tzinfo=ROME)
    dispatch = SimpleNamespace(send_by=None, daily_cap=5)
    with translation.override("it"):
        html = render_to_string(
            "sending/_waiting.html", {"dispatch": dispatch, "waiting": Waiting(reason, until)}
        )
    notice = html.split('id="attesa-finestra">', 1)[1]
    assert expected in " ".join(notice.split())
    if absent:
        assert absent not in notice


def test_dispatch_page_describes_the_spread_as_it_is(
    organization: Organization, admin_user: Any
) -> None:
    """Without windows a deadline spreads the messages over every day; the page does not
    speak of days with a send window the organization does not have. Numbers are grouped the
    Italian way."""
    client = verified_login(Client(), admin_user)
    dispatch = builders.dispatch(
        builders.service(organization, **simulated_service("")),
        admin_user,
        fiscal_codes(2),
        send_by=datetime(2026, 12, 12, 20, 0, tzinfo=ROME),
        daily_cap=2000,
    )
    url = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    pacing = client.get(url).content.decode().split('id="ritmo-invio">', 1)[1].split("</p>")[0]
    assert "su ogni giorno fino alla scadenza" in pacing
    assert "finestra di invio" not in pacing
    assert "Al massimo 2.000 messaggi al giorno." in pacing
    client.post(URL, form_data())
    pacing = client.get(url).content.decode().split('id="ritmo-invio">', 1)[1].split("</p>")[0]
    assert "sui giorni con una finestra di invio" in pacing


def test_without_windows_the_page_says_paced_dispatches_go_in_daytime(admin_user: Any) -> None:
    """The help text of the choice is shown, tied to its radios, and the state line says a
    dispatch with a deadline or a daily cap still goes 08:00–20:00."""
    page = verified_login(Client(), admin_user).get(URL).content.decode()
    state = page.split('id="stato-finestra">', 1)[1].split("</p>", 1)[0]
    assert "un invio con una scadenza o un massimo giornaliero" in state
    assert "dalle 8 alle 20" in state
    assert 'aria-describedby="aiuto-quando"' in page
    help_text = page.split('id="aiuto-quando">', 1)[1].split("</p>", 1)[0]
    assert "parte comunque solo di giorno, dalle 8 alle 20." in help_text
    english = (
        verified_login(Client(), admin_user)
        .get(URL, HTTP_ACCEPT_LANGUAGE="en")
        .content.decode()
        .split('id="stato-finestra">', 1)[1]
        .split("</p>", 1)[0]
    )
    assert "from 8:00 to 20:00" in english


def test_hours_saved_while_the_windows_are_off_read_as_off_in_the_log(
    admin_user: Any, organization: Organization
) -> None:
    """Hours saved with «In qualsiasi momento» do not read as windows switched on."""
    client = verified_login(Client(), admin_user)
    client.post(URL, form_data(enabled="0"))
    event = AuditEvent.objects.get(action=Action.SEND_WINDOWS_CHANGED)
    assert event.changes["enabled"] is False

    page = _log_text(client)

    assert "Finestre di invio: spente" in page
    assert "Orari: da — a lunedì 08:00–20:00" in page
    client.post(URL, form_data())
    assert "Finestre di invio: da spente a attive" in _log_text(client)


def _log_text(client: Client) -> str:
    page = client.get(reverse("dashboard:audit_list")).content.decode()
    return " ".join(re.sub(r"<[^>]+>", "", page).split())
