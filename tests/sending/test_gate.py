"""Send windows and pacing in the claim of work, and with the real worker on the simulator.

The pipeline's clock (`sending.clock`) is moved to chosen moments in Europe/Rome; it keeps
running from there, so leases, the limiter and polls behave as in real time.
"""

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from ioportal.accounts.models import Membership, Organization
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.messaging.windows import PRESET_WORKING_DAYS, ROME, hours_to_stored
from ioportal.sending import claims, clock, gate
from ioportal.sending.models import SendWindowPolicy
from ioportal.sending.runner import run_account_worker
from ioportal.sending.worker import has_due_work
from tests import builders
from tests.sending.conftest import Simulator
from tests.sending.support import fiscal_codes, simulated_service, simulator_config

pytestmark = pytest.mark.django_db

MONDAY_10 = datetime(2026, 12, 14, 10, 0, tzinfo=ROME)
MONDAY_21 = datetime(2026, 12, 14, 21, 0, tzinfo=ROME)
TUESDAY_8 = datetime(2026, 12, 15, 8, 0, 1, tzinfo=ROME)
SUNDAY_12 = datetime(2026, 12, 13, 12, 0, tzinfo=ROME)


class MovableClock:
    """The pipeline's clock, set to a chosen moment and running on from there. It replaces
    `clock.time` itself (on PostgreSQL a shifted local clock would be corrected back to the
    server's)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        monkeypatch.setattr(clock, "time", lambda: time.time() + self.offset)
        clock.forget()

    def to(self, moment: datetime) -> None:
        self.offset = moment.timestamp() - time.time()
        clock.forget()


@pytest.fixture
def moved(monkeypatch: pytest.MonkeyPatch) -> Iterator[MovableClock]:
    yield MovableClock(monkeypatch)
    clock.forget()


@pytest.fixture(autouse=True)
def _quiet(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.SENDING_LIMITER = "db"
    settings.SENDING_AUTOPAUSE_MIN = 1000
    settings.SENDING_POLL_INTERVALS = [1, 1, 1]
    monkeypatch.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)


def preset(organization: Organization) -> None:
    SendWindowPolicy.objects.create(
        organization=organization, enabled=True, hours=hours_to_stored(PRESET_WORKING_DAYS.hours)
    )
    gate.forget()


@pytest.fixture
def author(organization: Organization) -> Any:
    return builders.user(Membership.Role.OPERATOR, organization)


def claim(organization: Organization, limit: int = 10) -> list[int]:
    return claims.claim_work(organization_id=organization.pk, worker="t", limit=limit)[1]


# -- the claim ---------------------------------------------------------------------------------


def test_no_windows_claims_at_any_time(
    organization: Organization, author: Any, moved: MovableClock
) -> None:
    moved.to(SUNDAY_12)
    builders.dispatch(
        builders.service(organization, **simulated_service("")), author, fiscal_codes(3)
    )
    assert len(claim(organization)) == 3


def test_outside_the_window_only_test_sends_are_claimed(
    organization: Organization, author: Any, moved: MovableClock
) -> None:
    preset(organization)
    service = builders.service(organization, **simulated_service(""))
    listed = builders.dispatch(service, author, fiscal_codes(3))
    test_send = builders.dispatch(service, author, fiscal_codes(1), kind=Dispatch.Kind.TEST)
    moved.to(SUNDAY_12)
    due = claims.work_queryset(organization_id=organization.pk)
    assert set(due.values_list("dispatch_id", flat=True)) == {test_send.pk}
    ids = claim(organization)
    assert set(Delivery.objects.filter(pk__in=ids).values_list("dispatch_id", flat=True)) == {
        test_send.pk
    }
    assert set(Delivery.objects.filter(dispatch=listed).values_list("state", flat=True)) == {
        "pending"
    }
    assert not has_due_work(organization_id=organization.pk)  # the test send is claimed
    waiting = gate.dispatch_waiting(listed, now=clock.now())
    assert waiting is not None and waiting.reason == "window"
    assert waiting.until == datetime(2026, 12, 14, 8, 0, tzinfo=ROME)
    assert gate.dispatch_waiting(test_send, now=clock.now()) is None
    moved.to(MONDAY_10)
    assert has_due_work(organization_id=organization.pk)
    assert len(claim(organization)) == 3
    assert gate.dispatch_waiting(listed, now=clock.now()) is None


def test_daily_cap_counts_submitted_and_in_flight(
    organization: Organization, author: Any, moved: MovableClock
) -> None:
    moved.to(MONDAY_10)
    service = builders.service(organization, **simulated_service(""))
    capped = builders.dispatch(service, author, fiscal_codes(12), daily_cap=5)
    other = builders.dispatch(service, author, fiscal_codes(30)[20:])
    # Two went this morning (one submitted, one delivered), one yesterday.
    sent = list(Delivery.objects.filter(dispatch=capped).order_by("id")[:3])
    today, yesterday = clock.now() - timedelta(hours=1), clock.now() - timedelta(days=1)
    for number, (delivery, at) in enumerate(zip(sent, [today, today, yesterday], strict=True)):
        Delivery.objects.filter(pk=delivery.pk).update(
            state="processed", io_message_id=f"01ID{number}", submitted_at=at
        )
    # 5 − 2 = 3 left today: a claim of 10 takes 3 of the capped dispatch and 7 of the other.
    ids = claim(organization)
    by_dispatch = Delivery.objects.filter(pk__in=ids).values_list("dispatch_id", flat=True)
    assert list(by_dispatch).count(capped.pk) == 3 and list(by_dispatch).count(other.pk) == 7
    # The 3 in flight count: nothing more of the capped dispatch today.
    ids = claim(organization)
    assert capped.pk not in set(
        Delivery.objects.filter(pk__in=ids).values_list("dispatch_id", flat=True)
    )
    waiting = gate.dispatch_waiting(capped, now=clock.now())
    assert waiting is not None and waiting.reason == "daily_quota"
    # No windows: a paced dispatch resumes in the morning, not at midnight.
    assert waiting.until == datetime(2026, 12, 15, 8, 0, tzinfo=ROME)
    # One in flight is skipped at the check (not on IO): its place is free again.
    skipped = Delivery.objects.filter(dispatch=capped, state="checking").first()
    assert skipped is not None
    Delivery.objects.filter(pk=skipped.pk).update(state="skipped", claim_token=None)
    ids = claim(organization, limit=10)
    assert list(Delivery.objects.filter(pk__in=ids).values_list("dispatch_id", flat=True)) == [
        capped.pk
    ]
    # Tomorrow: five more.
    moved.to(MONDAY_10 + timedelta(days=1))
    Delivery.objects.filter(state="checking").update(state="skipped", claim_token=None)
    assert Delivery.objects.filter(dispatch=capped, state="pending").count() == 5
    assert len(claim(organization, limit=3)) == 3
    assert len(claim(organization, limit=3)) == 2


def test_deadline_spreads_the_claims(
    organization: Organization, author: Any, moved: MovableClock
) -> None:
    preset(organization)
    moved.to(datetime(2026, 12, 9, 10, 0, tzinfo=ROME))  # Wednesday
    service = builders.service(organization, **simulated_service(""))
    # 20 by Saturday 12 at 20:00: Wed, Thu, Fri, Sat → 5 a day.
    spread = builders.dispatch(
        service, author, fiscal_codes(20), send_by=datetime(2026, 12, 12, 20, 0, tzinfo=ROME)
    )
    assert len(claim(organization, limit=50)) == 5
    assert claim(organization, limit=50) == []
    assert gate.dispatch_waiting(spread, now=clock.now()) is not None


def test_deadline_spreads_the_claims_without_windows(
    organization: Organization, author: Any, moved: MovableClock
) -> None:
    # No windows ("In qualsiasi momento"): every day is a sending day, so 20 by Saturday 12 at
    # 20:00 from Wednesday 9 at 10:00 are 5 a day, not all of them on Wednesday.
    moved.to(datetime(2026, 12, 9, 10, 0, tzinfo=ROME))
    service = builders.service(organization, **simulated_service(""))
    spread = builders.dispatch(
        service, author, fiscal_codes(20), send_by=datetime(2026, 12, 12, 20, 0, tzinfo=ROME)
    )
    assert len(claim(organization, limit=50)) == 5
    assert claim(organization, limit=50) == []
    waiting = gate.dispatch_waiting(spread, now=clock.now())
    assert waiting is not None and waiting.reason == "daily_quota"
    assert waiting.until == datetime(2026, 12, 10, 8, 0, tzinfo=ROME)
    # Thursday: the next share (the 5 in flight count as Wednesday's once submitted).
    in_flight = Delivery.objects.filter(dispatch=spread, state="checking").order_by("id")
    for number, delivery in enumerate(in_flight):
        Delivery.objects.filter(pk=delivery.pk).update(
            state="processed", io_message_id=f"01ID{number}", submitted_at=clock.now()
        )
    moved.to(datetime(2026, 12, 10, 9, 0, tzinfo=ROME))
    assert len(claim(organization, limit=50)) == 5


def test_without_windows_a_paced_dispatch_is_claimed_in_daytime_only(
    organization: Organization, author: Any, moved: MovableClock
) -> None:
    """No windows: a dispatch with a cap or a deadline is not claimed at night (its day's
    share would start at midnight), one without pacing still is; 08:00 opens the day."""
    service = builders.service(organization, **simulated_service(""))
    moved.to(MONDAY_21)
    capped = builders.dispatch(service, author, fiscal_codes(12), daily_cap=5)
    spread = builders.dispatch(
        service, author, fiscal_codes(24)[12:], send_by=datetime(2026, 12, 17, 20, tzinfo=ROME)
    )
    free = builders.dispatch(service, author, fiscal_codes(30)[24:])
    ids = claim(organization, limit=50)
    by_dispatch = set(Delivery.objects.filter(pk__in=ids).values_list("dispatch_id", flat=True))
    assert by_dispatch == {free.pk}
    for paced in (capped, spread):
        waiting = gate.dispatch_waiting(paced, now=clock.now())
        assert waiting is not None and waiting.reason == "daytime"
        assert waiting.until == datetime(2026, 12, 15, 8, 0, tzinfo=ROME)
    moved.to(datetime(2026, 12, 15, 0, 30, tzinfo=ROME))  # a new day's quota, still night
    assert claim(organization, limit=50) == []
    moved.to(TUESDAY_8)
    ids = claim(organization, limit=50)
    by_dispatch = list(Delivery.objects.filter(pk__in=ids).values_list("dispatch_id", flat=True))
    # 5 of the capped one; 12 due in three days (Tuesday to Thursday): 4 today.
    assert by_dispatch.count(capped.pk) == 5 and by_dispatch.count(spread.pk) == 4


# -- the real worker on the simulator ----------------------------------------------------------


def test_worker_waits_outside_the_window_polls_and_resumes(
    organization: Organization,
    author: Any,
    moved: MovableClock,
    start_simulator: Callable[[dict[str, Any]], Simulator],
) -> None:
    simulator = start_simulator(simulator_config(organization, rate_limit=1000))
    service = builders.service(organization, **simulated_service(simulator.api_url))
    preset(organization)
    moved.to(MONDAY_10)
    early = builders.dispatch(service, author, fiscal_codes(2))
    run_account_worker(organization_id=organization.pk, budget=3)
    assert simulator.sim.stats()["messages"] == 2
    assert (
        Delivery.objects.filter(dispatch=early, state__in=("submitted", "processed")).count() == 2
    )

    # Monday evening: the window is closed. A new dispatch waits; status refresh goes on.
    moved.to(MONDAY_21)
    late = builders.dispatch(service, author, fiscal_codes(10)[2:7])
    # Their status refresh is due (as if IO had not processed them yet).
    Delivery.objects.filter(dispatch=early).update(state="submitted", next_poll_at=clock.now())
    polls_before = sum(Delivery.objects.filter(dispatch=early).values_list("polls", flat=True))
    time.sleep(0.6)  # the simulator processes a message 0.5 s after it arrives
    run_account_worker(organization_id=organization.pk, budget=3)
    assert simulator.sim.stats()["messages"] == 2
    assert set(Delivery.objects.filter(dispatch=late).values_list("state", flat=True)) == {
        "pending"
    }
    polls_after = sum(Delivery.objects.filter(dispatch=early).values_list("polls", flat=True))
    assert polls_after > polls_before
    assert set(Delivery.objects.filter(dispatch=early).values_list("state", flat=True)) == {
        "processed"
    }
    assert not claims.work_queryset(organization_id=organization.pk).exists()
    late.refresh_from_db()
    assert late.state == Dispatch.State.RUNNING
    waiting = gate.dispatch_waiting(late, now=clock.now())
    assert waiting is not None and waiting.until == datetime(2026, 12, 15, 8, 0, tzinfo=ROME)

    # Tuesday 08:00: it resumes by itself.
    moved.to(TUESDAY_8)
    assert has_due_work(organization_id=organization.pk)
    run_account_worker(organization_id=organization.pk, budget=3)
    assert simulator.sim.stats()["messages"] == 7
    assert Delivery.objects.filter(dispatch=late, io_message_id__isnull=False).count() == 5
    assert simulator.sim.stats()["duplicates"] == 0


def test_worker_stops_at_the_daily_cap_and_goes_on_the_next_day(
    organization: Organization,
    author: Any,
    moved: MovableClock,
    start_simulator: Callable[[dict[str, Any]], Simulator],
    settings: Any,
) -> None:
    settings.SENDING_BATCH_SIZE = 2
    simulator = start_simulator(simulator_config(organization, rate_limit=1000))
    service = builders.service(organization, **simulated_service(simulator.api_url))
    moved.to(MONDAY_10)
    # 7 citizens, two of whom are not on IO (the 2nd and the 7th: skipped, they take no
    # place), 3 a day: the first day checks 4 and sends 3.
    capped = builders.dispatch(service, author, fiscal_codes(7, not_on_io_every=5), daily_cap=3)
    run_account_worker(organization_id=organization.pk, budget=3)
    assert simulator.sim.stats()["messages"] == 3
    assert Delivery.objects.filter(dispatch=capped, state="skipped").count() == 1
    assert not claims.work_queryset(organization_id=organization.pk).exists()
    moved.to(MONDAY_10 + timedelta(days=1))
    run_account_worker(organization_id=organization.pk, budget=3)
    assert simulator.sim.stats()["messages"] == 5
    assert Delivery.objects.filter(dispatch=capped, state="skipped").count() == 2
    assert simulator.sim.stats()["duplicates"] == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_pass_the_daily_cap(
    organization: Organization, author: Any, moved: MovableClock
) -> None:
    """Claims of one capped dispatch from several threads at once (own connections): the
    row lock on the dispatch makes each claim count the others' in-flight deliveries."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent claims from threads need PostgreSQL")
    moved.to(MONDAY_10)
    capped = builders.dispatch(
        builders.service(organization, **simulated_service("")),
        author,
        fiscal_codes(60),
        daily_cap=7,
    )
    claimed: list[int] = []
    start = threading.Barrier(4)

    def worker() -> None:
        try:
            start.wait()
            for _ in range(5):
                ids = claims.claim_work(organization_id=organization.pk, worker="t", limit=3)[1]
                claimed.extend(ids)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == len(set(claimed)) == 7
    assert Delivery.objects.filter(dispatch=capped, state="checking").count() == 7
