"""An organization's audit log shows only what happened inside it; sign-ins are personal."""

from django.test import Client
from django.urls import reverse

from ioportal.accounts import services
from ioportal.accounts.audit import Action
from ioportal.accounts.models import Invitation, Membership
from ioportal.core.services import audit_log
from tests import builders
from tests.conftest import PASSWORD, verified_login


def listed(client: Client) -> list:
    response = client.get(reverse("dashboard:audit_list"))
    assert response.status_code == 200
    return list(response.context["page"].object_list)


def test_audit_log_of_b_shows_nothing_of_a(organization, other_organization, admin_user, rf):
    person = builders.user(Membership.Role.OPERATOR, organization, username="persona")
    # Sign-ins (installation level) and an event inside A, each from its own address.
    Client().post(
        reverse("accounts:login"),
        {"username": "persona", "password": "sbagliata"},
        REMOTE_ADDR="10.6.6.6",
    )
    Client().post(
        reverse("accounts:login"),
        {"username": "persona", "password": PASSWORD},
        REMOTE_ADDR="10.1.1.1",
    )
    audit_log(action=Action.OTP_FAILED, actor=person, target=person, request=None)
    request_in_a = rf.post("/", REMOTE_ADDR="10.2.2.2")
    services.membership_update(
        membership=Membership.objects.get(user=person),
        actor=admin_user,
        role=Membership.Role.SUPERVISOR,
        request=request_in_a,
    )

    # Organization B invites the same account, which accepts.
    b_admin = builders.user(Membership.Role.ADMIN, other_organization, username="admin_b")
    b_client = verified_login(Client(), b_admin)
    b_client.post(
        reverse("accounts:member_invite"),
        {"email": person.email, "role": Membership.Role.OPERATOR},
    )
    person_client = verified_login(Client(), person)
    invitation = Invitation.objects.get(user=person)
    person_client.post(reverse("accounts:invitation_accept", args=[invitation.public_id]))
    Client().post(
        reverse("accounts:login"),
        {"username": "persona", "password": PASSWORD},
        REMOTE_ADDR="10.3.3.3",
    )

    events = listed(b_client)
    assert {e.action for e in events} == {Action.USER_INVITED, Action.INVITATION_ACCEPTED}
    assert all(e.organization_id == other_organization.pk for e in events)
    page = b_client.get(reverse("dashboard:audit_list")).content.decode()
    for address in ("10.6.6.6", "10.1.1.1", "10.2.2.2", "10.3.3.3"):
        assert address not in page
    # Filtering by a sign-in action finds nothing either.
    assert (
        not b_client.get(reverse("dashboard:audit_list"), {"action": Action.LOGIN})
        .context["page"]
        .object_list
    )

    # A sees its own events and nothing of B.
    a_client = verified_login(Client(), admin_user)
    a_events = listed(a_client)
    assert {e.action for e in a_events} == {Action.MEMBERSHIP_CHANGED}
    assert a_events[0].ip_address == "10.2.2.2"

    # Removing the person from B keeps B's log free of their history.
    b_client.post(reverse("accounts:member_edit", args=[person.public_id]), {"remove": "1"})
    assert Membership.objects.get(user=person, organization=other_organization).is_active is False
    assert {e.action for e in listed(b_client)} == {
        Action.USER_INVITED,
        Action.INVITATION_ACCEPTED,
        Action.MEMBERSHIP_REMOVED,
    }


def test_my_sign_ins_lists_only_my_own_events(client, organization):
    person = builders.user(Membership.Role.OPERATOR, organization, username="io")
    other = builders.user(Membership.Role.OPERATOR, organization, username="altro")
    Client().post(
        reverse("accounts:login"),
        {"username": "io", "password": "sbagliata"},
        REMOTE_ADDR="10.9.9.1",
    )
    Client().post(
        reverse("accounts:login"), {"username": "io", "password": PASSWORD}, REMOTE_ADDR="10.9.9.2"
    )
    Client().post(
        reverse("accounts:login"),
        {"username": "altro", "password": PASSWORD},
        REMOTE_ADDR="10.9.9.3",
    )
    Client().post(
        reverse("accounts:password_reset"), {"email": person.email}, REMOTE_ADDR="10.9.9.4"
    )
    audit_log(action=Action.ORG_UPDATED, actor=person, organization=organization)

    mine = verified_login(Client(), person).get(reverse("dashboard:my_sign_ins"))
    assert mine.status_code == 200
    actions = [e.action for e in mine.context["page"].object_list]
    # The sign-in from 10.9.9.2 (an operator without an app: the password is all) and the
    # password step of the one opening this page (the test marks its second factor passed).
    assert sorted(actions) == sorted(
        [
            Action.LOGIN,
            Action.LOGIN_PASSWORD,
            Action.LOGIN_FAILED,
            Action.PASSWORD_RESET_REQUESTED,
        ]
    )
    body = mine.content.decode()
    assert "I miei accessi" in body
    for address in ("10.9.9.1", "10.9.9.2", "10.9.9.4"):
        assert address in body
    assert "10.9.9.3" not in body

    theirs = verified_login(Client(), other).get(reverse("dashboard:my_sign_ins")).content.decode()
    assert "10.9.9.3" in theirs
    for address in ("10.9.9.1", "10.9.9.2", "10.9.9.4"):
        assert address not in theirs


def test_installation_log_is_for_superusers(client, organization, admin_user):
    root = builders.user(superuser=True, username="root")
    Client().post(
        reverse("accounts:login"),
        {"username": admin_user.username, "password": "sbagliata"},
        REMOTE_ADDR="10.7.7.7",
    )
    audit_log(action=Action.ORG_UPDATED, actor=admin_user, organization=organization)
    url = reverse("dashboard:installation_audit_list")
    assert verified_login(Client(), admin_user).get(url).status_code == 403
    response = verified_login(Client(), root).get(url)
    assert response.status_code == 200
    assert "Registro dell&#x27;installazione" in response.content.decode()
    actions = {e.action for e in response.context["page"].object_list}
    assert Action.LOGIN_FAILED in actions
    assert Action.ORG_UPDATED not in actions
    assert "10.7.7.7" in response.content.decode()
