"""Premium read and payment status: polled often in the first hours, then rarely."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from ioportal.accounts.models import Membership, Organization
from ioportal.ioapi.results import CallInfo, MessageInfo
from ioportal.messaging.models import Delivery
from ioportal.sending import clock, transitions
from ioportal.sending.checks import check_premium_poll_schedule
from ioportal.sending.conf import premium_poll_schedule
from tests import builders
from tests.sending.support import fiscal_codes, simulated_service

HOUR = 3600


@pytest.fixture(autouse=True)
def default_schedule(settings: Any) -> None:
    settings.SENDING_PREMIUM_POLL_SCHEDULE = [
        "3600:600",
        "21600:1800",
        "86400:7200",
        "259200:21600",
        "86400",
    ]
    settings.SENDING_PREMIUM_POLL_SECONDS = 0


@pytest.mark.parametrize(
    ("age", "interval"),
    [
        (0, 600),
        (59 * 60, 600),
        (HOUR, 1800),
        (5 * HOUR, 1800),
        (6 * HOUR, 7200),
        (23 * HOUR, 7200),
        (24 * HOUR, 21600),
        (72 * HOUR, 86400),
        (10 * 24 * HOUR, 86400),
    ],
)
def test_interval_by_age(age: float, interval: float) -> None:
    assert transitions.premium_poll_delay(age) == interval


def test_a_cap_shortens_every_interval(settings: Any) -> None:
    settings.SENDING_PREMIUM_POLL_SECONDS = 30  # make run's demo
    assert transitions.premium_poll_delay(0) == 30
    assert transitions.premium_poll_delay(5 * 24 * HOUR) == 30


@pytest.mark.parametrize(
    "entries",
    [[], ["600:60"], ["600:x", "60"], ["600:60", "300:60", "60"], ["600:0", "60"], ["1:2:3", "60"]],
)
def test_a_bad_schedule_is_refused(entries: list[str], settings: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="SENDING_PREMIUM_POLL_SCHEDULE"):
        premium_poll_schedule(entries)
    settings.SENDING_PREMIUM_POLL_SCHEDULE = entries
    assert [e.id for e in check_premium_poll_schedule()] == ["sending.E007"]


def message_info(read: str, payment: str | None = None) -> MessageInfo:
    call = CallInfo("getMessage", "GET", 200, 5, "ok", None, None)
    return MessageInfo(
        id="01JABCDEFGHJKMNPQRSTVWXYZ0",
        fiscal_code="RSSMRA80A01H501U",
        created_at=None,
        sender_service_id=None,
        feature_level_type="ADVANCED",
        status_raw="PROCESSED",
        read_status_raw=read,
        payment_status_raw=payment,
        call=call,
    )


@pytest.mark.parametrize(("age_hours", "interval"), [(0.01, 600), (2, 1800), (30, 21600)])
def test_processed_premium_message_is_polled_by_its_age(
    organization: Organization,
    age_hours: float,
    interval: float,
) -> None:
    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(organization, **simulated_service(""))
    dispatch = builders.dispatch(service, user, fiscal_codes(1), feature_level="advanced")
    token = uuid.uuid4()
    now = clock.now()
    Delivery.objects.filter(dispatch=dispatch).update(
        state=Delivery.State.SUBMITTED,
        claim_token=token,
        io_message_id="01JABCDEFGHJKMNPQRSTVWXYZ0",
        submitted_at=now - timedelta(hours=age_hours),
    )
    delivery = Delivery.objects.select_related("dispatch").get(dispatch=dispatch)
    assert transitions.polled(delivery=delivery, token=token, info=message_info("UNREAD"))
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PROCESSED
    wait = (delivery.next_poll_at - now).total_seconds()
    assert interval - 5 < wait < interval + 5
    # Read (and nothing to pay): settled, no more polls.
    Delivery.objects.filter(pk=delivery.pk).update(claim_token=token)
    delivery = Delivery.objects.select_related("dispatch").get(pk=delivery.pk)
    assert transitions.polled(delivery=delivery, token=token, info=message_info("READ"))
    delivery.refresh_from_db()
    assert delivery.next_poll_at is None and delivery.read_status == "READ"


def test_read_and_paid_times_are_set_once(organization: Organization) -> None:
    user = builders.user(Membership.Role.OPERATOR, organization)
    service = builders.service(organization, **simulated_service(""))
    dispatch = builders.dispatch(service, user, fiscal_codes(1), feature_level="advanced")
    token = uuid.uuid4()
    Delivery.objects.filter(dispatch=dispatch).update(
        state=Delivery.State.SUBMITTED,
        claim_token=token,
        io_message_id="01JABCDEFGHJKMNPQRSTVWXYZ0",
        submitted_at=clock.now(),
        payment_amount=1000,
        notice_number="302000100000000001",
    )

    def poll(read: str, payment: str) -> Delivery:
        Delivery.objects.filter(dispatch=dispatch).update(claim_token=token)
        delivery = Delivery.objects.select_related("dispatch").get(dispatch=dispatch)
        assert transitions.polled(delivery=delivery, token=token, info=message_info(read, payment))
        return Delivery.objects.get(pk=delivery.pk)

    unread = poll("UNREAD", "NOT_PAID")
    assert unread.read_at is None and unread.paid_at is None
    read = poll("READ", "NOT_PAID")
    assert read.read_at is not None and read.paid_at is None
    paid = poll("READ", "PAID")
    assert paid.read_at == read.read_at and paid.paid_at is not None
    again = poll("READ", "PAID")
    assert (again.read_at, again.paid_at) == (read.read_at, paid.paid_at)
