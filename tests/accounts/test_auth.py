"""Login, lockout, password reset, second factor, session limits."""

import time
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.audit import Action
from ioportal.accounts.middleware import SESSION_AUTH_AT_KEY
from ioportal.accounts.models import Membership
from ioportal.core.models import AuditEvent
from tests.conftest import PASSWORD

LOGIN = "accounts:login"


def post_login(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(reverse(LOGIN), {"username": username, "password": password}, REMOTE_ADDR=ip)


def current_token(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_login_page_is_italian(client, db):
    body = client.get(reverse(LOGIN)).content.decode()
    assert 'lang="it"' in body
    assert "Accedi a ioportal" in body


def test_operator_logs_in_without_second_factor(client, operator_user):
    response = post_login(client, "operator", PASSWORD)
    assert response.status_code == 302
    assert client.get(reverse("dashboard:dashboard")).status_code == 200
    assert AuditEvent.objects.filter(action=Action.LOGIN, actor=operator_user).exists()
    # No second factor for this role: the password is the whole sign-in.
    assert not AuditEvent.objects.filter(action=Action.LOGIN_PASSWORD).exists()


def test_wrong_password_has_clear_message_and_is_audited(client, operator_user):
    response = post_login(client, "operator", "sbagliata")
    assert response.status_code == 200
    assert "Inserisci nome utente e password corretti" in response.content.decode()
    event = AuditEvent.objects.get(action=Action.LOGIN_FAILED)
    assert event.actor == operator_user
    assert event.ip_address == "10.0.0.1"


def test_lockout_after_repeated_failures_keyed_on_username_and_ip(client, operator_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "operator", "sbagliata", ip="10.0.0.9")
    locked = post_login(client, "operator", PASSWORD, ip="10.0.0.9")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Accesso temporaneamente bloccato" in page
    assert "Riprova tra 15 minuti," in page  # the cool-off in words, not "PT15M"
    assert AuditEvent.objects.filter(action=Action.LOCKOUT, actor=operator_user).exists()
    # The attacker's failures do not lock the real user out from their own address.
    other = Client()
    assert post_login(other, "operator", PASSWORD, ip="10.0.0.2").status_code == 302


def test_lockout_page_in_english_says_the_wait_in_words(client, operator_user, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=90)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "operator", "sbagliata", ip="10.0.0.9")
    locked = client.post(
        reverse(LOGIN),
        {"username": "operator", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.9",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert locked.status_code == 429
    assert "Try again in 1 hour and 30 minutes," in locked.content.decode()


def test_lockout_ends_after_cooloff(client, operator_user, settings):
    from axes.models import AccessAttempt

    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "operator", "sbagliata", ip="10.0.0.9")
    assert post_login(client, "operator", PASSWORD, ip="10.0.0.9").status_code == 429
    AccessAttempt.objects.update(attempt_time="2000-01-01T00:00:00Z")
    assert post_login(client, "operator", PASSWORD, ip="10.0.0.9").status_code == 302


def test_admin_must_enrol_second_factor(client, admin_user):
    post_login(client, "admin", PASSWORD)
    response = client.get(reverse("accounts:member_list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:otp_setup"))
    page = client.get(response.url)
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    wrong = client.post(response.url, {"token": "000000"})
    assert "Il codice non è corretto" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # django-otp slows down guesses after a failure
    done = client.post(response.url, {"token": current_token(device)})
    assert done.status_code == 302
    # The recovery codes come first, then the page asked for.
    assert done.url == f"{reverse('accounts:otp_codes')}?next=%2Faccount%2Fente%2Futenti%2F"
    assert client.post(done.url).url == reverse("accounts:member_list")
    assert client.get(reverse("accounts:member_list")).status_code == 200
    assert AuditEvent.objects.filter(action=Action.OTP_ENROLLED, actor=admin_user).exists()


def test_enrolled_user_must_verify_each_login(client, supervisor_user):
    device = TOTPDevice.objects.create(user=supervisor_user, name="default", confirmed=True)
    post_login(client, "supervisor", PASSWORD)
    response = client.get(reverse("dashboard:audit_list"))
    assert response.url.startswith(reverse("accounts:otp_verify"))
    assert client.post(response.url, {"token": "12ab56"}).status_code == 200
    assert client.post(response.url, {"token": "000000"}).status_code == 200
    device.refresh_from_db()
    device.throttle_reset()
    ok = client.post(response.url, {"token": current_token(device)})
    assert ok.status_code == 302
    assert client.get(reverse("dashboard:audit_list")).status_code == 200


def test_organization_can_require_second_factor_for_everyone(client, operator_user, organization):
    post_login(client, "operator", PASSWORD)
    assert client.get(reverse("dashboard:dashboard")).status_code == 200
    organization.require_2fa_for_all = True
    organization.save()
    response = client.get(reverse("dashboard:dashboard"))
    assert response.url.startswith(reverse("accounts:otp_setup"))


def test_next_parameter_cannot_leave_the_site(client, operator_user):
    device = TOTPDevice.objects.create(user=operator_user, name="default", confirmed=True)
    post_login(client, "operator", PASSWORD)
    response = client.post(
        reverse("accounts:otp_verify") + "?next=https://evil.example/",
        {"token": current_token(device)},
    )
    assert response.url == reverse("dashboard:dashboard")


def test_expired_reset_link_is_refused(client, operator_user):
    link = "/account/password/reimposta/MQ/c4v2ab-0123456789abcdef0123456789abcdef/"
    page = client.get(link, follow=True)
    assert page.status_code == 200
    assert "Collegamento non valido" in page.content.decode()


def test_password_change_is_audited(client, login, operator_user):
    login(operator_user)
    new = "Nuova-password-sicura-2026"
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=Action.PASSWORD_CHANGED)
    assert new not in str(event.changes)


def test_deactivating_a_user_ends_their_sessions(client, operator_user):
    post_login(client, "operator", PASSWORD)
    assert Session.objects.count() == 1
    operator_user.is_active = False
    operator_user.save()
    assert Session.objects.count() == 0
    response = client.get(reverse("dashboard:dashboard"))
    assert response.url.startswith(reverse(LOGIN))


def test_removed_membership_loses_access_at_once(client, login, operator_user, organization):
    login(operator_user)
    Membership.objects.filter(user=operator_user).update(is_active=False)
    assert client.get(reverse("dashboard:audit_list")).status_code == 403


def test_absolute_session_lifetime(client, operator_user, settings):
    post_login(client, "operator", PASSWORD)
    session = client.session
    session[SESSION_AUTH_AT_KEY] = time.time() - settings.SESSION_ABSOLUTE_TIMEOUT - 1
    session.save()
    response = client.get(reverse("dashboard:dashboard"))
    assert response.url == reverse(LOGIN)
    assert AuditEvent.objects.filter(action=Action.SESSION_EXPIRED).exists()
    assert client.get(reverse("dashboard:dashboard")).status_code == 302


def test_idle_timeout_is_the_cookie_age(client, operator_user, settings):
    post_login(client, "operator", PASSWORD)
    session = Session.objects.get()
    remaining = session.expire_date - session.expire_date.now(tz=session.expire_date.tzinfo)
    assert remaining.total_seconds() <= settings.SESSION_COOKIE_AGE
    assert settings.SESSION_SAVE_EVERY_REQUEST


def test_missing_csrf_token_gets_a_clear_page(operator_user):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse(LOGIN), {"username": "operator", "password": PASSWORD})
    assert response.status_code == 403
    assert "Modulo scaduto" in response.content.decode()


def test_logout_needs_post_and_is_audited(client, login, operator_user):
    login(operator_user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert AuditEvent.objects.filter(action=Action.LOGOUT).exists()


@pytest.mark.parametrize("language", ["en", "it"])
def test_language_switch(client, operator_user, language):
    response = client.post(reverse("set_language"), {"language": language, "next": "/"})
    assert response.status_code == 302
    body = client.get(reverse(LOGIN)).content.decode()
    assert ("Sign in to ioportal" in body) == (language == "en")


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("it", "Questa password è troppo corta. Deve contenere almeno 12 caratteri."),
        ("en", "This password is too short. It must contain at least 12 characters."),
    ],
)
def test_short_password_error_speaks_the_page_language(
    client, login, operator_user, accept_language, expected
):
    login(operator_user)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": "Corta-1", "new_password2": "Corta-1"},
        HTTP_ACCEPT_LANGUAGE=accept_language,
    )
    assert response.status_code == 200
    assert expected in response.content.decode()
