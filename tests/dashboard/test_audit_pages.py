"""The audit pages show changes in Italian words, in each role, never another organization's
events; their date filters read and show gg/mm/aaaa and turn bad input into a message."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ioportal.accounts import services as accounts
from ioportal.accounts.audit import Action
from ioportal.accounts.models import Membership
from ioportal.core.models import AuditEvent
from ioportal.core.services import audit_log
from ioportal.messaging.services.approvals import approval_policy_update
from tests import builders
from tests.conftest import verified_login

AUDIT = reverse("dashboard:audit_list")


@pytest.fixture
def events(organization, other_organization, admin_user):
    """A role change in the organization and a policy change in the other one."""
    person = builders.user(Membership.Role.OPERATOR, organization)
    accounts.membership_update(
        membership=Membership.objects.get(user=person),
        actor=admin_user,
        role=Membership.Role.SUPERVISOR,
    )
    other_admin = builders.user(Membership.Role.ADMIN, other_organization)
    approval_policy_update(
        organization=other_organization, actor=other_admin, threshold=7, always_for_premium=True
    )


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Membership.Role.OPERATOR, 403),
        (Membership.Role.SUPERVISOR, 200),
        (Membership.Role.ADMIN, 200),
    ],
)
def test_the_log_in_each_role(client, organization, events, role, status):
    verified_login(client, builders.user(role, organization))
    response = client.get(AUDIT)
    assert response.status_code == status
    if status == 200:
        page = response.content.decode()
        assert "da Operatore a Supervisore" in page
        assert "operator" not in page.split("<table", 1)[1].split("</table>")[0]
        assert "[&#x27;" not in page and "[&#39;" not in page
        # The other organization's policy change is never shown.
        assert "Soglia di destinatari" not in page
        assert {e.organization_id for e in response.context["page"]} == {organization.pk}


def test_the_installation_log_words_and_access(client, organization, admin_user):
    audit_log(action=Action.OTP_RESET, actor=admin_user, changes={"devices": 2, "ok": True})
    audit_log(action=Action.ORG_UPDATED, organization=organization, changes={"name": ["A", "B"]})
    verified_login(client, admin_user)
    assert client.get(reverse("dashboard:installation_audit_list")).status_code in (302, 403)
    superuser = builders.user(superuser=True)
    verified_login(Client(), superuser)
    response = verified_login(Client(), superuser).get(reverse("dashboard:installation_audit_list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Dispositivi</span>: 2" in page and "Ok</span>: Sì" in page
    assert "da A a B" not in page  # an organization's event


def test_my_sign_ins_shows_details_in_words(client, admin_user):
    audit_log(action=Action.OTP_RESET, actor=admin_user, target=admin_user, changes={"devices": 1})
    verified_login(client, admin_user)
    page = client.get(reverse("dashboard:my_sign_ins")).content.decode()
    assert "Dispositivi</span>: 1" in page
    assert "{&#x27;devices" not in page


def at(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def test_italian_dates_filter_and_are_shown_back(client, organization, supervisor_user):
    for day in (datetime.date(2026, 1, 10), datetime.date(2026, 2, 10)):
        recorded = audit_log(action=Action.ORG_UPDATED, organization=organization)
        AuditEvent.objects.filter(pk=recorded.pk).update(created_at=at(day))
    verified_login(client, supervisor_user)
    response = client.get(AUDIT, {"date_from": "01/02/2026", "date_to": "28/02/2026"})
    assert response.status_code == 200
    assert [e.created_at.date() for e in response.context["page"]] == [datetime.date(2026, 2, 10)]
    page = response.content.decode()
    assert 'value="01/02/2026"' in page and 'value="28/02/2026"' in page
    # An ISO date (links made before) is still read, and shown back in Italian.
    response = client.get(AUDIT, {"date_from": "2026-02-01"})
    assert len(response.context["page"].object_list) == 1
    assert 'value="01/02/2026"' in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "31/02/2026"},
        {"date_from": "ieri"},
        {"date_to": "99/99/99999999"},
        {"date_from": "2026-02-31"},
        {"date_from": "01/03/2026", "date_to": "01/02/2026"},
    ],
)
def test_bad_dates_give_an_italian_message(client, organization, supervisor_user, params):
    audit_log(action=Action.ORG_UPDATED, organization=organization)
    verified_login(client, supervisor_user)
    response = client.get(AUDIT, params)
    assert response.status_code == 200
    page = response.content.decode()
    assert "alert-danger" in page
    assert "gg/mm/aaaa" in page or "viene prima" in page
    assert 'aria-invalid="true"' in page
    # The bad filter is not applied: the event is still listed.
    assert len(response.context["page"].object_list) == 1


def test_queries_are_bounded(client, organization, admin_user, django_assert_max_num_queries):
    service = builders.service(organization)
    for number in range(60):
        audit_log(
            action="ioservice.updated",
            actor=admin_user,
            organization=organization,
            target=service,
            changes={"name": [f"A{number}", f"B{number}"], "test_mode": [True, False]},
        )
    verified_login(client, admin_user)
    client.get(AUDIT)
    with django_assert_max_num_queries(12):
        response = client.get(AUDIT)
    assert "da Sì a No" in response.content.decode()


def _log_page_queries(client: Client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(AUDIT).status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_named_dispatches_and_lists_cost_the_page_the_same_queries_however_many(
    organization, admin_user
):
    """The names of the dispatches and lists a page's events name are read once for the page,
    not once an event."""
    service = builders.service(organization)
    template = builders.template(organization, admin_user)
    client = verified_login(Client(), admin_user)

    def name_objects(count: int) -> None:
        for number in range(count):
            dispatch = builders.dispatch(service, admin_user, title=f"Invio {number}")
            uploaded = builders.recipient_list(
                template, service, admin_user, file_name=f"elenco-{number}.csv"
            )
            audit_log(
                action="recipients.repeated_excluded",
                actor=admin_user,
                organization=organization,
                changes={"dispatches": [str(dispatch.public_id)], "list": str(uploaded.public_id)},
            )

    name_objects(2)
    few = _log_page_queries(client)
    name_objects(10)
    many = _log_page_queries(client)
    assert many == few
    page = client.get(AUDIT).content.decode()
    assert "Invio 9" in page and "elenco-9.csv" in page
