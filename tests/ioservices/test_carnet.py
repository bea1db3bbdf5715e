"""Premium carnets: the period rules, the arithmetic of used and remaining messages, the
figures on the confirm and approval pages, the admins' alerts and the admin pages."""

import dataclasses
import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from ioportal.accounts.models import Membership
from ioportal.core.models import AuditEvent
from ioportal.ioservices.models import PremiumCarnet
from ioportal.ioservices.services import carnet as carnet_services
from ioportal.messaging.carnet import (
    carnet_alerts_notify,
    carnet_need,
    carnet_usage,
    dispatch_carnet_need,
    premium_remaining,
)
from ioportal.messaging.models import Delivery, Dispatch, FeatureLevel, Notification
from tests import builders

pytestmark = pytest.mark.django_db

ROME = ZoneInfo("Europe/Rome")
D = datetime.date
PREMIUM = FeatureLevel.ADVANCED


def at(day: datetime.date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ROME)


def codes(count: int, prefix: str = "RSSMRA") -> list[str]:
    return [f"{prefix}{n:09d}X"[:16] for n in range(count)]


@pytest.fixture
def service(organization):
    return builders.service(organization, premium_enabled=True, test_mode=False)


YEAR_START, YEAR_END = D(2026, 1, 1), D(2026, 12, 31)


def carnet(service, admin, start=YEAR_START, end=YEAR_END, purchased=100, **kw):
    return carnet_services.premium_carnet_create(
        service=service, actor=admin, starts_on=start, ends_on=end, purchased=purchased, **kw
    )


def submitted(dispatch: Dispatch, when: datetime.datetime, number: int, **fields) -> Delivery:
    values = {
        "state": Delivery.State.PROCESSED,
        "io_message_id": f"01IO{dispatch.pk:04d}{number:06d}",
    }
    values.update(fields)
    return builders.delivery(
        dispatch, f"RSSSUB{dispatch.pk:03d}{number:07d}"[:16], submitted_at=when, **values
    )


# --- periods ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (D(2026, 1, 1), D(2026, 12, 31)),  # the same period
        (D(2025, 7, 1), D(2026, 1, 1)),  # touches the first day
        (D(2026, 12, 31), D(2027, 6, 30)),  # touches the last day
        (D(2026, 3, 1), D(2026, 3, 31)),  # inside
        (D(2025, 1, 1), D(2027, 12, 31)),  # around
    ],
)
def test_overlapping_periods_are_refused_in_italian(service, admin_user, start, end):
    carnet(service, admin_user)
    with pytest.raises(ValidationError) as refused:
        carnet(service, admin_user, start, end)
    assert "si sovrappone" in refused.value.messages[0]
    assert "01/01/2026" in refused.value.messages[0]
    assert PremiumCarnet.objects.count() == 1


def test_adjacent_periods_and_other_services_are_allowed(organization, service, admin_user):
    carnet(service, admin_user)
    carnet(service, admin_user, D(2027, 1, 1), D(2027, 12, 31))
    carnet(service, admin_user, D(2025, 1, 1), D(2025, 12, 31))
    carnet(builders.service(organization), admin_user)
    assert PremiumCarnet.objects.count() == 4


def test_reversed_period_is_refused(service, admin_user):
    with pytest.raises(ValidationError, match="fine non può precedere"):
        carnet(service, admin_user, D(2026, 2, 1), D(2026, 1, 31))


def test_update_may_keep_its_own_period_but_not_take_another(service, admin_user):
    first = carnet(service, admin_user)
    second = carnet(service, admin_user, D(2027, 1, 1), D(2027, 12, 31))
    carnet_services.premium_carnet_update(
        carnet=first,
        actor=admin_user,
        starts_on=D(2026, 1, 1),
        ends_on=D(2026, 12, 31),
        purchased=150,
    )
    with pytest.raises(ValidationError, match="si sovrappone"):
        carnet_services.premium_carnet_update(
            carnet=second,
            actor=admin_user,
            starts_on=D(2026, 12, 1),
            ends_on=D(2027, 12, 31),
            purchased=10,
        )
    first.refresh_from_db()
    assert first.purchased == 150
    assert AuditEvent.objects.filter(action="ioservice.carnet_updated").get().changes == {
        "purchased": [100, 150]
    }


# --- arithmetic ------------------------------------------------------------------------------


def test_no_carnet_means_no_figures(service):
    assert premium_remaining(service=service, day=D(2026, 5, 1)) is None
    assert carnet_need(service=service, needed=5) is None


def test_only_the_carnet_covering_the_day_counts(service, admin_user):
    carnet(service, admin_user, purchased=100)
    carnet(service, admin_user, D(2027, 1, 1), D(2027, 12, 31), purchased=7)
    assert premium_remaining(service=service, day=D(2025, 12, 31)) is None
    assert premium_remaining(service=service, day=D(2026, 1, 1)).remaining == 100
    assert premium_remaining(service=service, day=D(2026, 12, 31)).remaining == 100
    assert premium_remaining(service=service, day=D(2027, 1, 1)).remaining == 7
    assert premium_remaining(service=service, day=D(2028, 1, 1)) is None


def test_submissions_count_within_the_period_in_rome_time(service, admin_user, operator_user):
    carnet(service, admin_user, purchased=10)
    sent = builders.dispatch(
        service, operator_user, state=Dispatch.State.COMPLETED, feature_level=PREMIUM
    )
    inside = [
        at(D(2026, 1, 1), 0, 0, 0),  # first second of the period
        at(D(2026, 6, 15)),
        at(D(2026, 12, 31), 23, 59, 59),  # last second of the period
    ]
    outside = [at(D(2025, 12, 31), 23, 59, 59), at(D(2027, 1, 1), 0, 0, 0)]
    for number, when in enumerate(inside + outside):
        submitted(sent, when, number)
    # IO refused it after accepting it: the message was used all the same.
    submitted(sent, at(D(2026, 3, 3)), 50, state=Delivery.State.REJECTED)
    usage = premium_remaining(service=service, day=D(2026, 7, 1))
    assert (usage.submitted, usage.reserved, usage.used, usage.remaining) == (4, 0, 4, 6)
    assert usage.percent_used == 40


def test_what_uses_nothing(organization, service, admin_user, operator_user):
    carnet(service, admin_user, purchased=10)
    when = at(D(2026, 5, 5))
    standard = builders.dispatch(service, operator_user, state=Dispatch.State.COMPLETED)
    submitted(standard, when, 1)
    other = builders.dispatch(
        builders.service(organization, premium_enabled=True),
        operator_user,
        state=Dispatch.State.COMPLETED,
        feature_level=PREMIUM,
    )
    submitted(other, when, 1)
    finished = builders.dispatch(
        service, operator_user, state=Dispatch.State.COMPLETED, feature_level=PREMIUM
    )
    for number, state in enumerate(
        [Delivery.State.SKIPPED, Delivery.State.FAILED, Delivery.State.CANCELLED]
    ):
        builders.delivery(finished, f"RSSNOT{number:010d}", state=state)
    for state in (
        Dispatch.State.AWAITING_APPROVAL,
        Dispatch.State.CANCELLED,
        Dispatch.State.REJECTED,
        Dispatch.State.DRAFT,
    ):
        builders.dispatch(
            service, operator_user, codes(3, state[:6].upper()), state=state, feature_level=PREMIUM
        )
    usage = premium_remaining(service=service, day=D(2026, 5, 5))
    assert (usage.used, usage.remaining) == (0, 10)


@pytest.mark.parametrize(
    "state", [Dispatch.State.SCHEDULED, Dispatch.State.RUNNING, Dispatch.State.PAUSED]
)
def test_launched_deliveries_not_yet_submitted_are_reserved(
    service, admin_user, operator_user, state
):
    carnet(service, admin_user, D(2020, 1, 1), D(2099, 12, 31), purchased=10)
    launched = builders.dispatch(
        service, operator_user, codes(4), state=state, feature_level=PREMIUM
    )
    submitted(launched, at(D(2026, 5, 5)), 1)
    Delivery.objects.filter(dispatch=launched).exclude(io_message_id__isnull=False).filter(
        row_number=1
    ).update(state=Delivery.State.RETRY_WAIT)
    usage = premium_remaining(service=service)
    assert (usage.submitted, usage.reserved, usage.used, usage.remaining) == (1, 4, 5, 5)


def test_exhausted_and_overdrawn(service, admin_user, operator_user):
    carnet(service, admin_user, purchased=3)
    sent = builders.dispatch(
        service, operator_user, state=Dispatch.State.COMPLETED, feature_level=PREMIUM
    )
    for number in range(3):
        submitted(sent, at(D(2026, 2, 2)), number)
    usage = premium_remaining(service=service, day=D(2026, 2, 2))
    assert (usage.remaining, usage.percent_used) == (0, 100)
    submitted(sent, at(D(2026, 2, 2)), 3)
    usage = premium_remaining(service=service, day=D(2026, 2, 2))
    assert (usage.used, usage.remaining, usage.percent_used) == (4, 0, 133)


def test_empty_carnet_is_used_up(service, admin_user):
    # Recorded before a carnet of 0 was refused: it still reads as used up.
    PremiumCarnet.objects.create(
        service=service, starts_on=YEAR_START, ends_on=YEAR_END, purchased=0, created_by=admin_user
    )
    usage = premium_remaining(service=service, day=D(2026, 2, 2))
    assert (usage.remaining, usage.percent_used) == (0, 100)


def test_need_says_when_a_send_exceeds_what_is_left(service, admin_user):
    carnet(service, admin_user, D(2020, 1, 1), D(2099, 12, 31), purchased=5)
    assert not carnet_need(service=service, needed=5).exceeds
    assert carnet_need(service=service, needed=6).exceeds


def test_dispatch_awaiting_approval_needs_its_deliveries(service, admin_user, operator_user):
    carnet(service, admin_user, D(2020, 1, 1), D(2099, 12, 31), purchased=5)
    waiting = builders.dispatch(
        service,
        operator_user,
        codes(7),
        state=Dispatch.State.AWAITING_APPROVAL,
        feature_level=PREMIUM,
    )
    need = dispatch_carnet_need(waiting)
    assert (need.needed, need.usage.remaining, need.exceeds) == (7, 5, True)
    waiting.feature_level = FeatureLevel.STANDARD
    assert dispatch_carnet_need(waiting) is None


# --- alerts ----------------------------------------------------------------------------------


def test_alerts_once_per_threshold_to_active_admins(
    organization, service, admin_user, supervisor_user, operator_user
):
    other_admin = builders.user(Membership.Role.ADMIN, organization)
    retired = builders.user(Membership.Role.ADMIN, organization)
    Membership.objects.filter(user=retired).update(is_active=False)
    carnet(service, admin_user, D(2020, 1, 1), D(2099, 12, 31), purchased=10)
    sent = builders.dispatch(
        service, operator_user, state=Dispatch.State.COMPLETED, feature_level=PREMIUM
    )
    now = datetime.datetime.now(tz=ROME)
    for number in range(7):
        submitted(sent, now, number)
    assert carnet_alerts_notify() == 0  # 70 %
    submitted(sent, now, 7)
    assert carnet_alerts_notify() == 1  # 80 %
    assert carnet_alerts_notify() == 0  # not again
    texts = [(n.user_id, n.text) for n in Notification.objects.all()]
    assert sorted(user for user, _text in texts) == sorted([admin_user.pk, other_admin.pk])
    assert all("all'80%" in text for _user, text in texts)
    submitted(sent, now, 8)
    submitted(sent, now, 9)
    assert carnet_alerts_notify() == 1  # 100 %
    assert carnet_alerts_notify() == 0
    assert sum("esaurito" in n.text for n in Notification.objects.all()) == 2
    assert Notification.objects.count() == 4
    events = AuditEvent.objects.filter(action="ioservice.carnet_alert")
    assert sorted(event.changes["threshold"] for event in events) == [80, 100]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("it", "all'80%: usati 8.000 messaggi su 10.000 acquistati."),
        ("en", "at 80%: 8,000 messages used of 10,000 purchased."),
    ],
)
def test_alert_is_read_in_the_readers_language_with_grouped_counts(
    monkeypatch, service, admin_user, language, expected
):
    """The alert is stored untranslated: the schedule runs in Italian, the admin reads it in
    their language, its counts with the thousands separator."""
    bought = carnet(service, admin_user, D(2020, 1, 1), D(2099, 12, 31), purchased=10_000)
    usage = dataclasses.replace(carnet_usage(bought), submitted=8_000)
    monkeypatch.setattr("ioportal.messaging.carnet.carnet_usage", lambda _carnet: usage)
    with translation.override("it"):
        assert carnet_alerts_notify() == 1
    with translation.override(language):
        assert expected in Notification.objects.get(user=admin_user).text


def test_more_messages_bought_let_the_alerts_fire_again(service, admin_user, operator_user):
    bought = carnet(service, admin_user, D(2020, 1, 1), D(2099, 12, 31), purchased=1)
    sent = builders.dispatch(
        service, operator_user, state=Dispatch.State.COMPLETED, feature_level=PREMIUM
    )
    submitted(sent, datetime.datetime.now(tz=ROME), 1)
    assert carnet_alerts_notify() == 2  # 80 % and 100 % at once
    carnet_services.premium_carnet_update(
        carnet=bought,
        actor=admin_user,
        starts_on=bought.starts_on,
        ends_on=bought.ends_on,
        purchased=1000,
    )
    assert carnet_alerts_notify() == 0
    bought.refresh_from_db()
    assert bought.alerted_80_at is None and bought.alerted_100_at is None


# --- pages -----------------------------------------------------------------------------------


def test_admin_records_edits_and_deletes_a_carnet(client, login, admin_user, service):
    login(admin_user)
    detail = client.get(reverse("ioservices:detail", args=[service.public_id])).content.decode()
    listing = reverse("messaging:carnet_list", args=[service.public_id])
    assert listing in detail
    data = {
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "purchased": "500",
        "note": "Ordine 7",
    }
    response = client.post(reverse("messaging:carnet_create", args=[service.public_id]), data)
    assert response.status_code == 302 and response.url == listing
    saved = PremiumCarnet.objects.get()
    assert (saved.purchased, saved.note, saved.created_by) == (500, "Ordine 7", admin_user)
    page = client.get(listing).content.decode()
    assert "Ordine 7" in page and "500" in page

    clash = client.post(
        reverse("messaging:carnet_create", args=[service.public_id]),
        {**data, "starts_on": "2026-12-31", "ends_on": "2027-03-31"},
    )
    assert clash.status_code == 200
    assert "si sovrappone" in clash.content.decode()

    edit = reverse("messaging:carnet_edit", args=[service.public_id, saved.public_id])
    assert 'value="2026-01-01"' in client.get(edit).content.decode()
    assert client.post(edit, {**data, "purchased": "600"}).status_code == 302
    saved.refresh_from_db()
    assert saved.purchased == 600

    delete = reverse("messaging:carnet_delete", args=[service.public_id, saved.public_id])
    assert client.get(delete).status_code == 405
    assert client.post(delete).status_code == 302
    assert not PremiumCarnet.objects.exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="ioservice.carnet").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == [
        "ioservice.carnet_created",
        "ioservice.carnet_deleted",
        "ioservice.carnet_updated",
    ]
    created = AuditEvent.objects.get(action="ioservice.carnet_created")
    assert created.changes["purchased"] == 500
    assert created.changes["starts_on"] == "2026-01-01"
    deleted = AuditEvent.objects.get(action="ioservice.carnet_deleted")
    assert deleted.changes["purchased"] == 600


def test_a_carnet_of_zero_messages_is_refused_with_an_italian_error(
    client, login, admin_user, service
):
    login(admin_user)
    data = {"starts_on": "2026-01-01", "ends_on": "2026-12-31", "purchased": "0", "note": ""}
    response = client.post(reverse("messaging:carnet_create", args=[service.public_id]), data)
    assert response.status_code == 200
    assert "almeno 1" in response.content.decode()
    assert not PremiumCarnet.objects.exists()
    with pytest.raises(ValidationError):
        carnet_services.premium_carnet_create(
            service=service,
            actor=admin_user,
            starts_on=datetime.date(2026, 1, 1),
            ends_on=datetime.date(2026, 12, 31),
            purchased=0,
        )
    assert not PremiumCarnet.objects.exists()


def test_carnet_pages_for_admins_of_the_service_organization_only(
    client, login, supervisor_user, admin_user, service, other_organization
):
    bought = carnet(service, admin_user)
    pages = [
        reverse("messaging:carnet_list", args=[service.public_id]),
        reverse("messaging:carnet_create", args=[service.public_id]),
        reverse("messaging:carnet_edit", args=[service.public_id, bought.public_id]),
    ]
    login(supervisor_user)
    for url in pages:
        assert client.get(url).status_code == 403
    assert (
        client.post(
            reverse("messaging:carnet_delete", args=[service.public_id, bought.public_id])
        ).status_code
        == 403
    )
    stranger = builders.user(Membership.Role.ADMIN, other_organization)
    login(stranger)
    for url in pages:
        assert client.get(url).status_code == 404
    login(admin_user)
    other_service = builders.service(admin_user.memberships.get().organization)
    wrong_pair = reverse("messaging:carnet_edit", args=[other_service.public_id, bought.public_id])
    assert client.get(wrong_pair).status_code == 404
    assert PremiumCarnet.objects.count() == 1


def test_dashboard_banner_for_admins(client, login, admin_user, operator_user, service):
    carnet(service, admin_user, D(2020, 1, 1), D(2099, 12, 31), purchased=5)
    sent = builders.dispatch(
        service, operator_user, state=Dispatch.State.COMPLETED, feature_level=PREMIUM
    )
    login(admin_user)
    assert 'id="carnet-alerts"' not in client.get(reverse("dashboard:dashboard")).content.decode()
    for number in range(4):
        submitted(sent, datetime.datetime.now(tz=ROME), number)
    page = client.get(reverse("dashboard:dashboard")).content.decode()
    assert 'id="carnet-alerts"' not in page  # until the alert schedule ran
    carnet_alerts_notify()
    page = client.get(reverse("dashboard:dashboard")).content.decode()
    assert 'id="carnet-alerts"' in page and "usato oltre l'80%" in page
    submitted(sent, datetime.datetime.now(tz=ROME), 4)
    carnet_alerts_notify()
    page = client.get(reverse("dashboard:dashboard")).content.decode()
    assert "carnet esaurito" in page


def test_approval_page_shows_the_carnet_figures(
    client, login, supervisor_user, admin_user, operator_user, service
):
    carnet(service, admin_user, D(2020, 1, 1), D(2099, 12, 31), purchased=5)
    waiting = builders.dispatch(
        service,
        operator_user,
        codes(7),
        state=Dispatch.State.AWAITING_APPROVAL,
        feature_level=PREMIUM,
        approval_required=True,
    )
    login(supervisor_user)
    page = client.get(reverse("sending:dispatch_detail", args=[waiting.public_id])).content.decode()
    assert "Questo invio usa 7 messaggi Premium, ma nel carnet ne restano solo 5." in page
    assert "superano quelli rimasti" in page


def test_confirm_page_shows_the_carnet_figures_or_a_hint_for_admins(
    client, login, admin_user, operator_user, service
):
    premium = builders.template(service.organization, admin_user, feature_level=PREMIUM)
    checked = builders.recipient_list(premium, service, operator_user)
    confirm = reverse("messaging:list_confirm", args=[checked.public_id])
    login(operator_user)
    page = client.get(confirm).content.decode()
    assert "messaggi Premium rimasti" not in page and "carnet-premium-hint" not in page
    login(admin_user)
    assert "carnet-premium-hint" in client.get(confirm).content.decode()
    carnet(service, admin_user, D(2020, 1, 1), D(2099, 12, 31), purchased=100)
    login(operator_user)
    page = client.get(confirm).content.decode()
    needed = checked.valid_count - (checked.test_mode_skips or 0)
    assert needed > 0
    assert f"Questo invio usa {needed} dei 100 messaggi Premium rimasti." in page
    assert "superano quelli rimasti" not in page


@pytest.mark.parametrize(
    ("start", "end"), [("2026-01-01", "9999-12-31"), ("0001-01-01", "2026-12-31")]
)
def test_form_refuses_dates_outside_the_sensible_years(
    client, login, admin_user, service, start, end
):
    login(admin_user)
    response = client.post(
        reverse("messaging:carnet_create", args=[service.public_id]),
        {"starts_on": start, "ends_on": end, "purchased": "5"},
    )
    assert response.status_code == 200
    assert "Indica una data tra il 01/01/2000 e il 31/12/2100." in response.content.decode()
    assert not PremiumCarnet.objects.exists()


@pytest.mark.parametrize(
    ("start", "end"),
    [(D(2020, 1, 1), datetime.date.max), (datetime.date.min, D(2099, 12, 31))],
)
def test_extreme_dates_already_stored_break_no_page(
    client, login, admin_user, operator_user, service, start, end
):
    bought = PremiumCarnet.objects.create(
        service=service, starts_on=start, ends_on=end, purchased=10, created_by=admin_user
    )
    sent = builders.dispatch(
        service, operator_user, state=Dispatch.State.COMPLETED, feature_level=PREMIUM
    )
    submitted(sent, datetime.datetime.now(tz=ROME), 1)
    assert carnet_usage(bought).submitted == 1
    assert carnet_alerts_notify() == 0
    premium = builders.template(service.organization, admin_user, feature_level=PREMIUM)
    checked = builders.recipient_list(premium, service, operator_user)
    login(admin_user)
    assert client.get(reverse("messaging:carnet_list", args=[service.public_id])).status_code == 200
    confirm = client.get(reverse("messaging:list_confirm", args=[checked.public_id]))
    assert confirm.status_code == 200 and 'id="carnet-premium"' in confirm.content.decode()


@pytest.mark.parametrize(
    ("needed", "purchased", "italian", "english"),
    [
        (3, 10, "Questo invio usa 3 dei 10 messaggi Premium rimasti.", "uses 3 of the 10"),
        (1, 1, "Questo invio usa 1 messaggio Premium: l'ultimo rimasto", "the last one left"),
        (7, 1, "usa 7 messaggi Premium, ma nel carnet ne resta solo 1.", "only 1 is left"),
        (7, 5, "usa 7 messaggi Premium, ma nel carnet ne restano solo 5.", "only 5 are left"),
        (
            10,
            0,
            "usa 10 messaggi Premium, ma nel carnet ne restano 0: il carnet è esaurito",
            "0 are",
        ),
        (1, 0, "usa 1 messaggio Premium, ma nel carnet ne restano 0", "1 Premium message, but 0"),
    ],
)
def test_carnet_sentence_agrees_with_its_numbers(
    service, admin_user, needed, purchased, italian, english
):
    # A carnet of 0 can no longer be recorded, but one recorded before reads as used up.
    PremiumCarnet.objects.create(
        service=service,
        starts_on=D(2020, 1, 1),
        ends_on=D(2099, 12, 31),
        purchased=purchased,
        created_by=admin_user,
    )
    need = carnet_need(service=service, needed=needed)
    with translation.override("it"):
        page = render_to_string("messaging/_carnet_need.html", {"carnet_need": need})
    assert italian in " ".join(page.split())
    assert "dei 0" not in page
    with translation.override("en"):
        page = render_to_string("messaging/_carnet_need.html", {"carnet_need": need})
    assert english in " ".join(page.split())


@pytest.mark.postgres
def test_submitted_messages_are_counted_from_an_index_alone(service, admin_user, operator_user):
    """The confirm and approval pages count a carnet's messages at every load: the count
    reads the partial index of the accepted deliveries by dispatch and time, not their rows
    (benchmarks/retention_benchmark.py --carnet-only gives the time at 200,000 deliveries)."""
    from django.db import connection

    from ioportal.messaging.carnet import carnet_submitted_deliveries

    if connection.vendor != "postgresql":
        pytest.skip("the query plan is PostgreSQL's")
    record = carnet(service, admin_user)
    dispatch = builders.dispatch(
        service, operator_user, [], state=Dispatch.State.COMPLETED, feature_level=PREMIUM
    )
    for number in range(3):
        submitted(dispatch, at(D(2026, 5, 1)), number)
    with connection.cursor() as cursor:
        # The test tables are tiny: without this the planner reads them whole.
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = carnet_submitted_deliveries(record).values("dispatch_id").explain()
    assert "Index Only Scan using delivery_submitted_idx" in plan, plan
    assert carnet_submitted_deliveries(record).count() == 3


def test_the_carnet_page_writes_its_counts_with_the_thousands_separator(
    client, login, admin_user, service
):
    PremiumCarnet.objects.create(
        service=service,
        starts_on=D(2020, 1, 1),
        ends_on=D(2099, 12, 31),
        purchased=1800,
        created_by=admin_user,
    )
    login(admin_user)
    page = client.get(reverse("messaging:carnet_list", args=[service.public_id]))
    cells = re.findall(r'<td class="text-end">([^<(]*)', page.content.decode())
    assert [c.strip() for c in cells] == ["1.800", "0", "1.800"]
