"""A "retry failed" (or a resend of an uncertain delivery) against the retention purge: the
retry locks the dispatch row and refuses once a purge has begun, whatever the dispatch
object it was given says."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat

from ioportal.core.errors import NotAllowed
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.messaging.retention import PURGED_HMAC_PREFIX
from ioportal.retention.services import PURGED_MASK
from ioportal.sending import outcomes
from ioportal.sending.services import deliveries_resolve_uncertain, dispatch_retry_failed
from tests import builders
from tests.retention.test_purge import finished


@pytest.fixture
def recent(organization, operator_user):
    """A Premium dispatch that finished 10 days ago (its organization keeps 30 days), whose
    failed delivery is a technical failure that "retry failed" would send again."""
    organization.retention_days = 30
    organization.save()
    service = builders.service(organization, premium_enabled=True, test_mode=False)
    dispatch = finished(service, operator_user, days_ago=10)
    Delivery.objects.filter(dispatch=dispatch, state=Delivery.State.FAILED).update(
        last_error_code=outcomes.RETRIES_EXHAUSTED
    )
    return dispatch


def purge_first_chunk(dispatch: Dispatch) -> None:
    """What the purge's first chunk leaves: the first delivery blanked, the dispatch not yet
    marked purged."""
    first = Delivery.objects.filter(dispatch=dispatch).order_by("pk")[:1].values("pk")
    Delivery.objects.filter(pk__in=first).update(
        fiscal_code_encrypted="",
        fiscal_code_hmac=Concat(Value(PURGED_HMAC_PREFIX), Cast("pk", output_field=CharField())),
        fiscal_code_masked=PURGED_MASK,
    )


def failed_count(dispatch: Dispatch) -> int:
    return Delivery.objects.filter(dispatch=dispatch, state=Delivery.State.FAILED).count()


@pytest.mark.django_db
def test_retry_is_possible_within_the_retention(recent, operator_user):
    assert dispatch_retry_failed(dispatch=recent, actor=operator_user) == 1


@pytest.mark.django_db
def test_retry_refuses_a_dispatch_whose_purge_has_begun(recent, operator_user):
    purge_first_chunk(recent)
    with pytest.raises(NotAllowed):
        dispatch_retry_failed(dispatch=recent, actor=operator_user)
    recent.refresh_from_db()
    assert recent.state == Dispatch.State.COMPLETED
    assert failed_count(recent) == 1


@pytest.mark.django_db
def test_resending_an_uncertain_delivery_is_refused_once_the_purge_has_begun(
    recent, supervisor_user
):
    uncertain = Delivery.objects.filter(dispatch=recent, state=Delivery.State.FAILED).get()
    Delivery.objects.filter(pk=uncertain.pk).update(state=Delivery.State.UNCERTAIN)
    purge_first_chunk(recent)
    with pytest.raises(NotAllowed):
        deliveries_resolve_uncertain(
            dispatch=recent,
            delivery_ids=[uncertain.pk],
            decision="resend",
            actor=supervisor_user,
            confirmed=True,
        )
    assert Delivery.objects.get(pk=uncertain.pk).state == Delivery.State.UNCERTAIN


@pytest.mark.django_db
def test_retry_reads_the_retention_and_the_state_afresh(recent, operator_user, organization):
    """The dispatch object of the page is stale: the retention was shortened meanwhile, so
    the dispatch is now due for the purge."""
    assert recent.organization.retention_days == 30  # as the page loaded it
    type(organization).objects.filter(pk=organization.pk).update(retention_days=5)
    with pytest.raises(NotAllowed):
        dispatch_retry_failed(dispatch=recent, actor=operator_user)
    assert failed_count(recent) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_retry_waits_for_the_purge_holding_the_dispatch_then_refuses(recent, operator_user):
    """The purge holds the dispatch row while it blanks a chunk; a retry started then waits
    for it and, once the chunk is committed, refuses (without the lock it would reopen the
    dispatch the purge is working on)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks between connections need PostgreSQL")
    chunk_done = threading.Event()
    release = threading.Event()

    def purge_chunk() -> None:
        try:
            with transaction.atomic():
                Dispatch.objects.select_for_update().filter(pk=recent.pk).exists()
                purge_first_chunk(recent)
                chunk_done.set()
                release.wait(10)
        finally:
            connection.close()

    outcome: list[object] = []

    def retry() -> None:
        try:
            outcome.append(dispatch_retry_failed(dispatch=recent, actor=operator_user))
        except NotAllowed as exc:
            outcome.append(exc)
        finally:
            connection.close()

    purge = threading.Thread(target=purge_chunk)
    purge.start()
    assert chunk_done.wait(10)
    retrying = threading.Thread(target=retry)
    retrying.start()
    time.sleep(0.5)
    waited = not outcome
    release.set()
    purge.join(10)
    retrying.join(10)
    assert waited, "the retry did not wait for the purge's lock"
    assert len(outcome) == 1 and isinstance(outcome[0], NotAllowed)
    recent.refresh_from_db()
    assert recent.state == Dispatch.State.COMPLETED
    assert failed_count(recent) == 1
