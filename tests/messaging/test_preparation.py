"""A big list's deliveries are created by a worker task: the launch returns at once, nothing
is sent before every delivery exists, the task is idempotent and resumable, and the pages
of a list decrypt only the chunk they show."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from ioportal.core.errors import NotAllowed
from ioportal.messaging import services
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.messaging.services import dispatches, preparation
from ioportal.messaging.tasks import prepare_dispatch
from ioportal.recipients import models as recipient_models
from ioportal.recipients.models import RecipientChunk, RecipientList
from ioportal.recipients.services import recipient_lists_purge_expired
from ioportal.sending import claims
from ioportal.sending.services import dispatch_cancel, dispatch_pause
from ioportal.sending.sweeper import complete_finished
from ioportal.sending.worker import has_due_work
from tests import builders

CSV = (
    b"Codice fiscale;Nome;Importo\n"
    b"RSSMRA85T10A562S;Anna;12,50\n"
    b"VRDGPP75C15F205S;Bruno;30\n"
    b"BNCLCU90D45L219X;Carla;5\n"  # wrong check character: rejected
    b"MRARSS80A01H501T;Dario;7\n"
)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """One row per chunk and per step, and every list prepared by the worker task."""
    monkeypatch.setattr(recipient_models, "CHUNK_ROWS", 1)
    monkeypatch.setattr(preparation, "PREPARE_STEP_CHUNKS", 1)
    monkeypatch.setattr(dispatches, "PREPARE_INLINE_MAX", 0)


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(preparation, "async_task", lambda *args, **kwargs: calls.append(args))
    return calls


@pytest.fixture
def big_list(small_chunks, service, organization, operator_user):
    template = builders.template(organization, operator_user)
    return builders.recipient_list(template, service, operator_user, data=CSV)


def _launch(recipient_list: RecipientList, user: Any, capture: Any) -> Dispatch:
    with capture(execute=True):
        dispatch, created = services.dispatch_launch_list(recipient_list=recipient_list, actor=user)
    assert created
    return dispatch


def test_launch_enqueues_the_preparation_and_nothing_is_sent_meanwhile(
    big_list, operator_user, enqueued, woken, django_capture_on_commit_callbacks, monkeypatch
):
    assert big_list.chunks.filter(kind=RecipientChunk.Kind.VALID).count() == 3
    dispatch = _launch(big_list, operator_user, django_capture_on_commit_callbacks)
    assert dispatch.state == Dispatch.State.PREPARING
    assert (dispatch.deliveries_expected, dispatch.deliveries_prepared) == (3, 0)
    assert enqueued == [("ioportal.messaging.tasks.prepare_dispatch", dispatch.pk)]
    assert not Delivery.objects.exists() and woken == []
    # Only the valid rows are kept until they are deliveries.
    kinds = set(big_list.chunks.values_list("kind", flat=True))
    assert kinds == {RecipientChunk.Kind.VALID}

    # A worker crashed after the first chunk: the pipeline ignores the partial dispatch.
    assert preparation._prepare_step(dispatch.pk) == 1
    dispatch.refresh_from_db()
    assert (dispatch.deliveries_prepared, dispatch.prepared_chunks) == (1, 1)
    assert Delivery.objects.filter(dispatch=dispatch).count() == 1
    assert not has_due_work(organization_id=dispatch.organization_id)
    assert not claims.work_queryset(organization_id=dispatch.organization_id).exists()
    assert complete_finished() == 0
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.PREPARING

    # The task runs again (twice): it resumes, and creates nothing twice.
    monkeypatch.setattr(preparation, "PREPARE_STEP_CHUNKS", 5)
    with django_capture_on_commit_callbacks(execute=True):
        assert prepare_dispatch(dispatch.pk) == 2
        assert prepare_dispatch(dispatch.pk) == 0
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.RUNNING
    assert (dispatch.deliveries_prepared, dispatch.prepared_chunks) == (3, 3)
    rows = list(dispatch.deliveries.order_by("row_number").values_list("row_number", flat=True))
    assert rows == [2, 3, 5]
    assert dispatch.deliveries.get(row_number=5).variables == {
        "nome": "Dario",
        "importo": "7,00",
    }
    assert woken == [dispatch.organization_id]
    assert has_due_work(organization_id=dispatch.organization_id)
    assert not RecipientChunk.objects.exists()


def test_prepared_dispatch_waits_for_approval_decided_at_launch(
    big_list, operator_user, organization, enqueued, woken, django_capture_on_commit_callbacks
):
    from ioportal.messaging.models import ApprovalPolicy

    ApprovalPolicy.objects.create(organization=organization, threshold=2)
    dispatch = _launch(big_list, operator_user, django_capture_on_commit_callbacks)
    assert dispatch.state == Dispatch.State.PREPARING and dispatch.approval_required
    with django_capture_on_commit_callbacks(execute=True):
        prepare_dispatch(dispatch.pk)
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.AWAITING_APPROVAL and woken == []
    assert dispatch.deliveries.count() == 3


def test_cancel_during_preparation_stops_it(
    big_list, operator_user, enqueued, woken, django_capture_on_commit_callbacks
):
    dispatch = _launch(big_list, operator_user, django_capture_on_commit_callbacks)
    preparation._prepare_step(dispatch.pk)
    assert dispatch_cancel(dispatch=dispatch, actor=operator_user) == 1
    assert prepare_dispatch(dispatch.pk) == 0
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.CANCELLED
    assert list(dispatch.deliveries.values_list("state", flat=True)) == ["cancelled"]
    assert not RecipientChunk.objects.exists() and woken == []


def test_stalled_preparation_is_enqueued_again_and_its_list_kept(
    big_list, operator_user, enqueued, django_capture_on_commit_callbacks
):
    dispatch = _launch(big_list, operator_user, django_capture_on_commit_callbacks)
    assert services.dispatches_resume_preparation() == 0  # it has just started
    Dispatch.objects.filter(pk=dispatch.pk).update(
        prepared_at=timezone.now() - timedelta(minutes=5)
    )
    RecipientList.objects.filter(pk=big_list.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert recipient_lists_purge_expired() == 0
    assert services.dispatches_resume_preparation() == 1
    assert enqueued[-1] == ("ioportal.messaging.tasks.prepare_dispatch", dispatch.pk)


def test_dispatch_page_shows_the_preparation_progress(
    client, login, big_list, operator_user, enqueued, django_capture_on_commit_callbacks
):
    dispatch = _launch(big_list, operator_user, django_capture_on_commit_callbacks)
    preparation._prepare_step(dispatch.pk)
    login(operator_user)
    url = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    page = client.get(url).content.decode()
    progress = reverse("sending:dispatch_progress", args=[dispatch.public_id])
    assert "1 di 3 messaggi pronti" in page and f'hx-get="{progress}"' in page
    assert 'max="3" value="1"' in page and "htmx/htmx.min.js" in page
    prepare_dispatch(dispatch.pk)
    page = client.get(progress).content.decode()
    assert "messaggi pronti" not in page


def test_list_pages_decrypt_only_the_rows_they_show(
    client, login, big_list, operator_user, monkeypatch
):
    opened: list[int] = []
    real_unseal = recipient_models.unseal

    def counting(stored: str) -> Any:
        items = real_unseal(stored)
        opened.append(len(items))  # rows decrypted
        return items

    monkeypatch.setattr(recipient_models, "unseal", counting)
    login(operator_user)
    preview = reverse("messaging:list_preview", args=[big_list.public_id])
    page = client.get(preview, {"riga": 3}).content.decode()
    assert "Dario" in page and "Cittadino 3 di 3" in page and opened == [1]
    opened.clear()
    page = client.get(reverse("messaging:list_confirm", args=[big_list.public_id]))
    assert "Anna" in page.content.decode() and opened == [1]


def test_delivery_variables_are_encrypted_at_rest(
    big_list, operator_user, woken, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(dispatches, "PREPARE_INLINE_MAX", 1000)
    dispatch = _launch(big_list, operator_user, django_capture_on_commit_callbacks)
    delivery = dispatch.deliveries.get(row_number=2)
    assert delivery.variables == {"nome": "Anna", "importo": "12,50"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT variables FROM messaging_delivery WHERE dispatch_id = %s", [dispatch.pk]
        )
        stored = [row[0] for row in cursor.fetchall()]
    assert len(stored) == 3
    for raw in stored:
        assert "Anna" not in raw and "Bruno" not in raw and "12,50" not in raw
        assert "nome" not in raw and raw.count(":") == 1  # "<key id>:<Fernet token>"
    from ioportal.recipients.rendering import delivery_content

    subject, markdown = delivery_content(dispatch, delivery)
    assert "Gentile Anna" in markdown and "12,50 euro" in markdown


def test_the_cancel_page_of_a_dispatch_being_prepared_counts_as_test_mode_sends(
    client,
    login,
    small_chunks,
    organization,
    operator_user,
    enqueued,
    woken,
    django_capture_on_commit_callbacks,
):
    """Anna, Bruno and Dario are valid, only Anna is authorised in test mode: while the list
    is being prepared, a cancel stops one message (not the three rows), whether or not
    Anna's row is prepared yet; the count follows the authorised recipients when they
    change; without its list, the rows still to prepare are all counted, as an upper
    bound the page says it is."""
    service = builders.service(
        organization, test_mode=True, authorized_recipients=["RSSMRA85T10A562S"]
    )
    template = builders.template(organization, operator_user)
    recipient_list = builders.recipient_list(template, service, operator_user, data=CSV)
    dispatch = _launch(recipient_list, operator_user, django_capture_on_commit_callbacks)
    url = reverse("sending:dispatch_cancel", args=[dispatch.public_id])
    login(operator_user)

    def warning() -> str:
        page = client.get(url).content.decode()
        return page.split('id="cancel-warning"', 1)[1].split("</div>", 1)[0]

    assert "1 messaggio non ancora partito non sarà inviato." in warning()
    assert preparation._prepare_step(dispatch.pk) == 1  # Anna's row: a delivery now
    assert "1 messaggio non ancora partito non sarà inviato." in warning()
    assert preparation._prepare_step(dispatch.pk) == 1  # Bruno's, not authorised
    assert "1 messaggio non ancora partito non sarà inviato." in warning()
    assert "al massimo" not in warning().lower()

    service.authorized_recipients = ["RSSMRA85T10A562S", "MRARSS80A01H501T"]
    service.save()
    assert "2 messaggi non ancora partiti non saranno inviati." in warning()

    RecipientList.objects.filter(pk=recipient_list.pk).delete()
    text = warning()
    # Anna's delivery, and Dario's row, not known to be authorised without the list.
    assert 'id="cancel-at-most"' in text
    assert "Al massimo 2 messaggi non ancora partiti non saranno inviati." in text
    assert "i destinatari non ancora preparati sono contati tutti" in text
    done = client.post(url, {"confirm": "on"}, follow=True).content.decode()
    assert "Invio annullato: al massimo 2 messaggi non saranno inviati." in done
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.CANCELLED


def test_a_dispatch_being_prepared_cannot_be_paused_and_loses_nothing(
    big_list, operator_user, enqueued, woken, django_capture_on_commit_callbacks
):
    """A preparation stops, erasing the list, once its dispatch is no longer PREPARING: a
    pause then would leave a part of the citizens out. It is refused, nothing changes, and
    the preparation goes on to every row (nothing is sent meanwhile anyway)."""
    dispatch = _launch(big_list, operator_user, django_capture_on_commit_callbacks)
    preparation._prepare_step(dispatch.pk)
    with pytest.raises(NotAllowed, match="non è in uno stato che consente"):
        dispatch_pause(dispatch=dispatch, actor=operator_user)
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.PREPARING
    assert big_list.chunks.filter(kind=RecipientChunk.Kind.VALID).count() == 3
    with django_capture_on_commit_callbacks(execute=True):
        prepare_dispatch(dispatch.pk)
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.RUNNING and dispatch.deliveries.count() == 3
    dispatch_pause(dispatch=dispatch, actor=operator_user)  # once prepared, as usual
    dispatch.refresh_from_db()
    assert dispatch.state == Dispatch.State.PAUSED
