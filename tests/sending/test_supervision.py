"""Supervision pages: the one access rule for dispatches and deliveries, the history, the
dispatch page, the delivery page and the fiscal-code search; query counts bounded."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core.models import AuditEvent
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.sending import selectors
from ioportal.sending.models import ApiCall
from tests import builders
from tests.conftest import verified_login
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


def client_for(user: User) -> Client:
    return verified_login(Client(), user)


def _first(dispatch: Dispatch) -> Delivery:
    return dispatch.deliveries.order_by("row_number")[0]


# --- one access rule ----------------------------------------------------------------------

SEES = {
    "author": 200,
    "operator": 200,
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
    history = client.get(reverse("sending:dispatch_list")).content.decode()
    assert (dispatch.title in history) == (status == 200)
    export = client.get(reverse("reports:dispatch_deliveries_csv", args=[dispatch.public_id]))
    expected_export = {"supervisor": 200, "admin": 200, "outsider": 404}.get(who, 403)
    assert export.status_code == expected_export


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
    assert (
        client_for(people["operator"])
        .post(reverse("messaging:dispatch_approve", args=[dispatch.public_id]))
        .status_code
        == 403
    )


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
        client_for(people["operator"])
        .get(reverse("sending:delivery_detail", args=[delivery.public_id]))
        .content.decode()
    )
    assert "01JSUPERV1S10N0000000000001" in page
    assert "Invio del messaggio" in page and "TransientError" in page and "120 ms" in page
    assert "<td>2</td><td>201</td>" in page  # the second attempt
    assert "Gentile Cittadino 1" in page  # the message as the citizen got it
    assert CODES[0] not in page and delivery.fiscal_code_masked in page


def test_showing_the_fiscal_code_is_audited(dispatch: Dispatch, people: dict[str, User]) -> None:
    delivery = _first(dispatch)
    client = client_for(people["operator"])
    url = reverse("sending:delivery_reveal", args=[delivery.public_id])
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert CODES[0] in response.content.decode()
    assert (
        response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    )
    event = AuditEvent.objects.get(action="delivery.fiscal_code_shown")
    assert event.actor == people["operator"] and event.target_id == str(delivery.public_id)
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
    text = client.get(url, {"codice_fiscale": CODES[0].lower()}).content.decode()
    assert "2 messaggi trovati" in text
    for d in (dispatch, second):
        delivery = d.deliveries.get(row_number=1)
        assert reverse("sending:delivery_detail", args=[delivery.public_id]) in text
    event = AuditEvent.objects.get(action="delivery.searched")
    assert event.changes == {"results": 2} and CODES[0] not in event.target_label
    bad = client.get(url, {"codice_fiscale": "RSSMRA80A01H501X"}).content.decode()
    assert "Il codice fiscale non è valido" in bad
    assert AuditEvent.objects.filter(action="delivery.searched").count() == 1
    assert client_for(people["operator"]).get(url).status_code == 403


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
        reverse("sending:delivery_search") + f"?codice_fiscale={CODES[0]}",
    ]
    for url in pages:
        with django_assert_max_num_queries(20):
            assert client.get(url).status_code == 200, url
