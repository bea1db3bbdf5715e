"""Usernames are one account whatever their case: a phone keyboard writes "Mario" for
"mario", so choosing one refuses another case of a taken name, and sign-in finds the account
whatever the case typed."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from ioportal.accounts.audit import Action
from ioportal.accounts.models import Invitation, Membership, User
from ioportal.core.models import AuditEvent
from tests import builders
from tests.conftest import PASSWORD
from tests.migrating import migrate, migrate_all

TAKEN = "Esiste già un utente con questo nome utente"


def test_invitation_refuses_a_taken_username_in_another_case(
    client, login, admin_user, supervisor_user
):
    login(admin_user)
    response = client.post(
        reverse("accounts:member_invite"),
        {"email": "nuova@esempio.invalid", "username": "Supervisor", "role": "operator"},
    )
    assert response.status_code == 200
    assert TAKEN in str(response.context["form"].errors["username"])
    assert not User.objects.filter(username="Supervisor").exists()
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_invitation_without_username_refuses_an_address_taken_as_username(
    client, login, admin_user
):
    builders.user(username="nuova@esempio.invalid")
    User.objects.filter(username="nuova@esempio.invalid").update(email="altra@esempio.invalid")
    login(admin_user)
    response = client.post(
        reverse("accounts:member_invite"), {"email": "Nuova@Esempio.invalid", "role": "operator"}
    )
    assert response.status_code == 200
    assert TAKEN in response.content.decode()


def test_superuser_admin_invitation_refuses_a_taken_username_in_another_case(
    client, login, organization, admin_user
):
    login(builders.user(superuser=True, username="root"))
    url = reverse("accounts:organization_admin_invite", args=[organization.public_id])
    response = client.post(url, {"email": "capo@esempio.invalid", "username": "ADMIN"})
    assert response.status_code == 200
    assert TAKEN in str(response.context["form"].errors["username"])
    assert not Invitation.objects.exists()


def test_the_database_refuses_a_username_in_another_case(db):
    builders.user(username="mario")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="MARIO", password=PASSWORD)


def test_model_validation_names_the_username(db):
    builders.user(username="mario")
    with pytest.raises(ValidationError) as caught:
        User(username="Mario", password="x").full_clean()
    assert list(caught.value.message_dict) == ["username"]


def test_createsuperuser_refuses_a_username_in_another_case(db):
    builders.user(username="mario")
    with pytest.raises(Exception, match="already taken|già in uso|esiste già"):
        call_command(
            "createsuperuser", username="Mario", email="m@esempio.invalid", interactive=False
        )
    assert User.objects.count() == 1


@pytest.mark.parametrize("typed", ["operator", "Operator", "OPERATOR"])
def test_sign_in_finds_the_account_whatever_the_case(operator_user, typed):
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": typed, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(operator_user.pk)


def test_failures_in_any_case_count_against_the_account(client, operator_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    url = reverse("accounts:login")
    for typed in ("operator", "Operator", "OPERATOR"):
        client.post(url, {"username": typed, "password": "sbagliata"})
    # The fourth attempt, right password, in yet another case: the account is locked.
    response = client.post(url, {"username": "oPerator", "password": PASSWORD})
    assert response.status_code == 429
    failed = AuditEvent.objects.filter(action=Action.LOGIN_FAILED)
    assert failed.count() >= 3 and all(e.actor == operator_user for e in failed)


def _without_the_index() -> None:
    """An older database, where two usernames may differ only in case."""
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX user_username_unique_any_case")


def test_old_pair_differing_in_case_exact_spelling_first_ambiguous_refused(organization):
    _without_the_index()
    lower = builders.user(Membership.Role.OPERATOR, organization, username="mario")
    upper = builders.user(Membership.Role.OPERATOR, organization, username="Mario")
    for typed, expected in (("mario", lower), ("Mario", upper)):
        client = Client()
        client.post(reverse("accounts:login"), {"username": typed, "password": PASSWORD})
        assert client.session["_auth_user_id"] == str(expected.pk)
    # Neither spelling: the portal does not guess which of the two is meant.
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": "MARIO", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


BEFORE = [("accounts", "0004_organization_retention_days")]
AFTER = [("accounts", "0005_username_unique_any_case")]


def _index_exists() -> bool:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "accounts_user")
    return "user_username_unique_any_case" in constraints


@pytest.mark.django_db(transaction=True)
def test_migration_adds_the_index_unless_existing_usernames_clash():
    try:
        old = migrate(BEFORE)
        users = old.get_model("accounts", "User").objects
        users.create(username="mario")
        migrate(AFTER)
        assert _index_exists()
        migrate(BEFORE)
        assert not _index_exists()
        users.create(username="MARIO")
        migrate(AFTER)  # does not fail on the pair, nor renames either
        assert not _index_exists()
        assert sorted(users.values_list("username", flat=True)) == ["MARIO", "mario"]
    finally:
        old = migrate(BEFORE)
        old.get_model("accounts", "User").objects.all().delete()
        migrate_all()
