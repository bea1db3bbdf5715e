"""Subscriptions feed: daily sync (`responses` and the simulator) and the recipient check."""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
import responses

from ioportal.accounts.models import Membership, Organization
from ioportal.core.fiscalcode import fiscal_code_hash
from ioportal.fakeio.citizens import feed_fiscal_codes
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.sending import outcomes, tasks
from ioportal.sending.feed import known_consent, missing_days, sync_service_feed, utc_today
from ioportal.sending.models import AccountState, ApiCall, FeedDay, FeedSubscription
from ioportal.sending.runner import run_account_worker
from tests import builders
from tests.sending.support import (
    SERVICE_ID,
    fiscal_codes,
    simulated_service,
    simulator_config,
    state_counts,
)

IO = "https://api.io.pagopa.it/api/v1"
TODAY = date(2026, 11, 26)
A, B, C = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.SENDING_LIMITER = "db"
    settings.SENDING_AUTOPAUSE_MIN = 1000
    settings.SENDING_FEED_BACKFILL_DAYS = 3


def feed_url(day: date) -> str:
    return f"{IO}/subscriptions-feed/{day.isoformat()}"


def feed_body(day: date, subs: list[str], unsubs: list[str]) -> dict[str, Any]:
    return {"dateUTC": day.isoformat(), "subscriptions": subs, "unsubscriptions": unsubs}


def not_ready(day: date) -> dict[str, Any]:
    return {
        "status": 404,
        "json": {"title": "Data not available yet", "status": 404, "detail": f"{day}"},
    }


@responses.activate
def test_sync_applies_missing_days_in_order_and_latest_event_wins(
    organization: Organization,
) -> None:
    service = builders.service(organization, **simulated_service("", feed_access=True))
    d1, d2, d3 = (TODAY - timedelta(days=n) for n in (3, 2, 1))
    responses.get(feed_url(d1), json=feed_body(d1, [A, B], []))
    responses.get(feed_url(d2), json=feed_body(d2, [C], [A]))
    responses.get(feed_url(d3), json=feed_body(d3, [], []))
    stats = sync_service_feed(service_id=service.pk, today=TODAY)
    assert stats == {"days": 3, "subscriptions": 3, "unsubscriptions": 1, "errors": 0}
    rows = dict(FeedSubscription.objects.values_list("fiscal_code_hash", "subscribed"))
    assert rows == {A: False, B: True, C: True}
    # Every call recorded (no delivery) and paid to the account's shared limiter.
    assert ApiCall.objects.filter(service=service, delivery=None).count() == 3
    assert AccountState.objects.filter(organization=organization).exists()
    # Idempotent: nothing missing, no call.
    assert missing_days(service=service, today=TODAY) == []
    assert sync_service_feed(service_id=service.pk, today=TODAY)["days"] == 0
    assert len(responses.calls) == 3


@responses.activate
def test_sync_stops_at_day_not_available_and_resumes(organization: Organization) -> None:
    service = builders.service(organization, **simulated_service("", feed_access=True))
    d1, d2, d3 = (TODAY - timedelta(days=n) for n in (3, 2, 1))
    responses.get(feed_url(d1), json=feed_body(d1, [A], []))
    responses.get(feed_url(d2), **not_ready(d2))
    stats = sync_service_feed(service_id=service.pk, today=TODAY)
    assert stats["days"] == 1 and stats["errors"] == 0
    assert missing_days(service=service, today=TODAY) == [d2, d3]


@responses.activate
def test_backfilled_old_day_does_not_undo_newer_news(organization: Organization) -> None:
    service = builders.service(organization, **simulated_service("", feed_access=True))
    d1, d2, d3 = (TODAY - timedelta(days=n) for n in (3, 2, 1))
    FeedDay.objects.create(service=service, day=d2)
    FeedSubscription.objects.create(service=service, fiscal_code_hash=A, subscribed=False, day=d2)
    responses.get(feed_url(d1), json=feed_body(d1, [A, B], []))
    responses.get(feed_url(d3), json=feed_body(d3, [], []))
    sync_service_feed(service_id=service.pk, today=TODAY)
    rows = dict(FeedSubscription.objects.values_list("fiscal_code_hash", "subscribed"))
    assert rows == {A: False, B: True}


@responses.activate
def test_service_without_feed_access_makes_no_call(organization: Organization) -> None:
    service = builders.service(organization, **simulated_service(""))
    assert sync_service_feed(service_id=service.pk, today=TODAY)["days"] == 0
    assert len(responses.calls) == 0


def test_daily_task_enqueues_feed_services_only(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_feed = builders.service(organization, **simulated_service("", feed_access=True))
    enqueued: list[tuple[Any, ...]] = []
    monkeypatch.setattr("ioportal.sending.tasks.async_task", lambda *a, **k: enqueued.append(a))
    assert tasks.sync_feeds() == 1
    assert enqueued == [("ioportal.sending.tasks.sync_feed", with_feed.pk)]


# -- the recipient check ----------------------------------------------------------------------


@pytest.fixture
def feed_dispatch(organization: Organization) -> Dispatch:
    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(organization, **simulated_service("", feed_access=True))
    return builders.dispatch(service, user, fiscal_codes(3))


def run(dispatch: Dispatch) -> dict[int, Delivery]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
        run_account_worker(organization_id=dispatch.organization_id, budget=2)
    return {d.row_number: d for d in Delivery.objects.filter(dispatch=dispatch)}


def know(dispatch: Dispatch, code: str, *, subscribed: bool, synced: date | None = None) -> None:
    synced = synced or utc_today() - timedelta(days=1)
    FeedDay.objects.get_or_create(service=dispatch.service, day=synced)
    FeedSubscription.objects.create(
        service=dispatch.service,
        fiscal_code_hash=fiscal_code_hash(code),
        subscribed=subscribed,
        day=synced,
    )


@responses.activate
def test_known_citizens_skip_the_profile_call(feed_dispatch: Dispatch) -> None:
    subscribed, unsubscribed, unknown = fiscal_codes(3)
    know(feed_dispatch, subscribed, subscribed=True)
    know(feed_dispatch, unsubscribed, subscribed=False)
    responses.post(f"{IO}/profiles", json={"sender_allowed": True})
    responses.post(f"{IO}/messages", json={"id": "01JABCDEFGHJKMNPQRSTVWXYZ0"}, status=201)
    responses.post(f"{IO}/messages", json={"id": "01JABCDEFGHJKMNPQRSTVWXYZ1"}, status=201)
    deliveries = run(feed_dispatch)
    assert deliveries[1].state == "submitted"
    assert deliveries[2].state == "skipped"
    assert deliveries[2].skip_reason == outcomes.BLOCKED
    assert deliveries[3].state == "submitted"
    profile_calls = [c for c in responses.calls if c.request.url.endswith("/profiles")]
    assert len(profile_calls) == 1  # only the unknown citizen
    assert ApiCall.objects.filter(delivery=deliveries[1]).count() == 1


@responses.activate
def test_stale_feed_is_not_trusted(feed_dispatch: Dispatch) -> None:
    code = fiscal_codes(1)[0]
    know(feed_dispatch, code, subscribed=False, synced=utc_today() - timedelta(days=10))
    Delivery.objects.filter(dispatch=feed_dispatch, row_number__gt=1).delete()
    assert known_consent(service=feed_dispatch.service, fiscal_code=code) is None
    responses.post(f"{IO}/profiles", json={"sender_allowed": True})
    responses.post(f"{IO}/messages", json={"id": "01JABCDEFGHJKMNPQRSTVWXYZ0"}, status=201)
    assert run(feed_dispatch)[1].state == "submitted"


def test_no_feed_access_means_unknown(feed_dispatch: Dispatch) -> None:
    code = fiscal_codes(1)[0]
    know(feed_dispatch, code, subscribed=True)
    service = feed_dispatch.service
    assert known_consent(service=service, fiscal_code=code) is True
    service.feed_access = False
    assert known_consent(service=service, fiscal_code=code) is None


# -- against the simulator --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_feed_sync_and_sending_against_the_simulator(
    organization: Organization,
    start_simulator: Callable[[dict[str, Any]], Any],
    settings: Any,
) -> None:
    settings.SENDING_FEED_BACKFILL_DAYS = 2
    config = simulator_config(organization, rate_limit=150, feed_size=6)
    config["accounts"][0]["services"][0]["feed_access"] = True
    sim = start_simulator(config)
    service = builders.service(organization, **simulated_service(sim.api_url, feed_access=True))
    stats = sync_service_feed(service_id=service.pk)
    assert stats == {"days": 2, "subscriptions": 6, "unsubscriptions": 6, "errors": 0}
    assert FeedSubscription.objects.filter(service=service).count() == 12
    yesterday = (utc_today() - timedelta(days=1)).isoformat()
    subscribed, unsubscribed = feed_fiscal_codes(yesterday, SERVICE_ID, 6)
    unknown = fiscal_codes(2)
    user = builders.user(Membership.Role.OPERATOR, organization)
    dispatch = builders.dispatch(service, user, subscribed + unsubscribed + unknown)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
        run_account_worker(organization_id=organization.pk, budget=5)
    counts = state_counts(dispatch)
    assert counts.get("submitted", 0) + counts.get("processed", 0) == len(subscribed) + 2
    assert counts["skipped"] == len(unsubscribed)
    calls = sim.sim.stats()["calls"]
    profile_calls = sum(
        n for operation, by in calls.items() if "rofile" in operation for n in by.values()
    )
    assert profile_calls == 2
    feed_calls = sum(
        n for operation, by in calls.items() if "Feed" in operation for n in by.values()
    )
    assert feed_calls == 2
