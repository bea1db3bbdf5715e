"""The pipeline reads time from the database's clock, so a worker whose own clock is off
neither steals live claims, nor takes work before it is due, nor sets leases in the future."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from ioportal.accounts.models import Membership
from ioportal.messaging.models import Delivery
from ioportal.sending import claims, clock
from ioportal.sending.conf import sending_settings
from tests import builders
from tests.sending.support import fiscal_codes, simulated_service

pytestmark = pytest.mark.django_db(transaction=True)


def server_time() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM clock_timestamp())")
        return float(cursor.fetchone()[0])


@pytest.fixture
def skewed(monkeypatch: pytest.MonkeyPatch) -> Any:
    """This process's clock one hour ahead of the database server's."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server clock: every process is on the database's machine")
    monkeypatch.setattr(clock, "_local_time", lambda: time.time() + 3600)
    clock.forget()
    yield
    clock.forget()


def test_same_machine_has_no_offset() -> None:
    clock.forget()
    assert clock.measure_offset() == 0.0
    assert abs(clock.time() - time.time()) < 0.01


@pytest.mark.postgres
def test_a_skewed_worker_reads_the_servers_time(skewed: Any) -> None:
    assert abs(clock.measure_offset() + 3600) < 1
    assert abs(clock.time() - server_time()) < 1
    assert abs(clock.now() - datetime.fromtimestamp(server_time(), tz=UTC)) < timedelta(seconds=1)


@pytest.mark.postgres
def test_a_skewed_worker_claims_by_the_servers_clock(skewed: Any, organization: Any) -> None:
    user = builders.user(Membership.Role.SUPERVISOR, organization)
    dispatch = builders.dispatch(
        builders.service(organization, **simulated_service("http://127.0.0.1:9/api/v1")),
        user,
        fiscal_codes(3),
    )
    server_now = datetime.fromtimestamp(server_time(), tz=UTC)
    first, second, third = Delivery.objects.filter(dispatch=dispatch).order_by("id")
    # Due in ten minutes; held by another worker for another ten minutes; due now.
    Delivery.objects.filter(pk=first.pk).update(
        state="retry_wait", next_attempt_at=server_now + timedelta(minutes=10)
    )
    Delivery.objects.filter(pk=second.pk).update(
        state="ready", lease_until=server_now + timedelta(minutes=10)
    )
    _token, ids = claims.claim_work(organization_id=organization.pk, worker="w", limit=10)
    assert ids == [third.pk]  # with its own clock it would have taken all three
    third.refresh_from_db()
    assert third.lease_until is not None
    lease = third.lease_until.timestamp() - server_time()
    # The lease (sending/conf.py) from the server's now, not an hour later.
    assert 0 < lease <= sending_settings().lease_seconds + 1
