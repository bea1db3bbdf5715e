"""Two-step verification cannot be got around.

Between the password and the second factor no page gives more than the password proved:
every route of the portal is tried, for every role, through HTTP.
"""

import re
import uuid
from collections.abc import Iterator

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts import services
from ioportal.accounts.audit import Action
from ioportal.accounts.models import Membership, User, UserSession
from ioportal.core.models import AuditEvent
from tests import builders
from tests.conftest import PASSWORD, verified_login

VERIFY = "accounts:otp_verify"
SETUP = "accounts:otp_setup"
RECOVERY = "accounts:otp_recovery"
# The pages meant to be reachable between the password and the second factor.
BEFORE_VERIFICATION = {
    "accounts:login",
    "accounts:logout",
    VERIFY,
    RECOVERY,
    "set_language",
}


def post_login(client: Client, username: str) -> None:
    response = client.post(reverse("accounts:login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302, "the password step must succeed"


def token_of(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def enrol(user: User) -> tuple[TOTPDevice, list[str]]:
    """A confirmed authenticator app and a set of recovery codes, as after enrolment."""
    device = TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    codes = services._recovery_codes_issue(user=user)
    return device, codes


def is_verified(client: Client) -> bool:
    """Whether the client's session passed the second factor: a page past it answers 200."""
    response = client.get(reverse("accounts:otp_account"))
    return response.status_code == 200 and 'data-testid="otp-status"' in response.content.decode()


def routes(member: User) -> Iterator[tuple[str, str]]:
    """(name, path) of every route of the portal, parameters filled with plausible values."""

    def fill(route: str) -> str:
        route = re.sub(r"<uuid:[^>]+>", str(member.public_id), route)
        route = re.sub(r"<path:[^>]+>", "x/y", route)
        return re.sub(r"<(?:str:|slug:|int:)?[^>]+>", "1", route)

    def walk(patterns: list, prefix: str, namespace: str) -> Iterator[tuple[str, str]]:
        for pattern in patterns:
            route = str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if route.startswith("admin/"):
                    for sub in ("", "login/", "otp_totp/totpdevice/", "otp_static/staticdevice/"):
                        yield "admin", f"/{prefix}{route}{sub}"
                    continue
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, prefix + route, inner)
            elif isinstance(pattern, URLPattern):
                yield f"{namespace}{pattern.name}", "/" + fill(prefix + route)

    return walk(get_resolver().url_patterns, "", "")


def test_routes_cover_the_portal(db):
    names = {name for name, _path in routes(builders.user())}
    assert {
        "dashboard:dashboard",
        SETUP,
        "accounts:otp_reset",
        "admin",
        "sending:dispatch_list",
    } <= names
    assert names >= BEFORE_VERIFICATION
    assert len(names) > 50


def secrets_of(user: User) -> tuple[list, list]:
    return (
        sorted(TOTPDevice.objects.filter(user=user).values_list("id", "key", "confirmed")),
        sorted(StaticToken.objects.filter(device__user=user).values_list("id", "token")),
    )


ROLES = ["operator", "operator-required", "supervisor", "admin", "superuser"]


@pytest.fixture
def person(request, organization, other_organization) -> User:
    """A person of the role under test, with an admin membership elsewhere for admins."""
    role = request.param
    if role == "superuser":
        return builders.user(superuser=True, username="root")
    if role == "operator-required":
        organization.require_2fa_for_all = True
        organization.save()
        role = Membership.Role.OPERATOR
    user = builders.user(role, organization, username=f"persona-{role}")
    if role == Membership.Role.ADMIN:
        Membership.objects.create(user=user, organization=other_organization, role=role)
    return user


@pytest.mark.parametrize("person", ROLES, indirect=True)
def test_no_page_before_verification_gives_more_than_the_password(client, person, organization):
    member = builders.user(Membership.Role.OPERATOR, organization)
    enrol(member)
    enrol(person)
    before = secrets_of(person), secrets_of(member)
    events_before = AuditEvent.objects.count()
    post_login(client, person.username)
    verify_url = reverse(VERIFY)
    tried = 0
    for name, path in routes(member):
        for method in ("get", "post"):
            if name == "accounts:logout" and method == "post":
                continue  # signing out gives nothing, and would end the attempt
            response = getattr(client, method)(path)
            tried += 1
            where = f"{method.upper()} {path} ({name})"
            if name in BEFORE_VERIFICATION:
                assert response.status_code in (200, 302, 405), where
                if response.status_code == 302:
                    assert not response.url.startswith("/account/sicurezza"), where
            else:
                assert response.status_code == 302, where
                assert response.url.startswith(verify_url + "?next="), where
    assert tried > 100
    # The enrolment page in particular, the way the bypass worked: open it, then confirm.
    response = client.get(reverse(SETUP))
    assert response.url.startswith(verify_url)
    assert client.post(reverse(SETUP), {"token": "123456"}).url.startswith(verify_url)
    assert (secrets_of(person), secrets_of(member)) == before
    assert not is_verified(client)
    assert mail.outbox == []
    new_actions = set(
        AuditEvent.objects.order_by("id")[events_before:].values_list("action", flat=True)
    )
    # The password step, never a sign-in: the second factor was not passed.
    assert Action.LOGIN_PASSWORD in new_actions
    assert new_actions <= {Action.LOGIN_PASSWORD, Action.OTP_FAILED}


# An operator whose organization does not ask for it signs in with the password alone.
@pytest.mark.parametrize("person", [r for r in ROLES if r != "operator"], indirect=True)
def test_account_without_device_gets_only_enrolment(client, person, organization):
    member = builders.user(Membership.Role.OPERATOR, organization)
    post_login(client, person.username)
    setup_url = reverse(SETUP)
    for name, path in routes(member):
        if name in BEFORE_VERIFICATION or name == SETUP:
            continue
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.url.startswith(setup_url + "?next="), path
        response = client.post(path)
        assert response.status_code == 302, path
        assert response.url.startswith(setup_url + "?next="), path
    assert client.get(setup_url).status_code == 200
    assert not TOTPDevice.objects.filter(user=member).exists()


def test_operator_without_device_signs_in_with_password(client, operator_user):
    post_login(client, "operator")
    assert client.get(reverse("dashboard:dashboard")).status_code == 200
    page = client.get(reverse("accounts:otp_account")).content.decode()
    assert "Non attiva" in page
    # Nothing to renew without an authenticator app.
    response = client.post(reverse("accounts:otp_codes_regenerate"))
    assert response.url == reverse("accounts:otp_account")
    assert not StaticDevice.objects.filter(user=operator_user).exists()


def _sign_in_actions(user: User) -> list[str]:
    return list(
        AuditEvent.objects.filter(actor=user, action__startswith="auth.login")
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_a_sign_in_is_recorded_only_after_the_second_factor(client, supervisor_user):
    """A password abandoned at the code page is recorded as such, never as a sign-in; the
    sign-in is recorded once the code is given, and "I miei accessi" tells them apart."""
    device, _codes = enrol(supervisor_user)
    post_login(client, "supervisor")
    assert _sign_in_actions(supervisor_user) == [Action.LOGIN_PASSWORD]
    abandoned = Client()
    post_login(abandoned, "supervisor")
    assert _sign_in_actions(supervisor_user) == [Action.LOGIN_PASSWORD] * 2
    assert client.post(reverse(VERIFY), {"token": token_of(device)}).status_code == 302
    assert _sign_in_actions(supervisor_user) == [Action.LOGIN_PASSWORD] * 2 + [Action.LOGIN]
    page = client.get(reverse("dashboard:my_sign_ins")).content.decode()
    assert "Password corretta, in attesa del codice" in page and "Accesso" in page
    # A later code in the same session (replacing the app) is no new sign-in.
    client.get(reverse(SETUP))
    new = TOTPDevice.objects.get(user=supervisor_user, confirmed=False)
    assert client.post(reverse(SETUP), {"token": token_of(new)}).status_code == 302
    assert _sign_in_actions(supervisor_user).count(Action.LOGIN) == 1


def test_a_sign_in_with_a_recovery_code_or_a_first_enrolment_is_recorded_then(
    client, supervisor_user, admin_user
):
    _device, codes = enrol(supervisor_user)
    post_login(client, "supervisor")
    client.post(reverse(RECOVERY), {"code": codes[0]})
    assert _sign_in_actions(supervisor_user) == [Action.LOGIN_PASSWORD, Action.LOGIN]
    # An admin without an app must enrol: the sign-in is complete at the enrolment.
    enrolling = Client()
    post_login(enrolling, "admin")
    assert _sign_in_actions(admin_user) == [Action.LOGIN_PASSWORD]
    enrolling.get(reverse(SETUP))
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    enrolling.post(reverse(SETUP), {"token": token_of(device)})
    assert _sign_in_actions(admin_user) == [Action.LOGIN_PASSWORD, Action.LOGIN]


def test_pending_enrolment_is_bound_to_its_session(admin_user):
    """A secret seen by someone with only the password never becomes the real device."""
    attacker, owner = Client(), Client()
    post_login(attacker, "admin")
    attacker.get(reverse(SETUP))
    seen = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    post_login(owner, "admin")
    owner.get(reverse(SETUP))
    assert not TOTPDevice.objects.filter(pk=seen.pk).exists()
    # The attacker's code for the secret they saw confirms nothing.
    response = attacker.post(reverse(SETUP), {"token": token_of(seen)})
    assert response.status_code == 200
    assert not TOTPDevice.objects.filter(user=admin_user, confirmed=True).exists()


def test_enrolment_gives_recovery_codes_once(
    client, admin_user, django_capture_on_commit_callbacks
):
    post_login(client, "admin")
    client.get(reverse(SETUP))
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    before = client.cookies["sessionid"].value
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            reverse(SETUP) + "?next=/account/ente/utenti/", {"token": token_of(device)}
        )
    assert done.url.startswith(reverse("accounts:otp_codes"))
    assert client.cookies["sessionid"].value != before
    page = client.get(done.url)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    shown = re.findall(r"<li>([a-z2-7]{4}-[a-z2-7]{4})</li>", page.content.decode())
    assert len(shown) == services.RECOVERY_CODE_COUNT
    stored = set(
        StaticToken.objects.filter(device__user=admin_user).values_list("token", flat=True)
    )
    assert {code.replace("-", "") for code in shown} == stored

    download = client.get(reverse("accounts:otp_codes_download"))
    assert download["Content-Type"].startswith("text/plain")
    assert download["Content-Disposition"] == (
        'attachment; filename="ioportal-codici-di-recupero.txt"'
    )
    assert "no-store" in download["Cache-Control"]
    assert all(code in download.content.decode() for code in shown)
    english = client.get(reverse("accounts:otp_codes_download"), HTTP_ACCEPT_LANGUAGE="en")
    assert english["Content-Disposition"] == ('attachment; filename="ioportal-recovery-codes.txt"')

    evil = client.post(reverse("accounts:otp_codes"), {"next": "https://evil.example/"})
    assert evil.url == reverse("accounts:otp_account")
    assert client.get(reverse("accounts:otp_codes")).status_code == 302  # forgotten
    saved = client.post(done.url)
    assert saved.url == "/account/ente/utenti/"
    again = client.get(reverse("accounts:otp_codes"))
    assert again.url == reverse("accounts:otp_account")
    assert client.get(reverse("accounts:otp_codes_download")).status_code == 302
    account = client.get(reverse("accounts:otp_account")).content.decode()
    assert "Ti restano 10 codici di recupero" in account
    assert not any(code in account for code in shown)

    assert AuditEvent.objects.filter(action=Action.OTP_ENROLLED, actor=admin_user).exists()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [admin_user.email]
    assert mail.outbox[0].subject == "ioportal: App di autenticazione configurata"
    assert "è stata attivata" in mail.outbox[0].body


def test_session_key_rotates_at_the_second_factor(client, supervisor_user):
    device, _codes = enrol(supervisor_user)
    post_login(client, "supervisor")
    before = client.cookies["sessionid"].value
    response = client.post(reverse(VERIFY), {"token": token_of(device)})
    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert UserSession.objects.filter(user=supervisor_user, session_key=after).exists()
    # The session id seen before the second factor gives nothing.
    stale = Client()
    stale.cookies["sessionid"] = before
    assert stale.get(reverse("dashboard:dashboard")).url.startswith(reverse("accounts:login"))
    # Deactivation still ends the rotated session.
    supervisor_user.is_active = False
    supervisor_user.save()
    assert client.get(reverse("dashboard:dashboard")).url.startswith(reverse("accounts:login"))


def test_recovery_code_works_once(client, supervisor_user, django_capture_on_commit_callbacks):
    _device, codes = enrol(supervisor_user)
    post_login(client, "supervisor")
    before = client.cookies["sessionid"].value
    code = codes[0]
    typed = f"{code[:4].upper()}-{code[4:]} "
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse(RECOVERY), {"code": typed})
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != before
    assert client.get(reverse("dashboard:audit_list")).status_code == 200
    account = client.get(reverse("accounts:otp_account")).content.decode()
    assert "Ti restano 9 codici di recupero" in account
    event = AuditEvent.objects.get(action=Action.OTP_RECOVERY_USED)
    assert event.actor == supervisor_user
    assert event.changes == {"codes_left": 9}
    assert len(mail.outbox) == 1
    assert "9 codici" in mail.outbox[0].body
    assert code not in mail.outbox[0].body

    again = Client()
    post_login(again, "supervisor")
    StaticDevice.objects.filter(user=supervisor_user).update(throttling_failure_count=0)
    response = again.post(reverse(RECOVERY), {"code": code})
    assert response.status_code == 200
    assert "Il codice non è corretto" in response.content.decode()
    assert not is_verified(again)


def test_recovery_guesses_are_throttled(client, supervisor_user):
    _device, codes = enrol(supervisor_user)
    post_login(client, "supervisor")
    assert client.post(reverse(RECOVERY), {"code": "aaaaaaaa"}).status_code == 200
    response = client.post(reverse(RECOVERY), {"code": codes[0]})
    assert "Troppi codici errati" in response.content.decode()
    assert not is_verified(client)
    assert StaticToken.objects.filter(token=codes[0]).exists()


def test_malformed_recovery_code_has_a_clear_message(client, supervisor_user):
    enrol(supervisor_user)
    post_login(client, "supervisor")
    response = client.post(reverse(RECOVERY), {"code": "12"})
    assert "8 lettere e cifre" in response.content.decode()


def test_recovery_codes_can_be_regenerated_after_verifying(
    client, supervisor_user, django_capture_on_commit_callbacks
):
    device, old_codes = enrol(supervisor_user)
    post_login(client, "supervisor")
    # Before the second factor: sent to verification, codes untouched.
    response = client.post(reverse("accounts:otp_codes_regenerate"))
    assert response.url.startswith(reverse(VERIFY))
    assert sorted(
        StaticToken.objects.filter(device__user=supervisor_user).values_list("token", flat=True)
    ) == sorted(old_codes)

    client.post(reverse(VERIFY), {"token": token_of(device)})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:otp_codes_regenerate"))
    assert response.url.startswith(reverse("accounts:otp_codes"))
    new = set(
        StaticToken.objects.filter(device__user=supervisor_user).values_list("token", flat=True)
    )
    assert len(new) == services.RECOVERY_CODE_COUNT
    assert not new & set(old_codes)
    page = client.get(response.url).content.decode()
    assert all(f"{code[:4]}-{code[4:]}" in page for code in new)
    assert AuditEvent.objects.filter(action=Action.OTP_RECOVERY_REGENERATED).count() == 1
    assert len(mail.outbox) == 1
    assert client.get(reverse("accounts:otp_codes_regenerate")).status_code == 405

    other = Client()
    post_login(other, "supervisor")
    assert other.post(reverse(RECOVERY), {"code": old_codes[0]}).status_code == 200
    assert not is_verified(other)


def test_replacing_the_authenticator_needs_verification_first(
    client, supervisor_user, django_capture_on_commit_callbacks
):
    old, old_codes = enrol(supervisor_user)
    post_login(client, "supervisor")
    assert client.get(reverse(SETUP)).url.startswith(reverse(VERIFY))
    # A recovery code is enough to verify, e.g. after losing the phone.
    client.post(reverse(RECOVERY), {"code": old_codes[0]})
    page = client.get(reverse(SETUP))
    assert "Sostituisci l'app di autenticazione" in page.content.decode()
    new = TOTPDevice.objects.get(user=supervisor_user, confirmed=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse(SETUP), {"token": token_of(new)})
    assert response.url.startswith(reverse("accounts:otp_codes"))
    assert list(TOTPDevice.objects.filter(user=supervisor_user).values_list("pk", flat=True)) == [
        new.pk
    ]
    assert not StaticToken.objects.filter(token__in=old_codes[1:]).exists()
    assert AuditEvent.objects.filter(action=Action.OTP_REPLACED, actor=supervisor_user).exists()
    assert [m.subject for m in mail.outbox] == ["ioportal: App di autenticazione sostituita"]
    assert client.get(reverse("dashboard:audit_list")).status_code == 200
    assert not TOTPDevice.objects.filter(pk=old.pk).exists()


def test_other_sessions_verify_again_after_a_replacement(supervisor_user):
    old, _codes = enrol(supervisor_user)
    first, second = Client(), Client()
    for c in (first, second):
        post_login(c, "supervisor")
        c.post(reverse(VERIFY), {"token": token_of(old)})
        TOTPDevice.objects.filter(pk=old.pk).update(last_t=-1)  # same code twice in a test
    assert is_verified(first) and is_verified(second)
    first.get(reverse(SETUP))
    new = TOTPDevice.objects.get(user=supervisor_user, confirmed=False)
    first.post(reverse(SETUP), {"token": token_of(new)})
    assert is_verified(first)
    assert second.get(reverse("dashboard:audit_list")).url.startswith(reverse(VERIFY))


def test_confirming_a_replacement_needs_verification(supervisor_user, rf):
    enrol(supervisor_user)
    pending = TOTPDevice.objects.create(user=supervisor_user, name="default", confirmed=False)
    with pytest.raises(PermissionDenied):
        services.otp_device_confirm(device=pending, verified=False, request=rf.get("/"))
    assert TOTPDevice.objects.filter(user=supervisor_user, confirmed=True).count() == 1


# Reset by an admin


@pytest.fixture
def enrolled_operator(organization) -> User:
    user = builders.user(Membership.Role.OPERATOR, organization, username="operatore")
    enrol(user)
    return user


def test_admin_resets_a_member(
    client, login, admin_user, enrolled_operator, organization, django_capture_on_commit_callbacks
):
    member_session = Client()
    post_login(member_session, "operatore")
    login(admin_user)
    page = client.get(reverse("accounts:member_list")).content.decode()
    url = reverse("accounts:otp_reset", args=[enrolled_operator.public_id])
    assert f'action="{url}"' in page
    assert reverse("accounts:otp_reset", args=[admin_user.public_id]) not in page

    # The button leads to a confirmation; nothing changes until it is confirmed.
    confirm = client.post(url)
    assert confirm.status_code == 200
    assert "Azzera la verifica in due passaggi di" in confirm.content.decode()
    assert client.get(url).status_code == 200
    assert TOTPDevice.objects.filter(user=enrolled_operator).exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"confirm": "1"})
    assert done.url == reverse("accounts:member_list")
    assert not TOTPDevice.objects.filter(user=enrolled_operator).exists()
    assert not StaticDevice.objects.filter(user=enrolled_operator).exists()
    event = AuditEvent.objects.get(action=Action.OTP_RESET)
    assert (event.actor, event.organization, event.target_id) == (
        admin_user,
        organization,
        str(enrolled_operator.public_id),
    )
    assert mail.outbox[0].to == [enrolled_operator.email]
    assert "ha azzerato la verifica in due passaggi" in mail.outbox[0].body
    # Their sessions end; with the organization asking for it, the next sign-in enrols.
    assert member_session.get(reverse("dashboard:dashboard")).url.startswith(
        reverse("accounts:login")
    )
    organization.require_2fa_for_all = True
    organization.save()
    again = Client()
    post_login(again, "operatore")
    assert again.get(reverse("dashboard:dashboard")).url.startswith(reverse(SETUP))


def test_reset_is_offered_only_to_whom_has_a_second_factor(client, login, admin_user, organization):
    never_enrolled = builders.user(Membership.Role.OPERATOR, organization, username="nuova")
    login(admin_user)
    url = reverse("accounts:otp_reset", args=[never_enrolled.public_id])
    assert url not in client.get(reverse("accounts:member_list")).content.decode()
    # Reached anyway (an old link): it says there is nothing to reset and changes nothing.
    answer = client.post(url, {"confirm": "1"}, follow=True).content.decode()
    assert "non ha configurato la verifica in due passaggi" in answer
    assert not AuditEvent.objects.filter(action=Action.OTP_RESET).exists()
    enrol(never_enrolled)
    assert url in client.get(reverse("accounts:member_list")).content.decode()


def test_reset_needs_csrf(admin_user, enrolled_operator):
    client = Client(enforce_csrf_checks=True)
    verified_login(client, admin_user)
    url = reverse("accounts:otp_reset", args=[enrolled_operator.public_id])
    assert client.post(url, {"confirm": "1"}).status_code == 403
    assert TOTPDevice.objects.filter(user=enrolled_operator).exists()


def test_reset_refusals(client, login, admin_user, organization, other_organization):
    other_admin = builders.user(Membership.Role.ADMIN, organization)
    supervisor_elsewhere_admin = builders.user(Membership.Role.SUPERVISOR, organization)
    Membership.objects.create(
        user=supervisor_elsewhere_admin, organization=other_organization, role="admin"
    )
    operator_elsewhere = builders.user(Membership.Role.OPERATOR, organization)
    Membership.objects.create(
        user=operator_elsewhere, organization=other_organization, role="operator"
    )
    root_member = builders.user(Membership.Role.OPERATOR, organization, superuser=True)
    stranger = builders.user(Membership.Role.OPERATOR, other_organization)
    everyone = [admin_user, other_admin, supervisor_elsewhere_admin, operator_elsewhere]
    for user in [*everyone, root_member, stranger]:
        enrol(user)
    login(admin_user)
    expected = {
        admin_user: 403,  # not their own
        other_admin: 403,  # only the installation admin resets an admin
        supervisor_elsewhere_admin: 403,  # an admin somewhere else
        operator_elsewhere: 403,  # works for an organization this admin does not run
        root_member: 403,  # an installation superuser
        stranger: 404,  # another organization's member
    }
    for user, status in expected.items():
        url = reverse("accounts:otp_reset", args=[user.public_id])
        assert client.post(url, {"confirm": "1"}).status_code == status, user.username
        assert client.get(url).status_code == status, user.username
        assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert client.get(reverse("accounts:otp_reset", args=[uuid.uuid4()])).status_code == 404
    assert not AuditEvent.objects.filter(action=Action.OTP_RESET).exists()
    # Each refusal tells its real reason, not "your role does not allow it".
    reasons = {
        admin_user: "Non puoi azzerare la tua verifica in due passaggi",
        other_admin: "è amministratore di un ente",
        supervisor_elsewhere_admin: "è amministratore di un ente",
        operator_elsewhere: "lavora anche per un ente che non amministri",
        root_member: "passaggi di un amministratore dell&#x27;installazione",
    }
    for user, reason in reasons.items():
        body = client.get(reverse("accounts:otp_reset", args=[user.public_id])).content.decode()
        assert reason in body and "Il tuo ruolo" not in body, user.username
    page = client.get(reverse("accounts:member_list")).content.decode()
    assert "otp_reset" not in page and "/verifica/azzera/" not in page


@pytest.mark.parametrize("role", [Membership.Role.OPERATOR, Membership.Role.SUPERVISOR])
def test_reset_needs_an_admin(client, login, organization, enrolled_operator, role):
    login(builders.user(role, organization))
    url = reverse("accounts:otp_reset", args=[enrolled_operator.public_id])
    assert client.post(url, {"confirm": "1"}).status_code == 403
    assert TOTPDevice.objects.filter(user=enrolled_operator).exists()


def test_superuser_resets_an_admin(client, login, admin_user, organization):
    enrol(admin_user)
    root = builders.user(Membership.Role.ADMIN, organization, superuser=True)
    login(root)
    page = client.get(reverse("accounts:member_list")).content.decode()
    url = reverse("accounts:otp_reset", args=[admin_user.public_id])
    assert url in page
    assert reverse("accounts:otp_reset", args=[root.public_id]) not in page
    assert client.post(url, {"confirm": "1"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=admin_user).exists()
    assert (
        client.post(
            reverse("accounts:otp_reset", args=[root.public_id]), {"confirm": "1"}
        ).status_code
        == 403
    )


def test_superuser_without_membership_resets_anyone(client, login, admin_user):
    enrol(admin_user)
    root = builders.user(superuser=True)
    login(root)
    url = reverse("accounts:otp_reset", args=[admin_user.public_id])
    assert client.get(url).status_code == 200
    assert client.post(url, {"confirm": "1"}).url == reverse("dashboard:dashboard")
    assert not TOTPDevice.objects.filter(user=admin_user).exists()


def test_reset_command_for_the_installation_admin(admin_user, django_capture_on_commit_callbacks):
    enrol(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("otp_reset", "admin")
    assert not TOTPDevice.objects.filter(user=admin_user).exists()
    event = AuditEvent.objects.get(action=Action.OTP_RESET)
    assert event.actor is None
    assert event.changes["source"] == "manage.py otp_reset"
    assert len(mail.outbox) == 1


# The Django admin


def test_admin_site_shows_no_second_factor_secrets(client, login, db):
    root = builders.user(superuser=True)
    login(root)
    device = TOTPDevice.objects.get(user=root)
    index = client.get("/admin/")
    assert index.status_code == 200
    body = index.content.decode()
    assert "otp_totp" not in body and "otp_static" not in body
    for path in (
        "/admin/otp_totp/totpdevice/",
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
        f"/admin/otp_totp/totpdevice/{device.pk}/config/",
        f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/",
        "/admin/otp_totp/totpdevice/add/",
        "/admin/otp_static/staticdevice/",
        "/admin/otp_static/staticdevice/add/",
    ):
        assert client.get(path).status_code == 404, path
    assert device.key not in body


def test_admin_sign_in_goes_through_the_portal(client, db):
    root = builders.user(superuser=True, username="root")
    _device, codes = enrol(root)
    response = client.get("/admin/")
    assert response.url.startswith("/admin/login/")
    response = client.get(response.url)
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next=/admin/"
    # The admin's own form (password and a recovery code) signs no one in.
    response = client.post(
        "/admin/login/",
        {"username": "root", "password": PASSWORD, "otp_token": codes[0]},
    )
    assert response.url.startswith(reverse("accounts:login"))
    assert client.get("/admin/").status_code == 302
    assert StaticToken.objects.filter(token=codes[0]).exists()


@pytest.mark.parametrize("page", [VERIFY, RECOVERY])
@pytest.mark.parametrize("role", [Membership.Role.OPERATOR, Membership.Role.ADMIN])
def test_a_code_page_sends_an_account_without_app_to_enrolment(client, organization, page, role):
    """Nothing to type a code from: the code pages send to enrolment, keeping `next`."""
    user = builders.user(role, organization, username="senzaapp")
    post_login(client, "senzaapp")
    response = client.get(reverse(page), {"next": "/invii/"})
    assert response.status_code == 302
    assert response.url == f"{reverse(SETUP)}?next=%2Finvii%2F"
    assert client.get(response.url).status_code == 200
    posted = client.post(reverse(page), {"token": "123456", "code": "abcd2345"})
    assert posted.status_code == 302 and posted.url == reverse(SETUP)
    assert not AuditEvent.objects.filter(actor=user, action=Action.OTP_FAILED).exists()
