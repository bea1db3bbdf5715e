"""A page offers a download only when its endpoint gives it (`messaging.availability`): after
the retention purge no hand-off list nor proofs, before a dispatch may send no export and no
proofs; the endpoints refuse the same cases."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from ioportal.core.models import AuditEvent
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel
from ioportal.sending import outcomes
from tests import builders
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db

CODES = ["RSSMRA80A01H501U", "VRDGPP75C15F205S"]
FINISHED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)


def make(organization, author, *, state: str, purged: bool = False) -> Dispatch:
    """A Premium dispatch of two citizens: the first reached IO, the second is not on IO."""
    service = builders.service(organization)
    dispatch = builders.dispatch(
        service, author, CODES, state=state, feature_level=FeatureLevel.ADVANCED
    )
    if state == Dispatch.State.COMPLETED:
        first, second = dispatch.deliveries.order_by("row_number")
        Delivery.objects.filter(pk=first.pk).update(
            state=Delivery.State.PROCESSED, io_message_id="01JPR00F000000000000000001"
        )
        Delivery.objects.filter(pk=second.pk).update(
            state=Delivery.State.SKIPPED, skip_reason=outcomes.NOT_ON_IO
        )
        Dispatch.objects.filter(pk=dispatch.pk).update(
            finished_at=FINISHED,
            personal_data_purged_at=FINISHED + timedelta(days=30) if purged else None,
        )
    dispatch.refresh_from_db()
    return dispatch


def page(client: Client, dispatch: Dispatch) -> str:
    response = client.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_completed_dispatch_offers_every_download(organization, operator_user, supervisor_user):
    dispatch = make(organization, operator_user, state=Dispatch.State.COMPLETED)
    client = verified_login(Client(), supervisor_user)
    shown = page(client, dispatch)
    assert "Esporta CSV" in shown and 'id="handoff-link"' in shown and 'id="proofs-link"' in shown
    reached = dispatch.deliveries.get(row_number=1)
    detail = client.get(reverse("sending:delivery_detail", args=[reached.public_id]))
    assert 'id="proof-link"' in detail.content.decode()


def test_after_the_purge_no_handoff_list_and_no_proofs_are_offered_nor_given(
    organization, operator_user, supervisor_user
):
    dispatch = make(organization, operator_user, state=Dispatch.State.COMPLETED, purged=True)
    client = verified_login(Client(), supervisor_user)
    shown = page(client, dispatch)
    assert 'id="handoff-link"' not in shown and "Cittadini non raggiunti:" not in shown
    assert 'id="proofs-link"' not in shown and "Prove di invio (ZIP)" not in shown
    assert "Esporta CSV" in shown  # counts and outcomes stay, masked
    reached = dispatch.deliveries.get(row_number=1)
    detail = client.get(reverse("sending:delivery_detail", args=[reached.public_id]))
    assert 'id="proof-link"' not in detail.content.decode()
    # The endpoints refuse the same.
    zipped = client.post(reverse("reports:dispatch_proofs_zip", args=[dispatch.public_id]))
    assert zipped.status_code == 409
    pdf = client.post(reverse("reports:delivery_proof_pdf", args=[reached.public_id]))
    assert pdf.status_code == 409
    handoff = client.post(
        reverse("reports:handoff_download", args=[dispatch.public_id]),
        {"formato": "csv", "motivo": ""},
    )
    assert handoff.status_code == 302
    assert not AuditEvent.objects.filter(action__in=["reports.handoff_exported"]).exists()


def test_a_dispatch_waiting_for_approval_offers_no_export_and_no_proofs(
    organization, operator_user, supervisor_user
):
    dispatch = make(organization, operator_user, state=Dispatch.State.AWAITING_APPROVAL)
    client = verified_login(Client(), supervisor_user)
    shown = page(client, dispatch)
    assert "Esporta CSV" not in shown and "Esporta Excel" not in shown
    assert 'id="proofs-link"' not in shown and "Prove di invio (ZIP)" not in shown
    # The endpoints refuse the same: back to the page with the reason, nothing audited.
    for name in ("reports:dispatch_deliveries_csv", "reports:dispatch_deliveries_xlsx"):
        response = client.get(reverse(name, args=[dispatch.public_id]), follow=True)
        assert response.redirect_chain[0] == (
            reverse("sending:dispatch_detail", args=[dispatch.public_id]),
            302,
        )
        assert "non è ancora partito" in response.content.decode()
    assert not AuditEvent.objects.filter(action="export.dispatch_deliveries").exists()
    zipped = client.post(reverse("reports:dispatch_proofs_zip", args=[dispatch.public_id]))
    assert zipped.status_code == 409


@pytest.mark.parametrize(
    "state",
    [Dispatch.State.AWAITING_APPROVAL, Dispatch.State.PREPARING, Dispatch.State.DRAFT],
)
def test_a_dispatch_not_started_has_no_handoff_list(
    organization, operator_user, supervisor_user, state
):
    """Nothing was sent: the page says so instead of "IO ha raggiunto tutti…", offers no
    download, and the endpoint refuses without writing a file or an audit event."""
    dispatch = make(organization, operator_user, state=state)
    client = verified_login(Client(), supervisor_user)
    handoff_page = client.get(reverse("reports:handoff", args=[dispatch.public_id]))
    shown = handoff_page.content.decode()
    assert handoff_page.status_code == 200
    assert "non è ancora partito" in shown
    assert "IO ha raggiunto tutti" not in shown
    assert reverse("reports:handoff_download", args=[dispatch.public_id]) not in shown
    response = client.post(
        reverse("reports:handoff_download", args=[dispatch.public_id]),
        {"formato": "csv", "motivo": ""},
        follow=True,
    )
    assert response.redirect_chain[0] == (
        reverse("reports:handoff", args=[dispatch.public_id]),
        302,
    )
    assert "non è ancora partito" in response.content.decode()
    assert not AuditEvent.objects.filter(action="reports.handoff_exported").exists()
