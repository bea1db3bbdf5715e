"""Keys at rest and at work: encryption and its rotation, the 401 fallback, the check task."""

import logging
import threading

import pytest
import requests
import responses
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from responses import matchers

from ioportal.core import crypto
from ioportal.core.models import AuditEvent
from ioportal.ioapi import KeyRejectedError
from ioportal.ioservices import services
from ioportal.ioservices.models import IOService, ServiceCheck
from ioportal.ioservices.services import checks
from ioportal.ioservices.tasks import ioservice_check
from ioportal.ioservices.validators import TEST_MODE_PROBE_FISCAL_CODE
from ioportal.sending.gateway import gateway_for
from tests import builders
from tests.ioservices.conftest import (
    IO_BASE,
    PRIMARY_KEY,
    SECONDARY_KEY,
    assert_no_key_in,
    assert_no_key_in_audit,
)

PROFILES = f"{IO_BASE}/profiles"
UNAUTHORIZED = {"statusCode": 401, "message": "Access denied due to invalid subscription key."}


def gateway_call(service, operation):
    """One call through the account's IO gateway (token, ApiCall row, key fallback)."""
    return gateway_for(service.organization).call(service, operation)


def profile_reply(key, status=200, body=None, fiscal_code=None, headers=None):
    match = [matchers.header_matcher({"Ocp-Apim-Subscription-Key": key})]
    if fiscal_code:
        match.append(matchers.json_params_matcher({"fiscal_code": fiscal_code}))
    responses.add(
        responses.POST,
        PROFILES,
        json=body if body is not None else {"sender_allowed": True},
        status=status,
        match=match,
        headers=headers or {},
    )


# -- encryption at rest -----------------------------------------------------------------------


def test_keys_are_stored_encrypted(service):
    row = IOService.objects.values().get(pk=service.pk)
    text = " ".join(str(value) for value in row.values())
    assert_no_key_in(text, PRIMARY_KEY, SECONDARY_KEY, where="database row")
    assert service.key_value("primary") == PRIMARY_KEY
    assert PRIMARY_KEY not in repr(service) and PRIMARY_KEY not in str(service)


def test_wrong_encryption_key_fails_closed(service, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.DecryptionError) as info:
        service.key_value("primary")
    assert "FIELD_ENCRYPTION_KEYS" in str(info.value)
    with pytest.raises(services.ServiceKeyUnavailableError):
        services.service_api_key(service=service, slot="primary")


def test_tampered_value_fails_closed(service):
    kid, _, token = service.primary_key_encrypted.partition(":")
    service.primary_key_encrypted = f"{kid}:{token[:-4]}AAAA"
    with pytest.raises(crypto.DecryptionError):
        service.key_value("primary")


def test_rotation_leaves_every_key_readable_with_the_new_key_only(
    organization, other_organization, settings
):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    first = builders.service(organization)
    second = builders.service(other_organization, secondary_key="")
    expected = {s.pk: (s.key_value("primary"), s.has_key("secondary")) for s in (first, second)}
    expected_secondary = first.key_value("secondary")

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new]
    for service in IOService.objects.all():
        assert service.key_value("primary") == expected[service.pk][0]
        assert service.has_key("secondary") is expected[service.pk][1]
        assert crypto.stored_key_id(service.primary_key_encrypted) == crypto.key_id(new)
    assert IOService.objects.get(pk=first.pk).key_value("secondary") == expected_secondary
    event = AuditEvent.objects.get(action="crypto.rotated")
    assert event.changes["reencrypted"] == 3
    assert_no_key_in_audit(old, new, PRIMARY_KEY, SECONDARY_KEY)


def test_rotation_is_idempotent(service, settings, capsys):
    call_command("rotate_encryption_keys")
    assert "0 chiavi cifrate di nuovo" in capsys.readouterr().out


def test_rotation_refuses_when_a_key_cannot_be_decrypted(service, settings):
    before = IOService.objects.values_list("primary_key_encrypted", flat=True).get()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="nessuna modifica"):
        call_command("rotate_encryption_keys")
    assert IOService.objects.values_list("primary_key_encrypted", flat=True).get() == before


# -- the 401 fallback -------------------------------------------------------------------------


@responses.activate
def test_fallback_switches_to_the_other_key_once_and_tells_the_admins(
    service, client, login, admin_user, caplog
):
    caplog.set_level(logging.DEBUG)
    profile_reply(PRIMARY_KEY, 401, UNAUTHORIZED)
    profile_reply(SECONDARY_KEY)
    profile = gateway_call(service, lambda io: io.get_profile("RSSMRA80A01H501U"))
    assert profile.sender_allowed
    service.refresh_from_db()
    assert service.active_slot == "secondary"
    assert service.key_switched_at is not None
    assert service.secondary_key_last_ok_at is not None
    assert not service.key_problem
    event = AuditEvent.objects.get(action="ioservice.key_switched")
    assert event.changes["active_slot"] == ["primary", "secondary"]
    # Later calls use the secondary key directly.
    gateway_call(service, lambda io: io.get_profile("RSSMRA80A01H501U"))
    assert [c.request.headers["Ocp-Apim-Subscription-Key"] for c in responses.calls] == [
        PRIMARY_KEY,
        SECONDARY_KEY,
        SECONDARY_KEY,
    ]
    assert AuditEvent.objects.filter(action="ioservice.key_switched").count() == 1
    assert_no_key_in(caplog.text, PRIMARY_KEY, SECONDARY_KEY, where="logs")
    assert_no_key_in_audit(PRIMARY_KEY, SECONDARY_KEY)


@responses.activate
def test_both_keys_rejected_marks_key_problem_and_raises(service, client, login, admin_user):
    profile_reply(PRIMARY_KEY, 401, UNAUTHORIZED)
    profile_reply(SECONDARY_KEY, 401, UNAUTHORIZED)
    with pytest.raises(KeyRejectedError) as info:
        gateway_call(service, lambda io: io.get_profile("RSSMRA80A01H501U"))
    assert_no_key_in(str(info.value) + repr(info.value), PRIMARY_KEY, SECONDARY_KEY)
    service.refresh_from_db()
    assert service.key_problem and service.key_problem_since
    assert service.active_slot == "secondary"  # switched once, never back
    assert AuditEvent.objects.filter(action="ioservice.key_switched").count() == 1
    assert AuditEvent.objects.filter(action="ioservice.key_problem").count() == 1

    # Once marked, workers keep the active key and do not flip-flop.
    with pytest.raises(KeyRejectedError):
        gateway_call(service, lambda io: io.get_profile("RSSMRA80A01H501U"))
    service.refresh_from_db()
    assert service.active_slot == "secondary"
    assert AuditEvent.objects.filter(action="ioservice.key_switched").count() == 1

    # The admins see it on the dashboard.
    login(admin_user)
    page = client.get(reverse("dashboard:dashboard")).content.decode()
    assert "Chiavi IO rifiutate" in page
    assert reverse("ioservices:detail", args=[service.public_id]) in page


@responses.activate
def test_only_key_rejected_marks_key_problem_without_switching(organization):
    service = builders.service(organization, secondary_key="")
    profile_reply(PRIMARY_KEY, 401, UNAUTHORIZED)
    with pytest.raises(KeyRejectedError):
        gateway_call(service, lambda io: io.get_profile("RSSMRA80A01H501U"))
    service.refresh_from_db()
    assert service.active_slot == "primary" and service.key_problem
    assert not AuditEvent.objects.filter(action="ioservice.key_switched").exists()


def test_two_reports_of_the_same_failure_switch_once(service):
    # Two workers holding the same (stale) state both report the primary key rejected.
    worker_a = IOService.objects.get(pk=service.pk)
    worker_b = IOService.objects.get(pk=service.pk)
    assert services.ioservice_key_rejected(service=worker_a, key_slot="primary") is True
    assert services.ioservice_key_rejected(service=worker_b, key_slot="primary") is False
    assert worker_b.active_slot == "secondary"
    assert IOService.objects.get(pk=service.pk).active_slot == "secondary"
    assert AuditEvent.objects.filter(action="ioservice.key_switched").count() == 1


@responses.activate
def test_concurrent_failures_interleaved_switch_exactly_once(service):
    """Worker A's call fails with the primary key while worker B, with the same stale state,
    goes through the whole fallback in between: one switch, both succeed on the secondary."""
    profile_reply(PRIMARY_KEY, 401, UNAUTHORIZED)
    profile_reply(SECONDARY_KEY)
    worker_a = IOService.objects.get(pk=service.pk)
    worker_b = IOService.objects.get(pk=service.pk)
    outcomes = []

    def call_a(io):
        if not outcomes:
            outcomes.append(
                gateway_call(worker_b, lambda io_b: io_b.get_profile("RSSMRA80A01H501U"))
            )
        return io.get_profile("RSSMRA80A01H501U")

    outcomes.append(gateway_call(worker_a, call_a))
    assert len(outcomes) == 2 and all(p.sender_allowed for p in outcomes)
    assert IOService.objects.get(pk=service.pk).active_slot == "secondary"
    assert AuditEvent.objects.filter(action="ioservice.key_switched").count() == 1
    assert not IOService.objects.get(pk=service.pk).key_problem


@pytest.mark.django_db(transaction=True)
def test_concurrent_threads_switch_exactly_once(organization):
    service = builders.service(organization)
    barrier = threading.Barrier(4)
    results = []

    def report():
        copy = IOService.objects.get(pk=service.pk)
        barrier.wait()
        results.append(services.ioservice_key_rejected(service=copy, key_slot="primary"))

    threads = [threading.Thread(target=report) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert IOService.objects.get(pk=service.pk).active_slot == "secondary"
    assert AuditEvent.objects.filter(action="ioservice.key_switched").count() == 1


@responses.activate
def test_client_uses_service_base_url_override(organization):
    service = builders.service(organization, api_base_url="http://127.0.0.1:8001/api/v1")
    responses.add(
        responses.POST, "http://127.0.0.1:8001/api/v1/profiles", json={"sender_allowed": True}
    )
    gateway_call(service, lambda io: io.get_profile("RSSMRA80A01H501U"))
    assert len(responses.calls) == 1


# -- "check the service" ----------------------------------------------------------------------


def test_check_button_enqueues_a_task_with_ids_only(
    client, login, admin_user, service, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(checks, "async_task", lambda *args, **kwargs: queued.append(args))
    login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ioservices:check", args=[service.public_id]))
    assert response.status_code == 302
    check = ServiceCheck.objects.get()
    assert queued == [("ioportal.ioservices.tasks.ioservice_check", check.pk)]
    assert check.status == ServiceCheck.Status.PENDING
    page = client.get(reverse("ioservices:detail", args=[service.public_id])).content.decode()
    assert "In corso" in page
    # A second click while it is pending does not queue another.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("ioservices:check", args=[service.public_id]))
    assert len(queued) == 1


def run_check(service):
    check = ServiceCheck.objects.create(service=service, key_slot=service.active_slot)
    ioservice_check(check.pk)
    check.refresh_from_db()
    return check


@responses.activate
def test_check_in_test_mode(service, client, login, admin_user, caplog):
    caplog.set_level(logging.DEBUG)
    profile_reply(
        PRIMARY_KEY, headers={"x-rate-limit-remaining": "148"}, fiscal_code="AAAAAA00A00A000A"
    )
    profile_reply(SECONDARY_KEY, fiscal_code="AAAAAA00A00A000A")
    profile_reply(
        PRIMARY_KEY,
        403,
        {
            "title": "Recipient forbidden",
            "status": 403,
            "detail": "You are not allowed to issue requests for the recipient.",
        },
        fiscal_code=TEST_MODE_PROBE_FISCAL_CODE,
    )
    check = run_check(service)
    assert check.status == ServiceCheck.Status.OK
    assert check.key_works is True and check.other_key_works is True
    assert check.test_mode_detected is True
    assert check.rate_limit_remaining == 148
    assert "modalità di test" in check.message_text
    assert check.finished_at is not None
    service.refresh_from_db()
    assert service.primary_key_last_ok_at and service.secondary_key_last_ok_at
    login(admin_user)
    page = client.get(reverse("ioservices:detail", args=[service.public_id])).content.decode()
    assert "Funziona" in page and "148" in page
    assert_no_key_in(page + caplog.text, PRIMARY_KEY, SECONDARY_KEY)


@responses.activate
def test_check_detects_production_mode_and_mismatch(service):
    profile_reply(PRIMARY_KEY, fiscal_code="AAAAAA00A00A000A")
    profile_reply(SECONDARY_KEY, fiscal_code="AAAAAA00A00A000A")
    profile_reply(
        PRIMARY_KEY,
        404,
        {"title": "Profile not found", "status": 404},
        fiscal_code=TEST_MODE_PROBE_FISCAL_CODE,
    )
    check = run_check(service)
    assert check.status == ServiceCheck.Status.OK
    assert check.test_mode_detected is False
    assert "in produzione" in check.message_text
    assert "ancora in modalità di test" in check.message_text  # the portal says test mode


@responses.activate
def test_check_with_rejected_active_key(service):
    profile_reply(PRIMARY_KEY, 401, UNAUTHORIZED)
    profile_reply(SECONDARY_KEY, fiscal_code="AAAAAA00A00A000A")
    check = run_check(service)
    assert check.status == ServiceCheck.Status.FAILED
    assert check.key_works is False and check.other_key_works is True
    assert check.test_mode_detected is None
    assert "rifiutato la chiave in uso (primaria)" in check.message_text
    assert "La chiave secondaria funziona" in check.message_text
    service.refresh_from_db()
    assert not service.key_problem


@responses.activate
def test_check_result_is_shown_in_the_readers_language(service, client, login, admin_user):
    # Stored as sentences to translate, not as the text of the worker's language.
    profile_reply(PRIMARY_KEY, fiscal_code="AAAAAA00A00A000A")
    profile_reply(SECONDARY_KEY, 401, UNAUTHORIZED)
    check = run_check(service)
    assert "IO ha rifiutato la chiave secondaria" in check.message_text
    login(admin_user)
    url = reverse("ioservices:detail", args=[service.public_id])
    italian = client.get(url).content.decode()
    assert "La chiave in uso (primaria) funziona." in italian
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The key in use (primary) works." in english
    assert "IO rejected the secondary key" in english
    assert "La chiave" not in english and "IO ha rifiutato" not in english


@responses.activate
def test_check_with_both_keys_rejected_marks_key_problem(service):
    profile_reply(PRIMARY_KEY, 401, UNAUTHORIZED)
    profile_reply(SECONDARY_KEY, 401, UNAUTHORIZED)
    check = run_check(service)
    assert check.status == ServiceCheck.Status.FAILED
    assert check.key_works is False and check.other_key_works is False
    service.refresh_from_db()
    assert service.key_problem


@responses.activate
def test_good_check_clears_key_problem(service):
    IOService.objects.filter(pk=service.pk).update(key_problem=True)
    service.refresh_from_db()
    profile_reply(PRIMARY_KEY)
    profile_reply(SECONDARY_KEY)
    run_check(service)
    service.refresh_from_db()
    assert not service.key_problem
    assert AuditEvent.objects.filter(action="ioservice.key_restored").count() == 1


@responses.activate
def test_check_when_io_is_unreachable(service):
    responses.add(responses.POST, PROFILES, body=requests.exceptions.ConnectTimeout("timeout"))
    check = run_check(service)
    assert check.status == ServiceCheck.Status.FAILED
    assert check.key_works is None
    assert "non è raggiungibile" in check.message_text


def test_check_task_is_idempotent(service):
    check = ServiceCheck.objects.create(
        service=service, status=ServiceCheck.Status.OK, message="già fatta"
    )
    assert ioservice_check(check.pk) == "ok"
    check.refresh_from_db()
    assert check.message == "già fatta"
