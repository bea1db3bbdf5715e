"""What the pages say of a dispatch with uncertain outcomes and of the decisions on them: a
person's "marked as sent" counted apart from what IO confirmed, a completed dispatch that
says its uncertain outcomes wait for a decision, a resend that keeps the first end of
sending and adds its own events, the decisions in the dispatch's "Chi e quando"."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ioportal.accounts.models import Membership, Organization, User
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.messaging.retention import personal_data_until
from ioportal.retention.services import dispatches_due
from ioportal.sending import selectors, sweeper
from ioportal.sending.pages import timeline
from tests import builders
from tests.conftest import verified_login
from tests.sending.support import fiscal_codes, simulated_service

pytestmark = pytest.mark.django_db

# The second step of "Segna come inviati": its confirmation page, ticked.
MARK_SENT_CONFIRMED = {"step": "confirm", "confirm_mark_sent": "on"}


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)


@pytest.fixture
def people(organization: Organization) -> dict[str, User]:
    return {
        "author": builders.user(Membership.Role.OPERATOR, organization, username="autore"),
        "supervisor": builders.user(
            Membership.Role.SUPERVISOR, organization, username="supervisora"
        ),
    }


# When sending first ended, well before anything a test does.
FIRST_END = timezone.now() - timedelta(hours=2)


@pytest.fixture
def dispatch(organization: Organization, people: dict[str, User]) -> Dispatch:
    """A completed dispatch of 4 citizens: the first delivered (IO confirmed it), the three
    others uncertain."""
    service = builders.service(organization, **simulated_service(""))
    dispatch = builders.dispatch(
        service,
        people["author"],
        fiscal_codes(4),
        state=Dispatch.State.COMPLETED,
        started_at=FIRST_END - timedelta(minutes=5),
        finished_at=FIRST_END,
    )
    rows = list(dispatch.deliveries.order_by("row_number"))
    Delivery.objects.filter(pk=rows[0].pk).update(
        state=Delivery.State.PROCESSED,
        io_message_id="01JUNCERTA1NDEC1S10NS00001",
        submitted_at=FIRST_END,
        finished_at=FIRST_END,
    )
    Delivery.objects.filter(pk__in=[d.pk for d in rows[1:]]).update(
        state=Delivery.State.UNCERTAIN,
        last_error_code="ambiguous",
        uncertain_since=FIRST_END - timedelta(minutes=1),
    )
    return dispatch


def client_for(user: User) -> Client:
    return verified_login(Client(), user)


def _uncertain_ids(dispatch: Dispatch) -> list[str]:
    return [
        str(public_id)
        for public_id in dispatch.deliveries.filter(state=Delivery.State.UNCERTAIN)
        .order_by("row_number")
        .values_list("public_id", flat=True)
    ]


def _resolve(client: Client, dispatch: Dispatch, ids: list[str], decision: str) -> None:
    extra: dict[str, Any] = MARK_SENT_CONFIRMED if decision == "mark_sent" else {"confirm": "1"}
    response = client.post(
        reverse("sending:uncertain_resolve", args=[dispatch.public_id]),
        {"delivery": ids, "decision": decision, **extra},
    )
    assert response.status_code == 302


def _timeline_of(page: str) -> str:
    return page.split('id="dispatch-timeline"', 1)[1].split("</ol>", 1)[0]


def _count_on(page: str, key: str) -> str:
    return page.split(f'data-outcome="{key}">', 1)[1].split("</dd>", 1)[0]


# --- a person's statement is not IO's confirmation ------------------------------------------


def test_deliveries_marked_as_sent_are_counted_apart_from_those_io_confirmed(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    supervisor = client_for(people["supervisor"])
    _resolve(supervisor, dispatch, _uncertain_ids(dispatch)[:2], "mark_sent")

    outcome = selectors.outcomes(dispatch=dispatch)
    assert outcome["groups"]["delivered"] == 1  # what IO confirmed, unchanged
    assert outcome["groups"]["marked_sent"] == 2
    assert outcome["groups"]["uncertain"] == 1

    page = supervisor.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    text = page.content.decode()
    assert _count_on(text, "delivered").startswith("1 (25%)")
    assert _count_on(text, "marked_sent").startswith("2 (50%)")
    assert "Segnati come inviati da una persona" in text

    history = supervisor.get(reverse("sending:dispatch_list")).content.decode()
    assert '<span class="count-delivered">1</span>' in history
    assert '<span class="count-marked-sent">2</span>' in history

    # "N consegnati su M" (the dashboard's recent dispatches) counts only IO's.
    dashboard = client_for(people["author"]).get(reverse("dashboard:dashboard")).content
    assert "1 consegnato su 4 (2 segnati come inviati da una persona)" in dashboard.decode()


def test_the_outcome_filter_and_export_keep_marked_as_sent_apart(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    supervisor = client_for(people["supervisor"])
    _resolve(supervisor, dispatch, _uncertain_ids(dispatch)[:2], "mark_sent")
    url = reverse("reports:dispatch_deliveries_csv", args=[dispatch.public_id])
    delivered = b"".join(supervisor.get(url, {"esito": "delivered"}).streaming_content)
    marked = b"".join(supervisor.get(url, {"esito": "marked_sent"}).streaming_content)
    # The header and one row, the header and two rows.
    assert delivered.decode("utf-8-sig").strip().count("\n") == 1
    assert marked.decode("utf-8-sig").strip().count("\n") == 2
    assert "Segnato come inviato" in marked.decode("utf-8-sig")


# --- a completed dispatch with uncertain outcomes says they wait for a decision --------------


def test_a_completed_dispatch_with_uncertain_outcomes_says_they_wait_for_a_decision(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    detail = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    state = "Completato: 3 esiti incerti attendono una decisione"

    supervisor = client_for(people["supervisor"])
    page = supervisor.get(detail).content.decode()
    assert state in page
    banner = page.split('id="uncertain-to-decide"', 1)[1].split("</div>", 1)[0]
    assert "3 esiti incerti attendono una decisione" in banner
    assert 'href="#uncertain-title"' in banner and 'id="uncertain-title"' in page
    history = supervisor.get(reverse("sending:dispatch_list")).content.decode()
    assert state in history
    assert f'href="{detail}#uncertain-title"' in history

    # The author cannot decide: told who can, with no form.
    author = client_for(people["author"])
    page = author.get(detail).content.decode()
    assert state in page
    banner = page.split('id="uncertain-to-decide"', 1)[1].split("</div>", 1)[0]
    assert "Può decidere un supervisore o un amministratore" in banner
    assert 'id="uncertain-title"' not in page
    history = author.get(reverse("sending:dispatch_list")).content.decode()
    assert state in history
    assert "Decide un supervisore o un amministratore" in history

    # Once decided, "Completato" again, with no banner.
    _resolve(supervisor, dispatch, _uncertain_ids(dispatch), "mark_sent")
    page = supervisor.get(detail).content.decode()
    assert 'id="uncertain-to-decide"' not in page
    assert "attend" not in page.split('id="dispatch-state"', 1)[1].split("</p>", 1)[0]


def test_the_history_finds_the_dispatches_whose_uncertain_outcomes_wait(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    decided = builders.dispatch(
        dispatch.service, people["author"], fiscal_codes(4)[:1], state=Dispatch.State.COMPLETED
    )
    Dispatch.objects.filter(pk=decided.pk).update(title="Tutto deciso")
    Delivery.objects.filter(dispatch=decided).update(state=Delivery.State.MARKED_SENT)
    supervisor = client_for(people["supervisor"])
    url = reverse("sending:dispatch_list")
    page = supervisor.get(url, {"stato": "uncertain_to_decide"}).content.decode()
    assert dispatch.title in page and "Tutto deciso" not in page
    assert '<option value="uncertain_to_decide" selected>' in page
    _resolve(supervisor, dispatch, _uncertain_ids(dispatch), "mark_sent")
    page = supervisor.get(url, {"stato": "uncertain_to_decide"}).content.decode()
    assert "Nessun invio corrisponde ai filtri." in page


def test_one_uncertain_outcome_is_said_in_the_singular(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    supervisor = client_for(people["supervisor"])
    _resolve(supervisor, dispatch, _uncertain_ids(dispatch)[:2], "mark_sent")
    page = supervisor.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    assert "Completato: 1 esito incerto attende una decisione" in page.content.decode()


def test_the_pages_say_it_in_english_too(dispatch: Dispatch, people: dict[str, User]) -> None:
    supervisor = client_for(people["supervisor"])
    ids = _uncertain_ids(dispatch)
    _resolve(supervisor, dispatch, ids[:1], "mark_sent")
    detail = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    page = supervisor.get(detail, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Completed: 2 uncertain outcomes await a decision" in page
    assert "2 uncertain outcomes await a decision: IO may or may not have" in page
    assert "Marked as sent by a person" in page
    history = _timeline_of(page)
    assert "Uncertain outcome marked as sent by a person: 1 recipient (supervisora)" in history
    author = client_for(people["author"]).get(detail, HTTP_ACCEPT_LANGUAGE="en")
    assert "A supervisor or an administrator of the organisation can decide" in (
        author.content.decode()
    )


# --- a resend keeps the first end and adds its own events ------------------------------------


def _deliver_resent(dispatch: Dispatch) -> None:
    """The workers sent the resent deliveries and IO confirmed them; the sweeper ends the
    round."""
    for delivery in dispatch.deliveries.filter(state=Delivery.State.READY):
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.PROCESSED,
            io_message_id=f"01JRESENT{delivery.pk:017d}",
            finished_at=timezone.now(),
        )
    assert sweeper.complete_finished() == 1


def test_a_resend_keeps_the_first_end_of_sending_and_adds_its_own_events(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    supervisor = client_for(people["supervisor"])
    _resolve(supervisor, dispatch, _uncertain_ids(dispatch)[:1], "resend")
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.RUNNING
    assert dispatch.finished_at == FIRST_END

    running = [what for _w, what, _who in timeline(dispatch)]
    assert running.count("Invio terminato") == 1
    assert "Nuovo invio terminato" not in running

    _deliver_resent(dispatch)
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.COMPLETED
    assert dispatch.finished_at == FIRST_END  # never moved
    first_round_end = dispatch.resend_finished_at
    assert first_round_end is not None and first_round_end > FIRST_END

    # A second resend: the end of the first round stays in the history.
    _resolve(supervisor, dispatch, _uncertain_ids(dispatch)[:1], "resend")
    _deliver_resent(dispatch)
    dispatch.refresh_from_db()
    assert dispatch.finished_at == FIRST_END

    events = timeline(dispatch)
    whats = [what for _w, what, _who in events]
    assert whats == [
        "Creato",
        "Avviato",
        "Invio terminato",
        "Esito incerto inviato di nuovo: 1 destinatario",
        "Nuovo invio terminato",
        "Esito incerto inviato di nuovo: 1 destinatario",
        "Nuovo invio terminato",
    ]
    assert events[2][0] == FIRST_END
    assert events[3][2] == "supervisora"
    assert events[4][0] == first_round_end
    assert events[6][0] == dispatch.resend_finished_at

    page = supervisor.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    history = _timeline_of(page.content.decode())
    assert history.count("– Invio terminato") == 1
    assert "Esito incerto inviato di nuovo: 1 destinatario (supervisora)" in history


def test_a_resend_cancelled_ends_with_its_cancellation_and_keeps_the_first_end(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    supervisor = client_for(people["supervisor"])
    _resolve(supervisor, dispatch, _uncertain_ids(dispatch)[:1], "resend")
    supervisor.post(
        reverse("sending:dispatch_cancel", args=[dispatch.public_id]), {"confirm": "on"}
    )
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.CANCELLED
    assert dispatch.finished_at == FIRST_END
    assert dispatch.resend_finished_at is not None  # the retention counts from it
    whats = [what for _w, what, _who in timeline(dispatch)]
    assert whats[2:] == [
        "Invio terminato",
        "Esito incerto inviato di nuovo: 1 destinatario",
        "Annullato",
    ]


def test_a_retry_of_failed_messages_keeps_the_first_end_of_sending(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    last = dispatch.deliveries.order_by("row_number").last()
    assert last is not None
    Delivery.objects.filter(pk=last.pk).update(
        state=Delivery.State.FAILED, last_error_code="retries_exhausted"
    )
    supervisor = client_for(people["supervisor"])
    supervisor.post(reverse("sending:dispatch_retry_failed", args=[dispatch.public_id]))
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.RUNNING
    assert dispatch.finished_at == FIRST_END
    whats = [what for _w, what, _who in timeline(dispatch)]
    assert whats[-2:] == ["Invio terminato", "Nuovo tentativo per 1 messaggio non riuscito"]


def test_personal_data_are_kept_from_the_last_end_of_sending(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    """The retention counts from when sending last ended, as it did when a resend moved the
    end: the first end stays for the history only."""
    _resolve(client_for(people["supervisor"]), dispatch, _uncertain_ids(dispatch)[:1], "resend")
    _deliver_resent(dispatch)
    dispatch.refresh_from_db()
    days = dispatch.organization.retention_days
    assert dispatch.resend_finished_at is not None
    assert personal_data_until(dispatch) == dispatch.resend_finished_at + timedelta(days=days)
    organization = dispatch.organization
    just_after_first = FIRST_END + timedelta(days=days, minutes=1)
    assert not dispatches_due(organization=organization, now=just_after_first).exists()
    later = dispatch.resend_finished_at + timedelta(days=days, minutes=1)
    assert list(dispatches_due(organization=organization, now=later)) == [dispatch]


# --- the decisions in "Chi e quando" ---------------------------------------------------------


def test_the_decisions_on_uncertain_outcomes_are_in_the_dispatch_history(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    supervisor = client_for(people["supervisor"])
    ids = _uncertain_ids(dispatch)
    _resolve(supervisor, dispatch, ids[:2], "mark_sent")
    _resolve(supervisor, dispatch, ids[2:], "resend")
    detail = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    for user in ("supervisor", "author"):
        history = _timeline_of(client_for(people[user]).get(detail).content.decode())
        assert (
            "Esiti incerti segnati come inviati da una persona: 2 destinatari (supervisora)"
            in history
        ), user
        assert "Esito incerto inviato di nuovo: 1 destinatario (supervisora)" in history, user
