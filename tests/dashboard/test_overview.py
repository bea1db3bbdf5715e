"""The dashboard per role: operators' own work, supervisors' volumes, rates and health, the
daily aggregates behind them, and the bounded number of queries."""

from datetime import date, timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from ioportal.accounts.models import Membership, Organization
from ioportal.core.models import WorkerHeartbeat
from ioportal.dashboard import stats
from ioportal.dashboard.models import DailyDeliveryStats
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.sending.models import ApiCall
from tests import builders
from tests.sending.support import fiscal_codes

pytestmark = pytest.mark.django_db

CODES = fiscal_codes(8)


def _sent(
    service: Any, author: Any, days_ago: int, outcomes: dict[str, int], **fields: Any
) -> Dispatch:
    """A completed dispatch created `days_ago` days ago with deliveries in the given states."""
    codes = iter(fiscal_codes(sum(outcomes.values()) + 8)[8:])
    dispatch = builders.dispatch(service, author, [], state=Dispatch.State.COMPLETED, **fields)
    number = 0
    for state, count in outcomes.items():
        for _n in range(count):
            number += 1
            extra: dict[str, Any] = {"state": state}
            if state in Delivery.WITH_IO_ID:
                extra["io_message_id"] = f"01JDASH{dispatch.pk:05d}{number:014d}"
            builders.delivery(dispatch, next(codes), **extra)
    Dispatch.objects.filter(pk=dispatch.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )
    dispatch.refresh_from_db()
    return dispatch


@pytest.fixture
def service(organization: Organization) -> Any:
    return builders.service(organization)


def test_operator_sees_own_dispatches_and_what_waits(
    login: Any, organization: Organization, service: Any, other_organization: Organization
) -> None:
    operator = builders.user(Membership.Role.OPERATOR, organization, username="olga")
    colleague = builders.user(Membership.Role.OPERATOR, organization, username="carlo")
    failed = _sent(service, operator, 1, {"processed": 2, "failed": 1}, title="Avviso TARI")
    builders.dispatch(service, operator, [], state=Dispatch.State.DRAFT, title="Bozza IMU")
    builders.dispatch(
        service, operator, CODES[:1], state=Dispatch.State.AWAITING_APPROVAL, title="Da approvare"
    )
    builders.dispatch(service, colleague, CODES[:1], state=Dispatch.State.DRAFT, title="Altrui")
    stranger = builders.user(Membership.Role.OPERATOR, other_organization, username="estraneo")
    _sent(builders.service(other_organization), stranger, 1, {"failed": 3}, title="Estraneo")

    response = login(operator).get(reverse("dashboard:dashboard"))

    text = response.content.decode()
    assert response.status_code == 200
    assert "Avviso TARI" in text and "2 consegnati su 3" in text
    assert "Bozza IMU" in text and "Da approvare" in text
    assert "Consegne non riuscite da ritentare" in text and "1 non riuscita" in text
    assert reverse("sending:dispatch_detail", args=[failed.public_id]) in text
    assert "Altrui" not in text and "Estraneo" not in text
    assert "chart-volume" not in text and "Salute degli invii" not in text


def test_supervisor_sees_volumes_rates_and_health_of_own_organization_only(
    login: Any, organization: Organization, service: Any, other_organization: Organization
) -> None:
    supervisor = builders.user(Membership.Role.SUPERVISOR, organization, username="sara")
    author = builders.user(Membership.Role.OPERATOR, organization, username="otto")
    _sent(service, author, 2, {"processed": 3, "skipped": 1})
    _sent(service, author, 0, {"processed": 1, "failed": 1}, feature_level="advanced")
    Delivery.objects.filter(state="processed").update(read_status="READ")
    stranger = builders.user(Membership.Role.OPERATOR, other_organization, username="estraneo")
    _sent(builders.service(other_organization), stranger, 2, {"failed": 50})
    stats.refresh_daily_stats()
    ApiCall.objects.create(
        organization=organization, operation="submit", status_code=429, outcome="RateLimitedError"
    )
    ApiCall.objects.create(
        organization=organization, operation="submit", status_code=201, outcome="ok"
    )
    ApiCall.objects.create(
        organization=other_organization,
        operation="submit",
        status_code=429,
        outcome="RateLimitedError",
    )
    WorkerHeartbeat.objects.create(cluster="uno", seen_at=timezone.now())

    response = login(supervisor).get(reverse("dashboard:dashboard"))

    text = response.content.decode()
    overview = response.context["overview"]
    assert response.status_code == 200
    assert overview["rates"]["total"] == 6  # the other organization's 50 are not counted
    assert overview["rates"]["delivered"] == round(100 * 4 / 6, 1)
    assert overview["rates"]["failed"] == round(100 * 1 / 6, 1)
    assert overview["rates"]["reachability"] == round(100 * 5 / 6, 1)
    assert overview["rates"]["read"] == 100.0
    assert overview["rates"]["paid"] is None
    assert overview["charts"]["rates"]["axis"] == "Percentuale delle consegne (%)"
    assert overview["volume_rows"][-1]["counts"][:4] == [1, 0, 0, 1]  # today, counted live
    assert overview["volume_rows"][-3]["counts"][:4] == [3, 0, 1, 0]
    health = overview["health"]
    assert health["calls_last_minute"] == 2 and health["rate_limited_last_hour"] == 1
    assert health["workers_alive"] == 1
    assert health["rate_limit_per_minute"] == organization.rate_limit * 12
    assert f"2 su {organization.rate_limit * 12:,} al minuto".replace(",", ".") in text
    assert 'id="dashboard-charts"' in text and 'id="chart-volume"' in text
    assert "Dati del grafico in tabella" in text and "Salute degli invii" in text
    assert "Il tuo lavoro" not in text


@pytest.mark.parametrize("period", ["giorno", "settimana", "mese", "<script>", ""])
def test_every_period_answers(login: Any, organization: Organization, period: str) -> None:
    supervisor = builders.user(Membership.Role.SUPERVISOR, organization, username="sara")
    response = login(supervisor).get(reverse("dashboard:dashboard"), {"periodo": period})
    assert response.status_code == 200
    expected = period if period in ("settimana", "mese") else "giorno"
    assert response.context["overview"]["period"] == expected
    assert len(response.context["overview"]["volume_rows"]) == (30 if expected == "giorno" else 12)


def test_daily_stats_are_idempotent_and_incremental(
    organization: Organization, service: Any
) -> None:
    author = builders.user(Membership.Role.OPERATOR, organization, username="otto")
    old = _sent(service, author, 20, {"processed": 2})
    _sent(service, author, 3, {"skipped": 1, "failed": 1})
    _sent(service, author, 0, {"processed": 5})  # today: never stored
    builders.dispatch(service, author, CODES[:2], kind=Dispatch.Kind.TEST)

    first = stats.refresh_daily_stats()
    rows = sorted(DailyDeliveryStats.objects.values_list("outcome", "deliveries"))
    assert first is not None and first[0] == timezone.localdate(old.created_at)
    assert rows == [("delivered", 2), ("failed", 1), ("unreachable", 1)]

    stats.refresh_daily_stats()  # the same again: same rows
    assert sorted(DailyDeliveryStats.objects.values_list("outcome", "deliveries")) == rows

    # A late outcome within RECOMPUTE_DAYS is picked up; older days are not read again.
    Delivery.objects.filter(
        dispatch__created_at__lt=timezone.now() - timedelta(days=2), state="failed"
    ).update(state="processed", io_message_id="01JDASHLATE000000000000001")
    Delivery.objects.filter(dispatch=old).delete()
    start, end = stats.refresh_daily_stats() or (None, None)
    assert end == timezone.localdate() - timedelta(days=1)
    last_stored = timezone.localdate() - timedelta(days=3)
    assert start == last_stored - timedelta(days=stats.RECOMPUTE_DAYS)
    assert sorted(DailyDeliveryStats.objects.values_list("outcome", "deliveries")) == [
        ("delivered", 1),
        ("delivered", 2),
        ("unreachable", 1),
    ]


def test_daily_stats_schedule_is_registered() -> None:
    from ioportal.core.management.commands.schedule_tasks import app_schedules

    functions = [func for func, _name, _minutes in app_schedules()]
    assert "ioportal.dashboard.tasks.refresh_daily_stats" in functions


def test_dashboard_queries_are_bounded(
    login: Any, organization: Organization, service: Any, django_assert_max_num_queries: Any
) -> None:
    supervisor = builders.user(Membership.Role.SUPERVISOR, organization, username="sara")
    operator = builders.user(Membership.Role.OPERATOR, organization, username="otto")
    for days in range(0, 40, 2):
        _sent(service, operator, days, {"processed": 2, "skipped": 1})
    stats.refresh_daily_stats()
    client = login(supervisor)
    client.get(reverse("dashboard:dashboard"))  # warm the session and caches
    with django_assert_max_num_queries(22):
        assert client.get(reverse("dashboard:dashboard")).status_code == 200
    operator_client = login(operator)
    with django_assert_max_num_queries(16):
        assert operator_client.get(reverse("dashboard:dashboard")).status_code == 200


def test_services_with_refused_keys_are_shown_once(
    login: Any, organization: Organization, service: Any
) -> None:
    """Admins get the card with what to do, supervisors the row of the health table: each
    sees every stopped service once."""
    stopped = builders.service(organization, name="Servizio Tributi Fermo")
    type(stopped).objects.filter(pk=stopped.pk).update(key_problem=True)
    for role in (Membership.Role.ADMIN, Membership.Role.SUPERVISOR):
        user = builders.user(role, organization, username=f"keys-{role}")
        page = login(user).get(reverse("dashboard:dashboard")).content.decode()
        assert page.count("Servizio Tributi Fermo") == 1, role
        assert ("Chiavi IO rifiutate" in page) == (role == Membership.Role.ADMIN)
        assert ('data-health="key-problem"' in page) == (role == Membership.Role.SUPERVISOR)


def test_chart_labels_write_months_as_each_language_does():
    """Italian writes months in lower case ("3 dic", README), English capitalises them."""
    from django.utils import translation

    from ioportal.dashboard.overview import _bucket_label

    day = date(2026, 12, 3)
    with translation.override("it"):
        assert _bucket_label(day, "giorno") == "3 dic"
        assert _bucket_label(day, "settimana") == "settimana dal 3 dic"
        assert _bucket_label(day, "mese") == "dicembre 2026"
    with translation.override("en"):
        assert _bucket_label(day, "giorno") == "3 Dec"


def test_the_dashboard_and_the_dispatch_page_count_the_read_rate_the_same_way(
    login: Any, organization: Organization, service: Any
) -> None:
    """3 READ, 1 UNREAD and 2 UNAVAILABLE (the citizen does not share reading): 75% of the 4
    messages whose reading IO knows, on both pages, each saying what the 75% is of."""
    supervisor = builders.user(Membership.Role.SUPERVISOR, organization, username="sara")
    dispatch = _sent(service, supervisor, 0, {"processed": 6}, feature_level="advanced")
    statuses = iter(["READ", "READ", "READ", "UNREAD", "UNAVAILABLE", "UNAVAILABLE"])
    for delivery in Delivery.objects.filter(dispatch=dispatch).order_by("pk"):
        Delivery.objects.filter(pk=delivery.pk).update(read_status=next(statuses))
    client = login(supervisor)
    basis = "3 su 4 messaggi Premium di cui IO sa se sono stati letti (75%)"

    dashboard = client.get(reverse("dashboard:dashboard"))
    detail = client.get(reverse("sending:dispatch_detail", args=[dispatch.public_id]))

    assert dashboard.context["overview"]["rates"]["read"] == 75.0
    assert f"Letti (Premium): {basis}" in " ".join(dashboard.content.decode().split())
    assert f"Letti: {basis}" in " ".join(detail.content.decode().split())
