"""Password reset: the same answer for every address, the mail from a background task, and
limits per address and per client."""

import re
from collections.abc import Callable

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_q.conf import Conf

from ioportal.accounts import services
from ioportal.accounts.audit import Action
from ioportal.accounts.models import PasswordResetRequest, User
from ioportal.accounts.tasks import send_password_reset
from ioportal.core.models import AuditEvent
from tests.accounts.test_auth import post_login

RESET = "accounts:password_reset"


@pytest.fixture
def tasks_run_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """django-q2's sync mode: `async_task` runs the task at once, in this process."""
    monkeypatch.setattr(Conf, "SYNC", True)


def request_reset(client: Client, email: str, capture: Callable, ip: str = "10.0.0.1"):
    with capture(execute=True) as callbacks:
        response = client.post(reverse(RESET), {"email": email}, REMOTE_ADDR=ip)
    return response, callbacks


def test_known_and_unknown_addresses_get_the_same_answer(
    client, operator_user, django_capture_on_commit_callbacks
) -> None:
    known, known_callbacks = request_reset(
        client, operator_user.email, django_capture_on_commit_callbacks
    )
    unknown, unknown_callbacks = request_reset(
        Client(), "nessuno@esempio.invalid", django_capture_on_commit_callbacks
    )
    assert known.status_code == unknown.status_code == 302
    assert known.url == unknown.url == reverse("accounts:password_reset_done")
    # The same work for both: one task enqueued on commit, nothing sent by the request.
    assert len(known_callbacks) == len(unknown_callbacks) == 1
    assert AuditEvent.objects.filter(action=Action.PASSWORD_RESET_REQUESTED).count() == 2


def test_the_mail_is_sent_by_the_task_not_by_the_request(
    client, operator_user, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    enqueued = []
    monkeypatch.setattr(services, "async_task", lambda *args, **kwargs: enqueued.append(args))
    request_reset(client, operator_user.email, django_capture_on_commit_callbacks)
    assert mail.outbox == []
    assert enqueued[0][0] == "ioportal.accounts.tasks.send_password_reset"
    assert send_password_reset(*enqueued[0][1:]) == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [operator_user.email]


def test_the_link_validity_is_the_setting_in_words(
    client, operator_user, settings, tasks_run_inline, django_capture_on_commit_callbacks
) -> None:
    settings.PASSWORD_RESET_TIMEOUT = 2 * 3600
    response, _ = request_reset(client, operator_user.email, django_capture_on_commit_callbacks)
    page = client.get(response.url).content.decode()
    assert "vale 2 ore e si può usare" in page
    assert "vale 2 ore e si usa una volta sola" in mail.outbox[0].body


def test_unknown_address_gets_no_mail(
    client, db, tasks_run_inline, django_capture_on_commit_callbacks
):
    request_reset(client, "x@y.invalid", django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_reset_link_is_single_use(
    client, operator_user, tasks_run_inline, django_capture_on_commit_callbacks
) -> None:
    request_reset(client, operator_user.email, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert "Scegli una nuova password" in form_page.content.decode()
    new = "Un-altra-password-2026"
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    assert done.status_code == 302
    assert post_login(Client(), "operator", new).status_code == 302
    reused = client.get(link, follow=True)
    assert "Collegamento non valido" in reused.content.decode()


LIMITED = "Troppe richieste di reimpostazione"


def test_requests_for_one_address_are_limited_whatever_the_client(
    operator_user, tasks_run_inline, django_capture_on_commit_callbacks
) -> None:
    for number in range(services.PASSWORD_RESET_PER_EMAIL):
        response, _ = request_reset(
            Client(), operator_user.email, django_capture_on_commit_callbacks, f"10.0.1.{number}"
        )
        assert response.status_code == 302
    limited, callbacks = request_reset(
        Client(), operator_user.email.upper(), django_capture_on_commit_callbacks, "10.0.2.1"
    )
    assert limited.status_code == 429
    assert LIMITED in limited.content.decode()
    assert "riprova tra 1 ora." in limited.content.decode()
    assert callbacks == []
    assert len(mail.outbox) == services.PASSWORD_RESET_PER_EMAIL
    # An unknown address is limited the same way: the limit tells nothing about accounts.
    for _number in range(services.PASSWORD_RESET_PER_EMAIL):
        request_reset(Client(), "nessuno@esempio.invalid", django_capture_on_commit_callbacks)
    unknown, _ = request_reset(
        Client(), "nessuno@esempio.invalid", django_capture_on_commit_callbacks, "10.0.3.1"
    )
    assert unknown.status_code == 429
    assert LIMITED in unknown.content.decode()


def test_requests_from_one_client_are_limited(
    db, tasks_run_inline, django_capture_on_commit_callbacks
) -> None:
    client = Client()
    for number in range(services.PASSWORD_RESET_PER_CLIENT):
        response, _ = request_reset(
            client, f"persona{number}@esempio.invalid", django_capture_on_commit_callbacks
        )
        assert response.status_code == 302
    limited, _ = request_reset(client, "altra@esempio.invalid", django_capture_on_commit_callbacks)
    assert limited.status_code == 429
    # From elsewhere the same address still goes through.
    elsewhere, _ = request_reset(
        Client(), "altra@esempio.invalid", django_capture_on_commit_callbacks, "10.9.9.9"
    )
    assert elsewhere.status_code == 302


def test_the_limit_ends_with_the_window(
    operator_user: User, tasks_run_inline, django_capture_on_commit_callbacks
) -> None:
    for _ in range(services.PASSWORD_RESET_PER_EMAIL):
        request_reset(Client(), operator_user.email, django_capture_on_commit_callbacks)
    PasswordResetRequest.objects.update(
        created_at=PasswordResetRequest.objects.first().created_at - services.PASSWORD_RESET_WINDOW
    )
    response, _ = request_reset(Client(), operator_user.email, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert PasswordResetRequest.objects.count() == 1  # the old ones deleted


def test_the_reset_email_greets_by_the_italian_clock(
    client, operator_user, django_capture_on_commit_callbacks, tasks_run_inline, monkeypatch
):
    """As the dashboard does (core.greetings): "Buonasera" at 19:37 in Rome."""
    from datetime import UTC, datetime

    from ioportal.core import greetings

    evening = datetime(2026, 12, 6, 18, 37, tzinfo=UTC)
    monkeypatch.setattr(greetings.timezone, "now", lambda: evening)
    request_reset(client, operator_user.email, django_capture_on_commit_callbacks)
    assert mail.outbox[0].body.startswith("Buonasera,")


def test_reset_by_the_mailed_link_lifts_the_sign_in_lockout(
    client, admin_user, settings, tasks_run_inline, django_capture_on_commit_callbacks
) -> None:
    # The lockout page says "Riprova tra 15 minuti, oppure reimposta la password".
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(Client(), "admin", "sbagliata", ip="10.0.0.9")
    assert post_login(Client(), "admin", "sbagliata", ip="10.0.0.9").status_code == 429
    request_reset(client, admin_user.email, django_capture_on_commit_callbacks, ip="10.0.0.9")
    link = re.search(r"https?://[^/]+(/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    new = "Un-altra-password-2026"
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    assert done.status_code == 302
    signed_in = Client()
    accepted = post_login(signed_in, "admin", new, ip="10.0.0.9")
    assert accepted.status_code == 302
    # The second factor comes next, as at every sign-in of an administrator.
    assert signed_in.get(accepted.url).url.startswith(reverse("accounts:otp_setup"))
    assert AuditEvent.objects.filter(action=Action.PASSWORD_RESET, actor=admin_user).exists()
    assert AuditEvent.objects.filter(action=Action.LOCKOUT_CLEARED, actor=admin_user).exists()


def test_reset_without_a_lockout_records_no_lifted_lockout(
    client, operator_user, tasks_run_inline, django_capture_on_commit_callbacks
) -> None:
    request_reset(client, operator_user.email, django_capture_on_commit_callbacks)
    link = re.search(r"https?://[^/]+(/\S+)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    new = "Un-altra-password-2026"
    client.post(form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert AuditEvent.objects.filter(action=Action.PASSWORD_RESET).count() == 1
    assert not AuditEvent.objects.filter(action=Action.LOCKOUT_CLEARED).exists()
