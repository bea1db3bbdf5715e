"""Supervision pages: the one access rule for dispatches and deliveries, the history, the
dispatch page, the delivery page and the fiscal-code search; query counts bounded."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core.models import AuditEvent
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.sending import selectors
from ioportal.sending.models import ApiCall
from tests import builders
from tests.conftest import citizen_search, verified_login
from tests.sending.support import fiscal_codes, simulated_service

pytestmark = pytest.mark.django_db

CODES = fiscal_codes(4)


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)


@pytest.fixture
def people(organization: Organization) -> dict[str, User]:
    """One user per role, an operator not allowed on the restricted service, and an admin
    of another organization."""
    other = Organization.objects.create(name="Altro ente", fiscal_code="99999999999")
    return {
        "author": builders.user(Membership.Role.OPERATOR, organization, username="autore"),
        "operator": builders.user(Membership.Role.OPERATOR, organization, username="operatrice"),
        "excluded": builders.user(Membership.Role.OPERATOR, organization, username="esclusa"),
        "supervisor": builders.user(
            Membership.Role.SUPERVISOR, organization, username="supervisora"
        ),
        "admin": builders.user(Membership.Role.ADMIN, organization, username="amministratrice"),
        "outsider": builders.user(Membership.Role.ADMIN, other, username="estranea"),
    }


@pytest.fixture
def dispatch(organization: Organization, people: dict[str, User]) -> Dispatch:
    """A running dispatch on a service open to the author and "operator" only."""
    service = builders.service(organization, **simulated_service("", all_operators=False))
    for name in ("author", "operator"):
        service.allowed_members.add(Membership.objects.get(user=people[name]))
    dispatch = builders.dispatch(service, people["author"], CODES)
    first = dispatch.deliveries.order_by("row_number")[0]
    Delivery.objects.filter(pk=first.pk).update(
        state=Delivery.State.PROCESSED,
        io_message_id="01JSUPERV1S10N0000000000001",
        submitted_at=timezone.now(),
        finished_at=timezone.now(),
    )
    return dispatch


# The second step of "Segna come inviati": its confirmation page, ticked.
MARK_SENT_CONFIRMED = {"step": "confirm", "confirm_mark_sent": "on"}


def client_for(user: User) -> Client:
    return verified_login(Client(), user)


def _first(dispatch: Dispatch) -> Delivery:
    return dispatch.deliveries.order_by("row_number")[0]


# --- one access rule ----------------------------------------------------------------------

# Operators follow only their own dispatches: another user's, even on a service they use,
# answers 404 as another organization's does (the history is the supervisors').
SEES = {
    "author": 200,
    "operator": 404,
    "excluded": 404,
    "supervisor": 200,
    "admin": 200,
    "outsider": 404,
}


@pytest.mark.parametrize(("who", "status"), SEES.items())
def test_every_page_of_a_dispatch_follows_the_same_rule(
    who: str, status: int, dispatch: Dispatch, people: dict[str, User]
) -> None:
    client = client_for(people[who])
    delivery = _first(dispatch)
    for url in (
        reverse("sending:dispatch_detail", args=[dispatch.public_id]),
        reverse("sending:dispatch_progress", args=[dispatch.public_id]),
        reverse("sending:delivery_detail", args=[delivery.public_id]),
    ):
        assert client.get(url).status_code == status, url
    old = client.get(reverse("messaging:dispatch_summary", args=[dispatch.public_id]))
    assert old.status_code == (302 if status == 200 else 404)
    reveal = client.post(reverse("sending:delivery_reveal", args=[delivery.public_id]))
    assert reveal.status_code == status
    # The proof of delivery holds the code in clear: the same rule.
    proof = client.get(reverse("reports:delivery_proof", args=[delivery.public_id]))
    assert proof.status_code == status
    pdf = client.post(reverse("reports:delivery_proof_pdf", args=[delivery.public_id]))
    assert pdf.status_code == status
    history = client.get(reverse("sending:dispatch_list")).content.decode()
    assert (dispatch.title in history) == (status == 200)
    export = client.get(reverse("reports:dispatch_deliveries_csv", args=[dispatch.public_id]))
    # Seen but not to be exported (the author, an operator): 403; unseen: 404 as above.
    expected_export = {"supervisor": 200, "admin": 200, "author": 403}.get(who, 404)
    assert export.status_code == expected_export


def _dispatch_routes() -> list[str]:
    """Every route under a dispatch's id (`.../invii/<uuid:public_id>/...`), by name."""
    found: list[str] = []

    def walk(patterns: Any, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner or "")
            elif "invii/<uuid:public_id>" in prefix + str(pattern.pattern) and pattern.name:
                found.append(f"{namespace}:{pattern.name}")

    walk(get_resolver().url_patterns, "", "")
    return found


DISPATCH_ROUTES = _dispatch_routes()


def test_every_route_of_a_dispatch_is_found() -> None:
    assert {
        "sending:dispatch_detail",
        "reports:dispatch_deliveries_csv",
        "reports:handoff_download",
        "messaging:dispatch_approve",
    } <= set(DISPATCH_ROUTES)


@pytest.mark.parametrize("route", DISPATCH_ROUTES)
@pytest.mark.parametrize("who", ["operator", "outsider"])
def test_every_route_of_an_unseen_dispatch_answers_as_for_no_dispatch(
    route: str, who: str, dispatch: Dispatch, people: dict[str, User]
) -> None:
    """An export, a proof, an action... of a dispatch the member does not see answers exactly
    as for a dispatch that does not exist (404 where the route answers at all): nothing tells
    that it exists."""
    client = client_for(people[who])
    seen = reverse(route, args=[dispatch.public_id])
    missing = reverse(route, args=["0e6f2a3c-1b4d-4e5f-8a9b-0c1d2e3f4a5b"])
    for method in (client.get, client.post):
        answer, none = method(seen).status_code, method(missing).status_code
        assert answer == none, f"{method.__name__.upper()} {route}: {answer}, {none} for none"
        assert answer in (404, 405), f"{method.__name__.upper()} {route}: {answer}"


def test_the_author_keeps_seeing_a_dispatch_after_losing_the_service(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    dispatch.service.allowed_members.clear()
    client = client_for(people["author"])
    assert (
        client.get(reverse("sending:dispatch_detail", args=[dispatch.public_id])).status_code == 200
    )
    other = client_for(people["operator"])
    assert (
        other.get(reverse("sending:dispatch_detail", args=[dispatch.public_id])).status_code == 404
    )


def test_a_draft_is_seen_only_by_its_author_and_supervisors(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    Dispatch.objects.filter(pk=dispatch.pk).update(state=Dispatch.State.DRAFT)
    url = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    assert client_for(people["operator"]).get(url).status_code == 404
    assert client_for(people["author"]).get(url).status_code == 200
    assert client_for(people["supervisor"]).get(url).status_code == 200


def test_actions_by_role_on_the_dispatch_page(dispatch: Dispatch, people: dict[str, User]) -> None:
    url = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    operator = client_for(people["operator"]).get(url).content.decode()
    author = client_for(people["author"]).get(url).content.decode()
    supervisor = client_for(people["supervisor"]).get(url).content.decode()
    assert "Sospendi" not in operator and "Sospendi" in author and "Sospendi" in supervisor
    assert "Esporta CSV" not in author and "Esporta CSV" in supervisor
    assert "Esporta Excel" not in author and "Esporta Excel" in supervisor
    Dispatch.objects.filter(pk=dispatch.pk).update(state=Dispatch.State.AWAITING_APPROVAL)
    assert "Approva e invia" in client_for(people["supervisor"]).get(url).content.decode()
    assert "Approva e invia" not in client_for(people["author"]).get(url).content.decode()


def test_approval_by_another_supervisor_redirects_to_the_one_page(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    Dispatch.objects.filter(pk=dispatch.pk).update(
        state=Dispatch.State.AWAITING_APPROVAL, approval_required=True
    )
    response = client_for(people["supervisor"]).post(
        reverse("messaging:dispatch_approve", args=[dispatch.public_id])
    )
    assert response["Location"] == reverse("sending:dispatch_detail", args=[dispatch.public_id])
    # The author sees it but may not approve (403); another operator does not see it (404).
    approve = reverse("messaging:dispatch_approve", args=[dispatch.public_id])
    assert client_for(people["author"]).post(approve).status_code == 403
    assert client_for(people["operator"]).post(approve).status_code == 404


# --- outcomes -----------------------------------------------------------------------------


def test_outcomes_count_groups_reasons_read_and_paid(dispatch: Dispatch) -> None:
    rows = list(dispatch.deliveries.order_by("row_number"))
    Delivery.objects.filter(pk=rows[0].pk).update(read_status="READ", payment_status="PAID")
    Delivery.objects.filter(pk=rows[1].pk).update(state="skipped", skip_reason="not_on_io")
    Delivery.objects.filter(pk=rows[2].pk).update(state="failed", last_error_code="refused")
    outcome = selectors.outcomes(dispatch=dispatch)
    assert outcome["total"] == 4
    assert outcome["groups"]["delivered"] == 1
    assert outcome["groups"]["unreachable"] == 1
    assert outcome["groups"]["failed"] == 1
    assert outcome["groups"]["waiting"] == 1
    assert outcome["unreachable_by_reason"] == {"not_on_io": 1}
    assert (outcome["read"], outcome["paid"], outcome["with_payment_status"]) == (1, 1, 1)
    assert sum(outcome["groups"].values()) == outcome["total"]


def test_dispatch_page_shows_the_outcomes_in_words(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    Delivery.objects.filter(pk=dispatch.deliveries.order_by("row_number")[1].pk).update(
        state="skipped", skip_reason="blocked"
    )
    page = (
        client_for(people["supervisor"])
        .get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
        .content.decode()
    )
    assert "ha bloccato i messaggi di questo servizio" in page
    assert 'data-outcome="delivered">1 (25%)' in page
    assert "Contenuto inviato" in page and "Avviso di pagamento TARI 2026" in page
    # Running: the outcome block asks to be refreshed; finished: it does not.
    progress = reverse("sending:dispatch_progress", args=[dispatch.public_id])
    assert f'hx-get="{progress}"' in page and 'hx-trigger="every 3s"' in page
    Dispatch.objects.filter(pk=dispatch.pk).update(state=Dispatch.State.COMPLETED)
    fragment = client_for(people["supervisor"]).get(progress).content.decode()
    assert fragment.startswith('<section id="dispatch-progress"') and "hx-trigger" not in fragment


def test_deliveries_filtered_by_outcome(dispatch: Dispatch, people: dict[str, User]) -> None:
    url = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    client = client_for(people["supervisor"])
    delivered = client.get(url, {"esito": "delivered"}).content.decode()
    first = _first(dispatch)
    assert reverse("sending:delivery_detail", args=[first.public_id]) in delivered
    assert delivered.count('href="/invii/consegne/') == 1
    assert client.get(url, {"esito": "nonsense", "page": "x"}).status_code == 200


# --- history ------------------------------------------------------------------------------


def test_history_filters_search_and_sort(
    dispatch: Dispatch, organization: Organization, people: dict[str, User]
) -> None:
    other = builders.dispatch(
        dispatch.service, people["operator"], fiscal_codes(2), state=Dispatch.State.COMPLETED
    )
    Dispatch.objects.filter(pk=other.pk).update(
        title="Carta d'identità",
        kind=Dispatch.Kind.SINGLE,
        created_at=timezone.now() - timedelta(days=40),
    )
    client = client_for(people["supervisor"])
    url = reverse("sending:dispatch_list")

    def titles(**query: str) -> list[str]:
        text = client.get(url, query).content.decode()
        return [t for t in ("TARI 2026", "Carta d&#x27;identità") if t in text]

    assert titles() == ["TARI 2026", "Carta d&#x27;identità"]
    assert titles(q="carta") == ["Carta d&#x27;identità"]
    assert titles(stato="running") == ["TARI 2026"]
    assert titles(tipo="single") == ["Carta d&#x27;identità"]
    assert titles(autore=str(people["operator"].public_id)) == ["Carta d&#x27;identità"]
    since = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert titles(dal=since) == ["TARI 2026"]
    assert titles(servizio=str(dispatch.service.public_id)) == [
        "TARI 2026",
        "Carta d&#x27;identità",
    ]
    # Sorting: the oldest first.
    text = client.get(url, {"ordine": "meno-recenti"}).content.decode()
    assert text.index("Carta d&#x27;identità") < text.index("TARI 2026")
    # Bad input: a message, never a 500, and the whole history.
    bad = client.get(url, {"dal": "2026-02-30", "al": "x", "servizio": "nope"})
    assert bad.status_code == 200 and "TARI 2026" in bad.content.decode()
    reversed_period = client.get(url, {"dal": "2026-05-01", "al": "2026-04-01"})
    assert "La data iniziale è successiva a quella finale." in reversed_period.content.decode()


def test_history_refreshes_its_rows_only_while_something_is_sending(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    client = client_for(people["supervisor"])
    url = reverse("sending:dispatch_list")
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 3s"' in page and "htmx/htmx.min.js" in page
    rows = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert rows.startswith('<tbody id="history-rows"') and "<html" not in rows
    assert 'class="count-delivered">1<' in rows
    Dispatch.objects.filter(pk=dispatch.pk).update(state=Dispatch.State.COMPLETED)
    rows = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in rows


# --- delivery page, reveal, search -------------------------------------------------------


def test_delivery_page_tells_the_story_with_io_calls(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    delivery = _first(dispatch)
    for status, outcome in ((None, "TransientError"), (201, "ok")):
        ApiCall.objects.create(
            organization=dispatch.organization,
            service=dispatch.service,
            delivery=delivery,
            operation="submit_message",
            status_code=status,
            duration_ms=120,
            outcome=outcome,
        )
    page = (
        client_for(people["author"])
        .get(reverse("sending:delivery_detail", args=[delivery.public_id]))
        .content.decode()
    )
    assert "01JSUPERV1S10N0000000000001" in page
    assert "Invio del messaggio" in page and "120 ms" in page
    assert "IO non raggiungibile o in errore temporaneo" in page and "TransientError" not in page
    assert "<td>2</td><td>201</td>" in page  # the second attempt
    assert "Gentile Cittadino 1" in page  # the message as the citizen got it
    assert CODES[0] not in page and delivery.fiscal_code_masked in page


def test_showing_the_fiscal_code_is_audited(dispatch: Dispatch, people: dict[str, User]) -> None:
    delivery = _first(dispatch)
    client = client_for(people["author"])
    url = reverse("sending:delivery_reveal", args=[delivery.public_id])
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert CODES[0] in response.content.decode()
    assert (
        response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    )
    event = AuditEvent.objects.get(action="delivery.fiscal_code_shown")
    assert event.actor == people["author"] and event.target_id == str(delivery.public_id)
    assert CODES[0] not in str(event.changes) + event.target_label


def test_search_by_fiscal_code_across_dispatches_is_audited(
    dispatch: Dispatch, people: dict[str, User], organization: Organization
) -> None:
    second = builders.dispatch(dispatch.service, people["author"], CODES[:1])
    foreign_service = builders.service(
        Organization.objects.get(name="Altro ente"),
        **simulated_service("", service_id="01JSEND0SERV1CE00000000009"),
    )
    builders.dispatch(foreign_service, people["outsider"], CODES[:1])
    url = reverse("sending:delivery_search")
    client = client_for(people["supervisor"])
    form = client.get(url)
    assert form.status_code == 200 and 'method="post"' in form.content.decode()
    assert not AuditEvent.objects.filter(action="delivery.searched").exists()
    reference = citizen_search(client, CODES[0].lower())
    results_url = reverse("sending:delivery_search_results", args=[reference])
    response = client.get(results_url)
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    assert "2 messaggi trovati" in text
    for d in (dispatch, second):
        delivery = d.deliveries.get(row_number=1)
        assert reverse("sending:delivery_detail", args=[delivery.public_id]) in text
    assert CODES[0] not in text  # the export links hold the reference too
    assert reverse("reports:search_deliveries_csv", args=[reference]) in text
    event = AuditEvent.objects.get(action="delivery.searched")
    assert event.changes == {"results": 2} and CODES[0] not in event.target_label
    bad = client.post(url, {"codice_fiscale": "RSSMRA80A01H501X"})
    assert bad.status_code == 200
    assert "Il codice fiscale non è valido" in bad.content.decode()
    assert AuditEvent.objects.filter(action="delivery.searched").count() == 1
    # A GET with the code in the query searches nothing.
    assert "messaggi trovati" not in client.get(url, {"codice_fiscale": CODES[0]}).content.decode()
    assert client_for(people["operator"]).get(url).status_code == 403
    assert client_for(people["operator"]).get(results_url).status_code == 403
    assert client_for(people["operator"]).post(url, {"codice_fiscale": CODES[0]}).status_code == 403


def test_a_search_reference_belongs_to_its_session(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    """The results of a search are reached only from the session that made it: a reference
    copied elsewhere, or an invented one, goes back to the form with a message."""
    client = client_for(people["supervisor"])
    reference = citizen_search(client, CODES[0])
    results_url = reverse("sending:delivery_search_results", args=[reference])
    elsewhere = verified_login(Client(), people["supervisor"])
    for c, url in (
        (elsewhere, results_url),
        (elsewhere, reverse("reports:search_deliveries_csv", args=[reference])),
        (client, reverse("sending:delivery_search_results", args=["inventato"])),
    ):
        response = c.get(url, follow=True)
        text = response.content.decode()
        assert response.redirect_chain[-1][0] == reverse("sending:delivery_search"), url
        assert "Questa ricerca non è più disponibile" in text and "trovat" not in text
    assert AuditEvent.objects.filter(action="delivery.searched").count() == 0
    assert AuditEvent.objects.filter(action="export.search_results").count() == 0


def test_history_sorts_by_start_and_end_put_the_dates_first(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    """ "Conclusi di recente" and "Avviati di recente" list the dispatches that have the date
    first, on every database (PostgreSQL puts NULLs first in a descending order)."""
    now = timezone.now()
    Dispatch.objects.filter(pk=dispatch.pk).update(
        title="Titolo-senza-date", started_at=None, finished_at=None
    )
    done = builders.dispatch(
        dispatch.service, people["author"], fiscal_codes(2), state=Dispatch.State.COMPLETED
    )
    Dispatch.objects.filter(pk=done.pk).update(
        title="Titolo-con-date",
        started_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=1),
    )
    client = client_for(people["supervisor"])
    url = reverse("sending:dispatch_list")
    for order in ("fine", "avvio"):
        text = client.get(url, {"ordine": order}).content.decode()
        assert text.index("Titolo-con-date") < text.index("Titolo-senza-date"), order


# --- bounded queries ----------------------------------------------------------------------


def test_pages_make_a_bounded_number_of_queries(
    dispatch: Dispatch, people: dict[str, User], django_assert_max_num_queries: Any
) -> None:
    for number in range(30):
        extra = builders.dispatch(dispatch.service, people["author"], fiscal_codes(5))
        Dispatch.objects.filter(pk=extra.pk).update(title=f"Invio {number}")
    Dispatch.objects.filter(pk=dispatch.pk).update(feature_level=FeatureLevel.ADVANCED)
    client = client_for(people["supervisor"])
    delivery = _first(dispatch)
    for _ in range(3):
        ApiCall.objects.create(
            organization=dispatch.organization,
            delivery=delivery,
            operation="get_message",
            status_code=200,
            outcome="ok",
        )
    pages = [
        reverse("sending:dispatch_list"),
        reverse("sending:dispatch_list") + "?q=Invio&ordine=titolo&page=2",
        reverse("sending:dispatch_detail", args=[dispatch.public_id]),
        reverse("sending:dispatch_progress", args=[dispatch.public_id]),
        reverse("sending:delivery_detail", args=[delivery.public_id]),
        reverse("sending:delivery_search_results", args=[citizen_search(client, CODES[0])]),
    ]
    # The same bound whatever the number of dispatches, deliveries and calls: 21 on the
    # dispatch page (with the follow-up rule's one EXISTS, `followups.has_outcomes`).
    for url in pages:
        with django_assert_max_num_queries(21):
            assert client.get(url).status_code == 200, url


# --- faults found by a first-time user -----------------------------------------------------


def _call(delivery: Delivery, operation: str, status: int | None, outcome: str) -> ApiCall:
    return ApiCall.objects.create(
        organization=delivery.dispatch.organization,
        service=delivery.dispatch.service,
        delivery=delivery,
        operation=operation,
        status_code=status,
        duration_ms=1200,
        outcome=outcome,
    )


def _delivery_page(client: Client, delivery: Delivery) -> str:
    response = client.get(reverse("sending:delivery_detail", args=[delivery.public_id]))
    assert response.status_code == 200
    return response.content.decode()


def _history(page: str) -> str:
    return page.split('id="delivery-history">', 1)[1].split("</ol>", 1)[0]


def test_attempts_agree_with_the_history_and_the_calls(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    """Accepted at the first submission: the delivery's own counter (failed attempts) is 0,
    the page says 1 attempt, as its history and its calls do."""
    delivery = _first(dispatch)
    Delivery.objects.filter(pk=delivery.pk).update(first_attempt_at=timezone.now(), attempts=0)
    _call(delivery, "get_profile", 200, "ok")
    _call(delivery, "submit_message", 201, "ok")
    page = _delivery_page(client_for(people["author"]), delivery)
    assert 'id="delivery-attempts">1<' in page
    assert "Primo tentativo" in _history(page)
    assert "<td>Invio del messaggio</td><td>1</td>" in page
    assert "1.200 ms" in page  # numbers the Italian way


def test_history_places_what_io_tells_without_a_moment_where_the_portal_learned_it(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    """IO's message status has no moment: "Consegnato" is not listed after the citizen
    opened the message (IO asks for its content only once delivered), and a read is an event."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from ioportal.remotecontent.models import RemoteContentAccess

    accepted = datetime(2026, 12, 6, 18, 25, tzinfo=ZoneInfo("Europe/Rome"))
    delivery = _first(dispatch)
    Delivery.objects.filter(pk=delivery.pk).update(
        submitted_at=accepted,
        io_status="PROCESSED",
        finished_at=accepted + timedelta(minutes=6),  # the status read: 18:31
        read_status="READ",
        read_at=accepted + timedelta(minutes=6),
    )
    for minutes, operation in ((4, "details"), (5, "attachment")):
        access = RemoteContentAccess.objects.create(
            delivery=delivery, operation=operation, outcome="ok", http_status=200
        )
        RemoteContentAccess.objects.filter(pk=access.pk).update(
            created_at=accepted + timedelta(minutes=minutes)
        )
    history = _history(_delivery_page(client_for(people["author"]), delivery))
    order = [
        "Accettato da IO",
        "Consegnato (rilevato alle 18:29)",
        "Apertura del messaggio",
        "Scaricamento di un allegato",
        "Letto dal cittadino (rilevato alle 18:31)",
    ]
    positions = [history.index(text) for text in order]
    assert positions == sorted(positions), history


def test_an_outcome_only_io_tells_says_when_it_was_learned(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    read = datetime(2026, 12, 6, 18, 31, tzinfo=ZoneInfo("Europe/Rome"))
    delivery = _first(dispatch)
    Delivery.objects.filter(pk=delivery.pk).update(io_status="PROCESSED", finished_at=read)
    history = _history(_delivery_page(client_for(people["author"]), delivery))
    assert "Consegnato (rilevato alle 18:31)" in history
    assert "Letto" not in history


def _error_classes() -> set[str]:
    from ioportal.ioapi import IOApiError

    found, todo = set(), [IOApiError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub.__name__)
            todo.append(sub)
    return found


def test_every_call_outcome_has_words_in_both_languages() -> None:
    """ApiCall.outcome holds "ok" or the name of an IO client error class: each has an
    Italian text with an English translation, and an unknown code is never shown as is."""
    from django.utils import translation

    from ioportal.sending import outcomes

    codes = {"ok"} | _error_classes()
    assert codes <= set(outcomes.CALL_OUTCOME_TEXTS)
    for code in codes:
        with translation.override("it"):
            italian = outcomes.call_outcome_text(code)
        with translation.override("en"):
            english = outcomes.call_outcome_text(code)
        assert italian and code not in italian and english != italian, code
    assert outcomes.call_outcome_text("SomethingNewError") == "non riuscita"


@pytest.mark.parametrize("code", sorted(_error_classes() | {"ok", "SomethingNewError"}))
def test_delivery_page_shows_no_internal_outcome_name(
    code: str, dispatch: Dispatch, people: dict[str, User]
) -> None:
    from ioportal.sending import outcomes

    delivery = _first(dispatch)
    _call(delivery, "submit_message", 500, code)
    page = _delivery_page(client_for(people["author"]), delivery)
    table = page.split('id="api-calls"', 1)[1].split("</table>", 1)[0]
    assert code not in table
    assert f"<td>{outcomes.call_outcome_text(code)}</td>" in table


def test_a_delivery_marked_as_sent_has_the_decision_once_with_the_name(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    delivery = dispatch.deliveries.order_by("row_number")[1]
    Delivery.objects.filter(pk=delivery.pk).update(
        state="uncertain", last_error_code="ambiguous", uncertain_since=timezone.now()
    )
    client = client_for(people["supervisor"])
    client.post(
        reverse("sending:uncertain_resolve", args=[dispatch.public_id]),
        {"delivery": [str(delivery.public_id)], "decision": "mark_sent", **MARK_SENT_CONFIRMED},
    )
    history = _history(_delivery_page(client, delivery))
    assert history.count("Segnato come inviato") == 1
    assert "Segnato come inviato (supervisora)" in history


def test_a_test_mode_skip_says_what_happened(dispatch: Dispatch, people: dict[str, User]) -> None:
    """Skipped without calling IO (service in test mode): no "first attempt", the history
    says the check made no IO call and why the citizen was not reached."""
    delivery = dispatch.deliveries.order_by("row_number")[1]
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        state="skipped", skip_reason="not_authorized", first_attempt_at=now, finished_at=now
    )
    page = _delivery_page(client_for(people["author"]), delivery)
    history = _history(page)
    assert "Primo tentativo" not in history
    assert "Destinatario verificato senza chiamare IO" in history
    assert "Non raggiungibile: Il servizio è in modalità di test" in history
    assert 'id="delivery-attempts">0<' in page
    assert "Nessuna chiamata a IO per questo cittadino." in page


def test_resolving_nothing_is_not_a_success(dispatch: Dispatch, people: dict[str, User]) -> None:
    rows = list(dispatch.deliveries.order_by("row_number"))
    Delivery.objects.filter(pk=rows[1].pk).update(state="uncertain", last_error_code="ambiguous")
    client = client_for(people["supervisor"])
    url = reverse("sending:uncertain_resolve", args=[dispatch.public_id])
    for data in ({"decision": "mark_sent"}, {"decision": "mark_sent", "delivery": ["x"]}):
        page = client.post(url, data, follow=True).content.decode()
        assert "Scegli almeno un destinatario." in page
        assert "risolt" not in page
    # Chosen, but no longer uncertain: nothing changes, and the page says so.
    page = client.post(
        url, {"decision": "mark_sent", "delivery": [str(rows[0].public_id)]}, follow=True
    ).content.decode()
    assert "nulla è cambiato" in page and "risolt" not in page
    assert Delivery.objects.get(pk=rows[1].pk).state == "uncertain"
    assert not AuditEvent.objects.filter(action="delivery.marked_sent").exists()
    page = client.post(
        url,
        {"decision": "mark_sent", "delivery": [str(rows[1].public_id)], **MARK_SENT_CONFIRMED},
        follow=True,
    ).content.decode()
    assert "Esito incerto risolto per 1 destinatario." in page


def test_retrying_when_nothing_failed_is_not_a_success(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    page = (
        client_for(people["supervisor"])
        .post(reverse("sending:dispatch_retry_failed", args=[dispatch.public_id]), follow=True)
        .content.decode()
    )
    assert "Nessun messaggio non riuscito da ritentare: nulla è cambiato." in page
    assert "Nuovo tentativo programmato" not in page


def test_cancelling_asks_for_a_confirmation(dispatch: Dispatch, people: dict[str, User]) -> None:
    url = reverse("sending:dispatch_cancel", args=[dispatch.public_id])
    author = client_for(people["author"])
    detail = author.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    # The dispatch page links to the confirmation: no one-click cancel form.
    assert f'id="cancel-link" href="{url}"' in detail.content.decode()
    assert f'action="{url}"' not in detail.content.decode()
    confirm = author.get(url)
    text = confirm.content.decode()
    assert confirm.status_code == 200
    assert "3 messaggi non ancora partiti non saranno inviati." in text
    assert 'name="confirm"' in text and "csrfmiddlewaretoken" in text
    # Without the tick: the page again with the reason, nothing changed.
    refused = author.post(url)
    assert refused.status_code == 400
    assert "Spunta la casella per confermare" in refused.content.decode()
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.RUNNING
    assert not AuditEvent.objects.filter(action="dispatch.cancelled").exists()
    # Roles as before: an operator who is not the author does not even see it, nor does a
    # member of another organization.
    assert client_for(people["operator"]).get(url).status_code == 404
    assert client_for(people["operator"]).post(url, {"confirm": "on"}).status_code == 404
    assert client_for(people["outsider"]).get(url).status_code == 404
    # CSRF-protected.
    guarded = verified_login(Client(enforce_csrf_checks=True), people["author"])
    assert guarded.post(url, {"confirm": "on"}).status_code == 403
    done = author.post(url, {"confirm": "on"}, follow=True).content.decode()
    assert "Invio annullato: 3 messaggi non saranno inviati." in done
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.CANCELLED
    # Once cancelled there is nothing to confirm.
    again = author.get(url, follow=True).content.decode()
    assert "non è in uno stato che consente questa azione" in again


def test_dashboard_and_dispatch_page_count_the_same(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    """Delivered = in the citizen's app (PROCESSED), on every page; marked as sent by a
    person is counted apart (IO never confirmed it); accepted by IO and not yet delivered is
    not delivered."""
    rows = list(dispatch.deliveries.order_by("row_number"))
    Delivery.objects.filter(pk=rows[1].pk).update(state="marked_sent")
    Delivery.objects.filter(pk=rows[2].pk).update(
        state="submitted", io_message_id="01JSUPERV1S10N0000000000003"
    )
    client = client_for(people["author"])
    detail = client.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    assert 'data-outcome="delivered">1 (25%)' in detail.content.decode()
    assert 'data-outcome="marked_sent">1 (25%)' in detail.content.decode()
    dashboard = client.get(reverse("dashboard:dashboard")).content.decode()
    own = dashboard.split('id="operator-recent"', 1)[1].split("</ul>", 1)[0]
    supervised = client_for(people["supervisor"]).get(reverse("dashboard:dashboard"))
    recent = supervised.content.decode().split('id="recent-dispatches"', 1)[1]
    recent = recent.split("</ul>", 1)[0]
    counted = "1 consegnato su 4 (1 segnato come inviato da una persona)"
    assert counted in recent and counted in own
    history = client.get(reverse("sending:dispatch_list")).content.decode()
    assert 'class="count-delivered">1<' in history and "4 destinatari" in history
    assert 'class="count-marked-sent">1<' in history


def test_a_dispatch_being_prepared_counts_its_list(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    Delivery.objects.filter(dispatch=dispatch).delete()
    Dispatch.objects.filter(pk=dispatch.pk).update(
        state=Dispatch.State.PREPARING, deliveries_expected=3000, deliveries_prepared=0
    )
    client = client_for(people["author"])
    dashboard = client.get(reverse("dashboard:dashboard")).content.decode()
    own = dashboard.split('id="operator-recent"', 1)[1].split("</ul>", 1)[0]
    supervised = client_for(people["supervisor"]).get(reverse("dashboard:dashboard"))
    recent = supervised.content.decode().split('id="recent-dispatches"', 1)[1]
    recent = recent.split("</ul>", 1)[0]
    assert "0 consegnati su 3.000" in recent and "0 consegnati su 3.000" in own
    history = client.get(reverse("sending:dispatch_list")).content.decode()
    assert "3.000 destinatari" in history
    progress = client.get(
        reverse("sending:dispatch_progress", args=[dispatch.public_id])
    ).content.decode()
    assert "0 di 3.000 destinatari con un esito" in progress
    assert "0 di 3.000 messaggi pronti." in progress


def test_the_dispatch_page_while_its_recipients_are_prepared(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    Delivery.objects.filter(dispatch=dispatch).delete()
    Dispatch.objects.filter(pk=dispatch.pk).update(
        state=Dispatch.State.PREPARING, deliveries_expected=1200, deliveries_prepared=0
    )
    url = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    client = client_for(people["author"])
    page = client.get(url).content.decode()
    assert "Nessun destinatario con questo esito." not in page
    assert "I destinatari sono in preparazione: 0 di 1.200 pronti." in page
    # The actions and the recipients refresh with the rest of the progress (htmx).
    actions = page.split('id="dispatch-actions"', 1)[1].split(">", 1)[0]
    assert f'hx-get="{url}"' in actions and 'hx-trigger="every 3s"' in actions
    assert 'hx-select="#dispatch-actions"' in actions
    assert 'hx-select-oob="#deliveries-block"' in actions and 'id="deliveries-block"' in page
    assert "Annulla l'invio" in page
    # Prepared: the controls of a running dispatch, no more refreshing of them.
    Dispatch.objects.filter(pk=dispatch.pk).update(state=Dispatch.State.RUNNING)
    page = client.get(url, headers={"HX-Request": "true"}).content.decode()
    actions = page.split('id="dispatch-actions"', 1)[1].split("</div>", 1)[0]
    assert "Sospendi" in actions and "Annulla l'invio" in actions
    assert "hx-trigger" not in actions.split(">", 1)[0]
    assert "Nessun destinatario." in page and "in preparazione" not in page


def test_an_empty_history_says_why(organization: Organization, people: dict[str, User]) -> None:
    client = client_for(people["supervisor"])
    url = reverse("sending:dispatch_list")
    page = client.get(url).content.decode()
    assert "Non ci sono ancora invii." in page and "corrisponde ai filtri" not in page
    page = client.get(url, {"q": "TARI"}).content.decode()
    assert "Nessun invio corrisponde ai filtri." in page


def test_the_cancel_confirmation_counts_only_those_test_mode_would_send_to(
    organization: Organization, people: dict[str, User]
) -> None:
    """Ten messages not started, three of them to authorised citizens: test mode skips the
    other seven without sending them anything, so a cancel stops three."""
    codes = fiscal_codes(10)
    service = builders.service(
        organization,
        **{**simulated_service(""), "test_mode": True, "authorized_recipients": codes[:3]},
    )
    dispatch = builders.dispatch(service, people["author"], codes)
    url = reverse("sending:dispatch_cancel", args=[dispatch.public_id])
    author = client_for(people["author"])
    text = author.get(url).content.decode()
    assert "3 messaggi non ancora partiti non saranno inviati." in text
    done = author.post(url, {"confirm": "on"}, follow=True).content.decode()
    assert "Invio annullato: 3 messaggi non saranno inviati." in done


def test_a_dispatch_cancelled_while_running_ends_with_its_cancellation(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    """Its history has no "Concluso": cancelling sets the end with the state, before the
    audit of the cancellation, and that end is the cancellation (once, with who)."""
    Dispatch.objects.filter(pk=dispatch.pk).update(started_at=timezone.now())
    author = client_for(people["author"])
    author.post(reverse("sending:dispatch_cancel", args=[dispatch.public_id]), {"confirm": "on"})
    page = author.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    history = page.content.decode().split('id="dispatch-timeline"', 1)[1].split("</ol>", 1)[0]
    assert "Concluso" not in history
    assert history.count("Annullato") == 1 and "Annullato (autore" in history


def test_the_live_page_refreshes_its_history_with_its_counts(
    dispatch: Dispatch, people: dict[str, User], django_assert_max_num_queries: Any
) -> None:
    """The polled block carries the history out of band, so "Avviato" shows without a
    reload; its queries do not grow with the history's events."""
    Dispatch.objects.filter(pk=dispatch.pk).update(started_at=timezone.now())
    client = client_for(people["author"])
    progress = reverse("sending:dispatch_progress", args=[dispatch.public_id])
    text = client.get(progress).content.decode()
    history = text.split('id="dispatch-timeline"', 1)[1].split("</ol>", 1)[0]
    assert history.startswith(' hx-swap-oob="true"') and "Avviato" in history
    for _ in range(5):
        client.post(reverse("sending:dispatch_pause", args=[dispatch.public_id]))
        client.post(reverse("sending:dispatch_resume", args=[dispatch.public_id]))
    with django_assert_max_num_queries(21):
        text = client.get(progress).content.decode()
    assert text.count("Ripreso") == 5


def test_marking_as_sent_asks_for_a_confirmation(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    rows = list(dispatch.deliveries.order_by("row_number"))
    Delivery.objects.filter(pk__in=[rows[1].pk, rows[2].pk]).update(
        state="uncertain", last_error_code="ambiguous", uncertain_since=timezone.now()
    )
    url = reverse("sending:uncertain_resolve", args=[dispatch.public_id])
    chosen = {"decision": "mark_sent", "delivery": [str(rows[1].public_id), str(rows[2].public_id)]}
    supervisor = client_for(people["supervisor"])
    # The button leads to a page naming them, with a tick to give: nothing changed yet.
    confirm = supervisor.post(url, chosen)
    text = confirm.content.decode()
    assert confirm.status_code == 200
    assert "2 messaggi con esito incerto saranno segnati come inviati." in text
    assert 'name="confirm_mark_sent"' in text and "csrfmiddlewaretoken" in text
    assert rows[1].fiscal_code_masked in text and CODES[1] not in text
    assert Delivery.objects.filter(dispatch=dispatch, state="uncertain").count() == 2
    # Without the tick: the page again, 400, nothing changed.
    refused = supervisor.post(url, {**chosen, "step": "confirm"})
    assert refused.status_code == 400
    assert "Spunta la casella per confermare." in refused.content.decode()
    assert Delivery.objects.filter(dispatch=dispatch, state="uncertain").count() == 2
    assert not AuditEvent.objects.filter(action="delivery.marked_sent").exists()
    # Roles and CSRF as before: the author sees the dispatch but may not resolve (403),
    # another operator does not see it (404).
    assert (
        client_for(people["author"]).post(url, {**chosen, **MARK_SENT_CONFIRMED}).status_code == 403
    )
    assert (
        client_for(people["operator"]).post(url, {**chosen, **MARK_SENT_CONFIRMED}).status_code
        == 404
    )
    assert (
        client_for(people["outsider"]).post(url, {**chosen, **MARK_SENT_CONFIRMED}).status_code
        == 404
    )
    guarded = verified_login(Client(enforce_csrf_checks=True), people["supervisor"])
    assert guarded.post(url, {**chosen, **MARK_SENT_CONFIRMED}).status_code == 403
    done = supervisor.post(url, {**chosen, **MARK_SENT_CONFIRMED}, follow=True).content.decode()
    assert "Esiti incerti risolti per 2 destinatari." in done
    assert Delivery.objects.filter(dispatch=dispatch, state="marked_sent").count() == 2


def test_the_history_lists_events_in_the_order_they_happened(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    """A single message is started in the request that creates it, its start stamped a
    moment before the row's own creation: "Creato" still comes first; on equal times the
    logical order (created, approved, started) decides."""
    from ioportal.sending.pages import timeline

    created = dispatch.created_at
    Dispatch.objects.filter(pk=dispatch.pk).update(started_at=created - timedelta(microseconds=300))
    dispatch.refresh_from_db()
    assert [what for _w, what, _who in timeline(dispatch)] == ["Creato", "Avviato"]
    Dispatch.objects.filter(pk=dispatch.pk).update(
        started_at=created, approved_at=created, approved_by=people["supervisor"]
    )
    dispatch.refresh_from_db()
    assert [what for _w, what, _who in timeline(dispatch)] == ["Creato", "Approvato", "Avviato"]


def test_the_state_filter_agrees_with_the_rows_wording(
    dispatch: Dispatch, people: dict[str, User], django_assert_max_num_queries: Any
) -> None:
    """A COMPLETED dispatch with messages IO accepted and has not yet given the outcome of
    reads "Inviato, esiti in arrivo": the filter "Completato" leaves it out and the filter
    "Inviato, esiti in arrivo" lists it (and only it)."""
    awaiting = builders.dispatch(
        dispatch.service, people["author"], fiscal_codes(2), state=Dispatch.State.COMPLETED
    )
    done = builders.dispatch(
        dispatch.service, people["author"], fiscal_codes(2), state=Dispatch.State.COMPLETED
    )
    Dispatch.objects.filter(pk=awaiting.pk).update(title="Esiti in arrivo")
    Dispatch.objects.filter(pk=done.pk).update(title="Tutti gli esiti")
    for n, delivery in enumerate(Delivery.objects.filter(dispatch__in=[awaiting, done])):
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.PROCESSED,
            io_message_id=f"01JF1LTER000000000000000{n:03d}",
            submitted_at=timezone.now(),
        )
    Delivery.objects.filter(pk=_first(awaiting).pk).update(state=Delivery.State.SUBMITTED)
    client = client_for(people["supervisor"])
    url = reverse("sending:dispatch_list")

    def titles(**query: str) -> list[str]:
        text = client.get(url, query).content.decode()
        return [t for t in ("TARI 2026", "Esiti in arrivo", "Tutti gli esiti") if t in text]

    assert titles(stato="completed") == ["Tutti gli esiti"]
    assert titles(stato="awaiting_outcomes") == ["Esiti in arrivo"]
    page = client.get(url, {"stato": "awaiting_outcomes"}).content.decode()
    assert "Inviato, esiti in arrivo" in page
    assert '<option value="awaiting_outcomes" selected>Inviato, esiti in arrivo</option>' in page
    # Each filter is one condition of the query, not a count per dispatch.
    with django_assert_max_num_queries(25):
        client.get(url, {"stato": "completed"})


def test_the_cancel_confirmation_says_the_state_as_the_dispatch_page(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    from ioportal.sending.pages import dispatch_state_text

    author = client_for(people["author"])
    text = author.get(
        reverse("sending:dispatch_cancel", args=[dispatch.public_id])
    ).content.decode()
    wording = dispatch_state_text(dispatch, selectors.outcomes(dispatch=dispatch))
    assert f"{dispatch.service.name} · {wording}</p>" in text


PER_CITIZEN = "I segnaposto sono riempiti per ogni cittadino"


def test_the_placeholder_sentence_only_where_there_are_placeholders(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    author = client_for(people["author"])

    def content_note() -> str:
        page = author.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
        return page.content.decode()

    assert PER_CITIZEN in content_note()  # a list with {{nome}}
    Dispatch.objects.filter(pk=dispatch.pk).update(kind=Dispatch.Kind.SINGLE)
    text = content_note()
    assert PER_CITIZEN not in text and "Senza modello." in text
    Dispatch.objects.filter(pk=dispatch.pk).update(
        kind=Dispatch.Kind.LIST, subject="Avviso per tutti", markdown="Lo stesso testo " * 10
    )
    assert PER_CITIZEN not in content_note()


def test_an_operator_sees_their_dispatches_once_and_no_author_filter(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    """An operator sees only their own dispatches: the dashboard lists them once ("I tuoi
    ultimi invii"), the history offers no author to choose; a supervisor keeps both."""
    author = client_for(people["author"])
    dashboard = author.get(reverse("dashboard:dashboard")).content.decode()
    assert dashboard.count("TARI 2026") == 1
    assert 'id="operator-recent"' in dashboard and 'id="recent-dispatches"' not in dashboard
    history = author.get(reverse("sending:dispatch_list")).content.decode()
    assert 'name="autore"' not in history
    # A forged author filter changes nothing: still only their own.
    forged = author.get(
        reverse("sending:dispatch_list"), {"autore": str(people["operator"].public_id)}
    )
    assert forged.status_code == 200 and "TARI 2026" in forged.content.decode()
    supervisor = client_for(people["supervisor"])
    history = supervisor.get(reverse("sending:dispatch_list")).content.decode()
    assert 'name="autore"' in history and "operatrice" in history
    assert (
        'id="recent-dispatches"' in supervisor.get(reverse("dashboard:dashboard")).content.decode()
    )


def test_the_history_says_when_a_scheduled_dispatch_is_due_in_a_whole_phrase(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    """ "Programmato per il 07/12/2026 alle 10:00", at the time it was scheduled (its
    creation), not a dangling "Programmato per" after the due time."""
    from django.utils import translation

    from ioportal.sending.pages import timeline

    due = timezone.make_aware(datetime(2026, 12, 7, 10, 0))
    Dispatch.objects.filter(pk=dispatch.pk).update(scheduled_at=due)
    dispatch.refresh_from_db()
    events = timeline(dispatch)
    assert [what for _w, what, _who in events] == [
        "Creato",
        "Programmato per il 07/12/2026 alle 10:00",
    ]
    assert events[1][0] == dispatch.created_at
    with translation.override("en"):
        assert timeline(dispatch)[1][1] == "Scheduled for 07/12/2026 at 10:00"


def test_the_uncertain_outcomes_show_each_row_number(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    """Two citizens may share one masked code: the table where "Invia di nuovo" risks a
    double send tells them apart by their row of the file, as the recipients list does."""
    rows = list(dispatch.deliveries.order_by("row_number"))[:2]
    for delivery in rows:
        Delivery.objects.filter(pk=delivery.pk).update(
            state="uncertain", last_error_code="ambiguous", uncertain_since=timezone.now()
        )
    page = client_for(people["supervisor"]).get(
        reverse("sending:dispatch_detail", args=[dispatch.public_id])
    )
    form = page.content.decode().split("Esiti incerti", 1)[1].split("</table>", 1)[0]
    assert '<th scope="col">Riga</th>' in form
    for delivery in rows:
        assert f'<td class="uncertain-row">{delivery.row_number}</td>' in form
        assert f'aria-label="Riga {delivery.row_number}, ' in form
