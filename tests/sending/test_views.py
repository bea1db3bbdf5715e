"""Sending pages: same organization ok, other organization 404, low role 403."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from ioportal.accounts.models import Membership, Organization
from ioportal.core.models import AuditEvent
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.sending import outcomes, steps
from tests import builders
from tests.conftest import verified_login
from tests.sending.support import fiscal_codes, simulated_service

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)


@pytest.fixture
def dispatch(organization: Organization) -> Dispatch:
    author = builders.user(Membership.Role.OPERATOR, organization, username="autore")
    service = builders.service(organization, **simulated_service(""))
    return builders.dispatch(service, author, fiscal_codes(3))


def client_for(user: Any) -> Client:
    return verified_login(Client(), user)


def test_list_and_detail_for_operator(dispatch: Dispatch, operator_user: Any) -> None:
    """The author, an operator, follows their own dispatch; another operator does not see it
    at all (404, as another organization's), nor its deliveries."""
    client = client_for(dispatch.created_by)
    response = client.get(reverse("sending:dispatch_list"))
    assert response.status_code == 200 and dispatch.title in response.content.decode()
    detail = client.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "RSSBBB" not in text  # only masked codes
    assert "Esiti incerti" not in text
    other = client_for(operator_user)
    assert dispatch.title not in other.get(reverse("sending:dispatch_list")).content.decode()
    delivery = dispatch.deliveries.order_by("row_number")[0]
    for url in (
        reverse("sending:dispatch_detail", args=[dispatch.public_id]),
        reverse("sending:delivery_detail", args=[delivery.public_id]),
    ):
        assert other.get(url).status_code == 404, url
    reveal = reverse("sending:delivery_reveal", args=[delivery.public_id])
    assert other.post(reveal).status_code == 404


def test_other_organization_gets_404(dispatch: Dispatch, other_organization: Organization) -> None:
    outsider = builders.user(Membership.Role.ADMIN, other_organization)
    client = client_for(outsider)
    for name in ("dispatch_detail",):
        assert client.get(reverse(f"sending:{name}", args=[dispatch.public_id])).status_code == 404
    for name in ("dispatch_pause", "dispatch_cancel", "dispatch_retry_failed", "uncertain_resolve"):
        assert client.post(reverse(f"sending:{name}", args=[dispatch.public_id])).status_code == 404
    assert dispatch.title not in client.get(reverse("sending:dispatch_list")).content.decode()


def test_operator_cannot_control_others_dispatch_nor_supervise(
    dispatch: Dispatch, operator_user: Any
) -> None:
    client = client_for(operator_user)
    # Another user's dispatch: not seen, so nothing to control.
    for name in ("dispatch_pause", "dispatch_resume", "dispatch_cancel"):
        assert client.post(reverse(f"sending:{name}", args=[dispatch.public_id])).status_code == 404
    # Their own: supervising stays the supervisors'.
    client = client_for(dispatch.created_by)
    for name in ("dispatch_retry_failed", "uncertain_resolve"):
        assert client.post(reverse(f"sending:{name}", args=[dispatch.public_id])).status_code == 403
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.RUNNING


def test_author_pauses_resumes_and_cancels(dispatch: Dispatch) -> None:
    client = client_for(dispatch.created_by)
    url = lambda name: reverse(f"sending:{name}", args=[dispatch.public_id])  # noqa: E731
    assert client.post(url("dispatch_pause")).status_code == 302
    dispatch.refresh_from_db()
    assert dispatch.state == "paused"
    client.post(url("dispatch_resume"))
    dispatch.refresh_from_db()
    assert dispatch.state == "running"
    client.post(url("dispatch_cancel"))  # not confirmed: nothing changes
    dispatch.refresh_from_db()
    assert dispatch.state == "running"
    client.post(url("dispatch_cancel"), {"confirm": "on"})
    dispatch.refresh_from_db()
    assert dispatch.state == "cancelled"
    assert set(Delivery.objects.filter(dispatch=dispatch).values_list("state", flat=True)) == {
        "cancelled"
    }
    assert AuditEvent.objects.filter(action="dispatch.cancelled").count() == 1


def test_get_on_actions_is_refused(dispatch: Dispatch, supervisor_user: Any) -> None:
    client = client_for(supervisor_user)
    assert (
        client.get(reverse("sending:dispatch_pause", args=[dispatch.public_id])).status_code == 405
    )


def test_supervisor_resolves_uncertain_in_bulk(dispatch: Dispatch, supervisor_user: Any) -> None:
    Delivery.objects.filter(dispatch=dispatch).update(
        state="uncertain", last_error_code="ambiguous"
    )
    client = client_for(supervisor_user)
    detail = client.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    assert "Esiti incerti" in detail.content.decode()
    ids = [
        str(p)
        for p in Delivery.objects.filter(dispatch=dispatch).values_list("public_id", flat=True)
    ]
    url = reverse("sending:uncertain_resolve", args=[dispatch.public_id])
    client.post(url, {"delivery": ids[:1], "decision": "resend"})  # no confirmation
    assert Delivery.objects.filter(dispatch=dispatch, state="uncertain").count() == 3
    client.post(url, {"delivery": ids[:1], "decision": "resend", "confirm": "1"})
    client.post(url, {"delivery": ids[1:], "decision": "mark_sent"})  # asks to confirm
    assert Delivery.objects.filter(dispatch=dispatch, state="uncertain").count() == 2
    client.post(
        url,
        {
            "delivery": ids[1:],
            "decision": "mark_sent",
            "step": "confirm",
            "confirm_mark_sent": "on",
        },
    )
    states = sorted(Delivery.objects.filter(dispatch=dispatch).values_list("state", flat=True))
    assert states == ["marked_sent", "marked_sent", "ready"]
    assert (
        AuditEvent.objects.filter(action__in=("delivery.resent", "delivery.marked_sent")).count()
        == 2
    )


def test_retry_only_failed_technical(dispatch: Dispatch, supervisor_user: Any) -> None:
    first, second, third = Delivery.objects.filter(dispatch=dispatch).order_by("id")
    Delivery.objects.filter(pk=first.pk).update(state="failed", last_error_code="retries_exhausted")
    Delivery.objects.filter(pk=second.pk).update(state="failed", last_error_code="content_refused")
    client = client_for(supervisor_user)
    client.post(reverse("sending:dispatch_retry_failed", args=[dispatch.public_id]))
    assert Delivery.objects.get(pk=first.pk).state == "retry_wait"
    assert Delivery.objects.get(pk=second.pk).state == "failed"


def test_dashboard_warns_without_workers_and_lists_paused(
    dispatch: Dispatch, supervisor_user: Any
) -> None:
    Dispatch.objects.filter(pk=dispatch.pk).update(state="paused", pause_parts=[{"text": "x"}])
    text = client_for(supervisor_user).get(reverse("dashboard:dashboard")).content.decode()
    assert "Nessun worker attivo" in text and ": x</li>" in text


def test_the_pause_reason_is_told_in_the_readers_language(
    dispatch: Dispatch, supervisor_user: Any
) -> None:
    # The pipeline pauses it (from a worker, whatever language is active there).
    with translation.override("en"):
        steps.pause_service_dispatches(service=dispatch.service, code=outcomes.KEY_REJECTED)
    dispatch.refresh_from_db()
    assert dispatch.state == "paused"
    client = client_for(supervisor_user)
    url = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    italian = client.get(url, HTTP_ACCEPT_LANGUAGE="it").content.decode()
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "IO ha rifiutato la chiave del servizio: invio sospeso." in italian
    assert "IO rejected the service key: dispatch paused." in english
    assert "invio sospeso" not in english
    dashboard = client.get(reverse("dashboard:dashboard"), HTTP_ACCEPT_LANGUAGE="en")
    assert "IO rejected the service key: dispatch paused." in dashboard.content.decode()


def test_dashboard_lists_the_latest_dispatches_with_delivered_counts(
    dispatch: Dispatch, operator_user: Any, other_organization: Organization
) -> None:
    Delivery.objects.filter(pk=dispatch.deliveries.order_by("id")[0].pk).update(
        state=Delivery.State.PROCESSED, io_message_id="01JABCDEFGHJKMNPQRSTVWXYZ1"
    )
    stranger = builders.user(Membership.Role.OPERATOR, other_organization, username="estraneo")
    foreign = builders.dispatch(
        builders.service(
            other_organization, **simulated_service("", service_id="01JSEND0SERV1CE00000000002")
        ),
        stranger,
        fiscal_codes(1),
    )
    Dispatch.objects.filter(pk=foreign.pk).update(title="Invio di un altro ente")

    response = client_for(dispatch.created_by).get(reverse("dashboard:dashboard"))

    text = response.content.decode()
    assert response.status_code == 200
    # An operator: their own dispatches, once, under "I tuoi ultimi invii".
    assert "I tuoi ultimi invii" in text and "1 consegnato su 3" in text
    assert reverse("sending:dispatch_detail", args=[dispatch.public_id]) in text
    assert "Invio di un altro ente" not in text


def test_an_action_not_allowed_now_is_a_message(dispatch: Dispatch) -> None:
    """The service raises NotAllowed; the page says why and nothing changes."""
    client = client_for(dispatch.created_by)
    url = lambda name: reverse(f"sending:{name}", args=[dispatch.public_id])  # noqa: E731
    response = client.post(url("dispatch_resume"), follow=True)  # running: nothing to resume
    assert "non è in uno stato che consente questa azione" in response.content.decode()
    dispatch.refresh_from_db()
    assert dispatch.state == "running"
    assert not AuditEvent.objects.filter(action="dispatch.resumed").exists()


def test_a_sent_dispatch_says_outcomes_are_still_coming(dispatch: Dispatch) -> None:
    """Nothing left to send is not "Completato" while IO's outcomes are still to be read."""
    from django.utils import timezone

    first, second, third = dispatch.deliveries.order_by("id")
    for number, delivery in enumerate((first, second, third), start=1):
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.SUBMITTED, io_message_id=f"01JABCDEFGHJKMNPQRSTVWXYZ{number}"
        )
    Delivery.objects.filter(pk=first.pk).update(state=Delivery.State.PROCESSED)
    Dispatch.objects.filter(pk=dispatch.pk).update(
        state=Dispatch.State.COMPLETED, finished_at=timezone.now()
    )
    client = client_for(dispatch.created_by)
    url = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    page = client.get(url).content.decode()
    assert "Inviato, esiti in arrivo" in page and "Completato" not in page
    assert "2 messaggi accettati da IO sono in attesa dell'esito di consegna." in page
    assert "– Invio terminato" in page and "– Concluso" not in page  # the history
    assert 'hx-trigger="every 15s"' in page  # the outcomes keep coming in
    history = client.get(reverse("sending:dispatch_list")).content.decode()
    assert "Inviato, esiti in arrivo" in history
    dashboard = client.get(reverse("dashboard:dashboard")).content.decode()
    assert "Inviato, esiti in arrivo" in dashboard

    Delivery.objects.filter(pk=second.pk).update(state=Delivery.State.PROCESSED)
    Delivery.objects.filter(pk=third.pk).update(state=Delivery.State.REJECTED)
    page = client.get(url).content.decode()
    assert "Completato" in page and "esiti in arrivo" not in page
    assert "in attesa dell'esito" not in page
    assert 'hx-trigger="every 15s"' not in page


def test_a_bad_date_gets_the_same_message_as_in_the_activity_log(operator_user: Any) -> None:
    page = client_for(operator_user).get(reverse("sending:dispatch_list"), {"dal": "31/02/2026"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Inserisci una data esistente nel formato gg/mm/aaaa, per esempio 31/01/2026." in text
    assert "Inserisci una data valida" not in text


def test_every_date_field_of_the_forms_speaks_the_same() -> None:
    """Every date of every form of the portal is a DayField: one format, one message."""
    import importlib
    import inspect
    import pkgutil

    from django import forms

    import ioportal
    from ioportal.core.forms import DayField

    checked = 0
    for module_info in pkgutil.walk_packages(ioportal.__path__, "ioportal."):
        if not module_info.name.endswith("forms"):
            continue
        module = importlib.import_module(module_info.name)
        for _name, form_class in inspect.getmembers(module, inspect.isclass):
            if not issubclass(form_class, forms.BaseForm) or not hasattr(form_class, "base_fields"):
                continue
            for name, field in form_class.base_fields.items():
                if isinstance(field, forms.DateField) and not isinstance(
                    field, forms.DateTimeField
                ):
                    checked += 1
                    assert isinstance(field, DayField), (form_class.__name__, name)
    assert checked >= 6
