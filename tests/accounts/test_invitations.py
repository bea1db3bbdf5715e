"""Invitations: a single-use, expiring link; a pending invitation grants nothing."""

import re
import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ioportal.accounts.audit import Action
from ioportal.accounts.models import Invitation, Membership, User
from ioportal.core.models import AuditEvent
from tests import builders
from tests.conftest import PASSWORD, verified_login

NEW_PASSWORD = "Password-scelta-da-me-2026"


def invite(client: Client, email: str, role: str = Membership.Role.OPERATOR, **extra: str):
    return client.post(reverse("accounts:member_invite"), {"email": email, "role": role, **extra})


def link_in(message: mail.EmailMessage) -> str:
    found = re.search(r"https?://[^/\s]+(/account/invito/\S+/)", message.body)
    assert found, message.body
    return found.group(1)


CONTINUE = "/account/invito/accetta/"


def open_link(client: Client, link: str):
    """GET the e-mailed link as a browser does: it keeps the token in the session and
    redirects to the page without it; that page's response."""
    response = client.get(link)
    assert response.status_code == 302 and response.url == CONTINUE == reverse(
        "accounts:invitation_continue"
    )
    return client.get(CONTINUE)


def sign_in(username: str, password: str) -> Client:
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": username, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def test_new_person_receives_link_sets_password_and_signs_in(
    client, login, admin_user, organization
):
    login(admin_user)
    response = invite(client, "nuova@esempio.invalid", first_name="Nuova", username="nuova")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nuova@esempio.invalid"]
    assert organization.name in message.subject
    assert "sceglierti la password" in message.body
    # Until the person answers the list says so, and there is no membership.
    members = client.get(reverse("accounts:member_list")).content.decode()
    assert "nuova@esempio.invalid" in members
    assert "In attesa fino al" in members
    person = User.objects.get(email="nuova@esempio.invalid")
    assert not person.has_usable_password()
    assert not Membership.objects.filter(user=person).exists()

    link = link_in(message)
    visitor = Client()
    page = open_link(visitor, link)
    assert page.status_code == 200
    assert "Invito a lavorare per Comune di Prova" in page.content.decode()
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token not in page.content.decode()  # the form posts to the token-less page
    done = visitor.post(CONTINUE, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done.url == reverse("accounts:login")
    # The link never signs anyone in: the person signs in with the password just chosen.
    assert visitor.get(reverse("dashboard:dashboard")).status_code == 302

    person_client = sign_in("nuova", NEW_PASSWORD)
    dashboard = person_client.get(reverse("dashboard:dashboard")).content.decode()
    assert "Stai lavorando per <strong>Comune di Prova</strong> come Operatore" in dashboard
    membership = Membership.objects.get(user=person, organization=organization)
    assert membership.role == Membership.Role.OPERATOR
    invitation = Invitation.objects.get(user=person)
    assert invitation.status == Invitation.Status.ACCEPTED
    assert AuditEvent.objects.filter(
        action=Action.INVITATION_ACCEPTED, organization=organization, actor=person
    ).exists()

    # The link works once.
    reused = open_link(Client(), link)
    assert reused.status_code == 404
    assert "non è valido o è già stato usato" in reused.content.decode()
    # Nor does the session that used it keep it.
    assert visitor.get(CONTINUE).status_code == 404
    again = Client()
    open_link(again, link)
    posted = again.post(CONTINUE, {"new_password1": "Altra-password-2026-x", "new_password2": "x"})
    assert posted.status_code == 404
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)


def test_expired_link_is_refused_in_italian(client, login, admin_user):
    login(admin_user)
    invite(client, "tardi@esempio.invalid")
    link = link_in(mail.outbox[0])
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    visitor = Client()
    page = open_link(visitor, link)
    assert page.status_code == 410
    assert "L&#x27;invito è scaduto" in page.content.decode()
    post = visitor.post(CONTINUE, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert post.status_code == 410
    person = User.objects.get(email="tardi@esempio.invalid")
    assert not person.has_usable_password()
    assert not Membership.objects.filter(user=person).exists()
    assert "Invito scaduto" in client.get(reverse("accounts:member_list")).content.decode()


def test_expiry_follows_the_setting(client, login, admin_user, settings):
    settings.INVITATION_TIMEOUT = 3600
    login(admin_user)
    before = timezone.now()
    invite(client, "ora@esempio.invalid")
    invitation = Invitation.objects.get(email="ora@esempio.invalid")
    assert before + timedelta(seconds=3600) <= invitation.expires_at
    assert invitation.expires_at <= timezone.now() + timedelta(seconds=3600)


def test_unknown_or_malformed_link_is_404(db):
    for token in ("x", "a" * 43, "a" * 200):
        response = open_link(Client(), reverse("accounts:invitation_open", args=[token]))
        assert response.status_code == 404
    # The page without a link opened before.
    assert Client().get(CONTINUE).status_code == 404
    assert Client().post(CONTINUE, {"new_password1": NEW_PASSWORD}).status_code == 404


def test_weak_password_is_refused_on_the_link(client, login, admin_user):
    login(admin_user)
    invite(client, "debole@esempio.invalid")
    link = link_in(mail.outbox[0])
    visitor = Client()
    open_link(visitor, link)
    page = visitor.post(CONTINUE, {"new_password1": "12345678", "new_password2": "12345678"})
    assert page.status_code == 200
    assert "troppo comune" in page.content.decode()
    assert Invitation.objects.get().status == Invitation.Status.PENDING


def test_existing_account_gets_a_pending_invitation_that_grants_nothing(
    client, login, admin_user, organization, other_organization
):
    colleague = builders.user(Membership.Role.OPERATOR, other_organization, username="collega")
    login(admin_user)
    invite(client, colleague.email.upper(), role=Membership.Role.ADMIN)
    assert len(mail.outbox) == 1
    assert "accedi con il tuo account" in mail.outbox[0].body
    assert not Membership.objects.filter(user=colleague, organization=organization).exists()

    # The link does not sign in, nor let anyone set a password: it leads to the sign-in.
    link = link_in(mail.outbox[0])
    visitor = Client()
    assert visitor.get(link).url == CONTINUE
    response = visitor.get(CONTINUE)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert "next=%2Faccount%2Finviti%2F" in response.url
    colleague.refresh_from_db()
    assert colleague.check_password(PASSWORD)

    person = verified_login(Client(), colleague)
    dashboard = person.get(reverse("dashboard:dashboard")).content.decode()
    assert "Hai 1 invito in attesa di risposta." in dashboard
    assert "Comune Altro" in dashboard
    # Not in the switcher, not selectable, no access to its pages.
    assert 'name="organization"' not in dashboard
    assert organization.name not in dashboard
    switch = person.post(
        reverse("accounts:switch_organization"), {"organization": str(organization.public_id)}
    )
    assert switch.status_code == 404
    assert person.get(reverse("accounts:member_list")).status_code == 403
    assert person.get(reverse("dashboard:audit_list")).status_code == 403

    pending = person.get(reverse("accounts:my_invitations")).content.decode()
    assert organization.name in pending
    assert "Amministratore" in pending
    invitation = Invitation.objects.get(user=colleague)
    accepted = person.post(reverse("accounts:invitation_accept", args=[invitation.public_id]))
    assert accepted.status_code == 302
    # Accepting opens the organization, now in the switcher.
    members = person.get(reverse("accounts:member_list"))
    assert members.status_code == 200
    assert organization.name in members.content.decode()
    assert 'name="organization"' in members.content.decode()
    assert Membership.objects.get(user=colleague, organization=organization).role == "admin"
    again = person.post(reverse("accounts:invitation_accept", args=[invitation.public_id]))
    assert again.status_code == 404


def test_existing_account_can_refuse(client, login, admin_user, organization, other_organization):
    colleague = builders.user(Membership.Role.OPERATOR, other_organization)
    login(admin_user)
    invite(client, colleague.email)
    invitation = Invitation.objects.get(user=colleague)
    person = verified_login(Client(), colleague)
    response = person.post(reverse("accounts:invitation_refuse", args=[invitation.public_id]))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REFUSED
    assert not Membership.objects.filter(user=colleague, organization=organization).exists()
    assert (
        "Nessun invito in attesa" in person.get(reverse("accounts:my_invitations")).content.decode()
    )
    assert AuditEvent.objects.filter(
        action=Action.INVITATION_REFUSED, organization=organization
    ).exists()
    assert (
        person.post(reverse("accounts:invitation_accept", args=[invitation.public_id])).status_code
        == 404
    )


def test_nobody_else_can_answer_an_invitation(
    client, login, admin_user, organization, other_organization
):
    colleague = builders.user(Membership.Role.OPERATOR, other_organization)
    intruder = builders.user(Membership.Role.OPERATOR, other_organization)
    login(admin_user)
    invite(client, colleague.email, role=Membership.Role.ADMIN)
    invitation = Invitation.objects.get(user=colleague)
    other = verified_login(Client(), intruder)
    for name in ("accounts:invitation_accept", "accounts:invitation_refuse"):
        assert other.post(reverse(name, args=[invitation.public_id])).status_code == 404
    # The e-mailed link opened by someone signed in as another account.
    Invitation.objects.filter(pk=invitation.pk).update(token_digest=Invitation.digest("t" * 43))
    page = open_link(other, reverse("accounts:invitation_open", args=["t" * 43]))
    assert page.status_code == 403
    assert not Membership.objects.filter(organization=organization, user=intruder).exists()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


def test_admin_resends_with_a_new_link(client, login, admin_user):
    login(admin_user)
    invite(client, "di-nuovo@esempio.invalid")
    first = link_in(mail.outbox[0])
    invitation = Invitation.objects.get()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(days=1))
    response = client.post(reverse("accounts:invitation_resend", args=[invitation.public_id]))
    assert response.url == reverse("accounts:member_list")
    assert len(mail.outbox) == 2
    second = link_in(mail.outbox[1])
    assert second != first
    assert open_link(Client(), first).status_code == 404
    assert open_link(Client(), second).status_code == 200
    assert AuditEvent.objects.filter(action=Action.INVITATION_RESENT).count() == 1


def test_admin_withdraws(client, login, admin_user):
    login(admin_user)
    invite(client, "ritirato@esempio.invalid")
    link = link_in(mail.outbox[0])
    invitation = Invitation.objects.get()
    response = client.post(reverse("accounts:invitation_withdraw", args=[invitation.public_id]))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.WITHDRAWN
    assert open_link(Client(), link).status_code == 404
    assert "Inviti in attesa" not in client.get(reverse("accounts:member_list")).content.decode()
    twice = client.post(
        reverse("accounts:invitation_withdraw", args=[invitation.public_id]), follow=True
    )
    assert "non è più valido" in twice.content.decode()


def test_managing_invitations_is_for_the_organizations_admins(
    client, login, admin_user, organization, other_organization
):
    login(admin_user)
    invite(client, "qualcuno@esempio.invalid")
    invitation = Invitation.objects.get()
    stranger = verified_login(Client(), builders.user(Membership.Role.ADMIN, other_organization))
    supervisor = verified_login(Client(), builders.user(Membership.Role.SUPERVISOR, organization))
    for name in ("accounts:invitation_resend", "accounts:invitation_withdraw"):
        url = reverse(name, args=[invitation.public_id])
        assert stranger.post(url).status_code == 404
        assert supervisor.post(url).status_code == 403
        assert client.get(url).status_code == 405
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING
    assert len(mail.outbox) == 1


def test_duplicate_and_member_invitations_are_refused(client, login, admin_user, operator_user):
    login(admin_user)
    invite(client, "doppio@esempio.invalid")
    again = invite(client, "DOPPIO@esempio.invalid")
    assert again.status_code == 200
    assert "già in attesa" in again.content.decode()
    member = invite(client, operator_user.email)
    assert "fa già parte dell" in member.content.decode()
    assert Invitation.objects.count() == 1
    assert len(mail.outbox) == 1


def test_revoked_member_can_be_invited_back(client, login, admin_user, operator_user, organization):
    Membership.objects.filter(user=operator_user).update(is_active=False)
    login(admin_user)
    invite(client, operator_user.email, role=Membership.Role.SUPERVISOR)
    membership = Membership.objects.get(user=operator_user)
    assert not membership.is_active
    person = verified_login(Client(), operator_user)
    invitation = Invitation.objects.get()
    person.post(reverse("accounts:invitation_accept", args=[invitation.public_id]))
    membership.refresh_from_db()
    assert membership.is_active
    assert membership.role == Membership.Role.SUPERVISOR


def test_mail_server_down_is_said_and_can_be_retried(client, login, admin_user, monkeypatch):
    def refuse(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("down")

    monkeypatch.setattr("ioportal.accounts.services.send_mail", refuse)
    login(admin_user)
    response = invite(client, "posta@esempio.invalid")
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "non è partita" in page
    assert "In attesa (e-mail non partita)" in page
    invitation = Invitation.objects.get()
    assert invitation.sent_at is None
    monkeypatch.undo()
    client.post(reverse("accounts:invitation_resend", args=[invitation.public_id]))
    invitation.refresh_from_db()
    assert invitation.sent_at is not None
    assert len(mail.outbox) == 1


def test_superuser_appoints_the_first_admin_by_invitation(client, login, organization):
    root = builders.user(superuser=True, username="root")
    login(root)
    page = client.get(reverse("accounts:organization_edit", args=[organization.public_id]))
    assert "Nessun amministratore" in page.content.decode()
    url = reverse("accounts:organization_admin_invite", args=[organization.public_id])
    assert client.get(url).status_code == 200
    response = client.post(url, {"email": "capo@esempio.invalid", "username": "capo"})
    assert response.url == reverse("accounts:organization_edit", args=[organization.public_id])
    page = client.get(response.url).content.decode()
    assert "capo@esempio.invalid" in page
    link = link_in(mail.outbox[0])
    assert "Amministratore" in mail.outbox[0].body
    visitor = Client()
    open_link(visitor, link)
    visitor.post(CONTINUE, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    membership = Membership.objects.get(user__username="capo")
    assert membership.organization == organization
    assert membership.role == Membership.Role.ADMIN
    event = AuditEvent.objects.get(action=Action.USER_INVITED)
    assert event.organization == organization
    assert event.actor == root


def test_admin_invite_page_is_for_superusers(client, login, admin_user, organization):
    login(admin_user)
    url = reverse("accounts:organization_admin_invite", args=[organization.public_id])
    assert client.get(url).status_code == 403
    assert client.post(url, {"email": "x@esempio.invalid"}).status_code == 403
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("name", ["accounts:my_invitations", "dashboard:my_sign_ins"])
def test_personal_pages_need_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_the_last_used_organization_opens_after_sign_in(organization, other_organization):
    # "Comune Altro" comes first alphabetically; the person last worked for "Comune di Prova".
    person = builders.user(Membership.Role.OPERATOR, other_organization, username="doppia")
    Membership.objects.create(user=person, organization=organization, role=Membership.Role.OPERATOR)
    first = sign_in("doppia", PASSWORD)
    assert "Comune Altro</strong>" in first.get(reverse("dashboard:dashboard")).content.decode()
    first.post(
        reverse("accounts:switch_organization"), {"organization": str(organization.public_id)}
    )
    later = sign_in("doppia", PASSWORD)
    assert "Comune di Prova</strong>" in later.get(reverse("dashboard:dashboard")).content.decode()
    # Once that membership ends, the portal falls back to the one left.
    Membership.objects.filter(user=person, organization=organization).update(is_active=False)
    last = sign_in("doppia", PASSWORD)
    assert "Comune Altro</strong>" in last.get(reverse("dashboard:dashboard")).content.decode()


def test_superuser_resends_and_withdraws_from_the_organization_page(client, login, organization):
    login(builders.user(superuser=True, username="root"))
    client.post(
        reverse("accounts:organization_admin_invite", args=[organization.public_id]),
        {"email": "capo@esempio.invalid"},
    )
    invitation = Invitation.objects.get()
    back = reverse("accounts:organization_edit", args=[organization.public_id])
    resent = client.post(reverse("accounts:invitation_resend", args=[invitation.public_id]))
    assert resent.url == back
    assert len(mail.outbox) == 2
    withdrawn = client.post(reverse("accounts:invitation_withdraw", args=[invitation.public_id]))
    assert withdrawn.url == back
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.WITHDRAWN
    assert open_link(Client(), link_in(mail.outbox[1])).status_code == 404


def test_simultaneous_invitations_get_a_clear_refusal(client, login, admin_user, monkeypatch):
    def clash(**kwargs):
        raise IntegrityError("invitation_one_pending_per_user_and_org")

    monkeypatch.setattr("ioportal.accounts.services._invitation_record", clash)
    login(admin_user)
    response = invite(client, "gara@esempio.invalid")
    assert response.status_code == 200
    assert "già in attesa" in response.content.decode()
    assert mail.outbox == []


DECLINE = "/account/invito/rifiuta/"


def test_new_person_can_decline_from_the_link(client, login, admin_user, organization):
    """ "Rifiuta l'invito" beside the password form: a POST (CSRF-protected) that refuses
    the invitation as "Inviti in attesa" does, audited, drops the token from the session
    and confirms it; the link then works no more."""
    login(admin_user)
    invite(client, "rifiuta@esempio.invalid", first_name="Rita", username="rita")
    link = link_in(mail.outbox[-1])
    person = User.objects.get(email="rifiuta@esempio.invalid")
    assert reverse("accounts:invitation_decline") == DECLINE

    guarded = Client(enforce_csrf_checks=True)
    page = open_link(guarded, link).content.decode()
    assert f'action="{DECLINE}"' in page and "Rifiuta l'invito</button>" in page
    assert guarded.post(DECLINE).status_code == 403  # no CSRF token
    assert Invitation.objects.get(user=person).status == Invitation.Status.PENDING

    visitor = Client()
    open_link(visitor, link)
    assert visitor.get(DECLINE).status_code == 405  # only POST
    done = visitor.post(DECLINE)
    assert done.status_code == 200
    assert "Hai rifiutato l'invito a lavorare per Comune di Prova" in done.content.decode()
    invitation = Invitation.objects.get(user=person)
    assert invitation.status == Invitation.Status.REFUSED
    assert AuditEvent.objects.filter(
        action=Action.INVITATION_REFUSED, organization=organization, actor=person
    ).exists()
    assert not Membership.objects.filter(user=person).exists()
    assert "invitation_token" not in visitor.session
    # Answered: neither the session nor the link accept or decline it again.
    assert visitor.post(DECLINE).status_code == 404
    assert open_link(Client(), link).status_code == 404
    person.refresh_from_db()
    assert not person.has_usable_password()


def test_declining_from_the_link_in_english(client, login, admin_user):
    login(admin_user)
    invite(client, "decline@esempio.invalid", username="decline")
    visitor = Client(headers={"accept-language": "en"})
    page = open_link(visitor, link_in(mail.outbox[-1])).content.decode()
    assert "Decline the invitation</button>" in page
    assert "You declined the invitation" in visitor.post(DECLINE).content.decode()
