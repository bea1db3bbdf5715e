"""Reachability checks with IO mocked (`responses`): creation from a file, classification of
profile reads, test mode and feed without calls, priority of sending, crash recovery, and
that nothing is ever submitted."""

import io
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests
import responses
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import Workbook

from ioportal.accounts.models import Membership, Organization
from ioportal.core import crypto
from ioportal.core.fiscalcode import fiscal_code_hash, fiscal_code_hmac, protect_fiscal_code
from ioportal.ioapi import (
    AmbiguousError,
    CallInfo,
    KeyRejectedError,
    NotFoundError,
    PermanentError,
    Profile,
    RateLimitedError,
)
from ioportal.reachability import exports, runs, services
from ioportal.reachability.models import ReachabilityCheck, ReachabilityRow
from ioportal.reachability.services import classify
from ioportal.recipients.parsing import parse_table
from ioportal.sending.feed import utc_today
from ioportal.sending.models import ApiCall, FeedDay, FeedSubscription
from tests import builders
from tests.conftest import verified_login
from tests.sending.support import fiscal_code, simulated_service

pytestmark = pytest.mark.django_db

IO = "https://api.io.pagopa.it/api/v1"
PROFILES = f"{IO}/profiles"
MESSAGES = f"{IO}/messages"
R = ReachabilityRow.Result
NORMAL = fiscal_code("RSSMRA80A01H501")
NOT_ON_IO = fiscal_code("XXXMRA80A01H501")
BLOCKED = fiscal_code("YYYMRA80A01H501")


@pytest.fixture(autouse=True)
def _db_limiter(settings: Any) -> None:
    settings.SENDING_LIMITER = "db"


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        "ioportal.reachability.services.async_task", lambda *a, **k: calls.append(a)
    )
    monkeypatch.setattr("ioportal.sending.triggers.async_task", lambda *a, **k: None)
    return calls


@pytest.fixture
def author(organization: Organization) -> Any:
    return builders.user(Membership.Role.OPERATOR, organization)


@pytest.fixture
def service(organization: Organization) -> Any:
    return builders.service(organization, **simulated_service(""))


def profile_answers(rsps: responses.RequestsMock) -> None:
    """IO's answers by citizen, as the simulator gives them."""

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        if NOT_ON_IO in body:
            return 404, {"Content-Type": "application/problem+json"}, '{"status": 404}'
        allowed = "false" if BLOCKED in body else "true"
        return 200, {"Content-Type": "application/json"}, f'{{"sender_allowed": {allowed}}}'

    rsps.add_callback(responses.POST, PROFILES, callback=answer)


def results(check: ReachabilityCheck) -> dict[str, str]:
    return {
        row.fiscal_code_masked: row.result
        for row in ReachabilityRow.objects.filter(check_run=check)
    }


def no_submission(rsps: responses.RequestsMock) -> None:
    assert all(not call.request.url.startswith(MESSAGES) for call in rsps.calls)
    assert not ApiCall.objects.filter(operation__icontains="submit").exists()


# --- classification ----------------------------------------------------------------------


def _call(status: int | None) -> CallInfo:
    return CallInfo(
        operation="getProfile",
        method="POST",
        status_code=status,
        duration_ms=5,
        outcome="ok",
        fiscal_code_masked=None,
        rate_limit_remaining=None,
    )


CALL = _call(200)


def _error(cls: type, status: int | None, **kwargs: Any) -> Exception:
    return cls("problem", call=_call(status), **kwargs)


def test_classify_profiles() -> None:
    assert classify(Profile(True, (), CALL), None, attempts=1).result == R.REACHABLE
    assert classify(Profile(False, (), CALL), None, attempts=1).result == R.BLOCKED
    assert classify(None, _error(NotFoundError, 404), attempts=1).result == R.NOT_ON_IO
    other = classify(None, _error(PermanentError, 403, title="Forbidden"), attempts=1)
    assert other.result == R.ERROR and other.detail


def test_classify_failures() -> None:
    forbidden = _error(PermanentError, 403, title="Recipient forbidden")
    assert classify(None, forbidden, attempts=1).result == R.NOT_AUTHORIZED
    throttled = classify(
        None,
        _error(RateLimitedError, 429, retry_after=1.0, retry_after_source="default"),
        attempts=99,
    )
    assert throttled.retry and throttled.result == R.PENDING
    assert classify(None, _error(AmbiguousError, None), attempts=1).retry
    last = classify(None, _error(AmbiguousError, None), attempts=services.MAX_ATTEMPTS)
    assert not last.retry and last.result == R.ERROR and last.detail
    stop = classify(None, _error(KeyRejectedError, 401), attempts=1)
    assert stop.stop and stop.result == R.ERROR


# --- creation ----------------------------------------------------------------------------


def test_create_from_csv_keeps_valid_codes_protected_and_refuses_invalid(
    service: Any, author: Any, enqueued: list[tuple[Any, ...]], django_capture_on_commit_callbacks
) -> None:
    text = (
        f"Nome;Codice fiscale\nMario;{NORMAL.lower()}\nErrato;RSSMRA80A01H501X\n"
        f"Doppio;{NORMAL}\nAnna;{BLOCKED}\n"
    )
    table = parse_table(data=text.encode(), filename="elenco.csv")
    column = services.fiscal_code_column(table.headers)
    assert column == "Codice fiscale"
    with django_capture_on_commit_callbacks(execute=True):
        check = services.reachability_check_create(
            service=service, table=table, column=column, source_name="elenco.csv", actor=author
        )
    assert check.total == 2 and check.state == ReachabilityCheck.State.QUEUED
    assert not check.rows.exists() and NORMAL not in check.pending_rows  # sealed
    assert services.reachability_rows_create(check=check) == 2
    assert services.reachability_rows_create(check=check) == 0  # once
    check.refresh_from_db()
    assert check.pending_rows == ""
    rows = list(check.rows.order_by("line"))
    assert [r.line for r in rows] == [2, 5]
    assert rows[0].fiscal_code_hmac == fiscal_code_hmac(NORMAL)
    assert crypto.decrypt(rows[0].fiscal_code_encrypted) == NORMAL
    assert NORMAL not in rows[0].fiscal_code_masked and "*" in rows[0].fiscal_code_masked
    assert [r["line"] for r in check.rejected] == [3, 4]
    reasons = " ".join(" ".join(r["reasons"]) for r in check.rejected_rows)
    assert "già presente alla riga 2" in reasons
    assert "RSSMRA80A01H501X" not in str(check.rejected)  # masked like the import does
    assert enqueued == [("ioportal.reachability.tasks.run_check", check.pk)]


def test_fiscal_code_column_by_choice_or_only_column() -> None:
    assert services.fiscal_code_column(["CF"]) == "CF"
    assert services.fiscal_code_column(["qualcosa"]) == "qualcosa"
    assert services.fiscal_code_column(["a", "b"], "b") == "b"
    with pytest.raises(services.NoFiscalCodeColumn):
        services.fiscal_code_column(["a", "b"])
    with pytest.raises(services.NoFiscalCodeColumn):
        services.fiscal_code_column(["a", "b"], "c")


def test_create_from_xlsx(service: Any, author: Any) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["codice_fiscale", "note"])
    sheet.append([NORMAL, "x"])
    sheet.append([NOT_ON_IO, "y"])
    data = io.BytesIO()
    workbook.save(data)
    table = parse_table(data=data.getvalue(), filename="elenco.xlsx")
    check = services.reachability_check_create(
        service=service,
        table=table,
        column=services.fiscal_code_column(table.headers),
        source_name="elenco.xlsx",
        actor=author,
    )
    assert check.total == 2 and check.rejected == []


# --- runs --------------------------------------------------------------------------------


@responses.activate
def test_run_classifies_citizens_and_submits_nothing(service: Any, author: Any) -> None:
    profile_answers(responses.mock)
    check = builders.reachability_check(service, author, [NORMAL, NOT_ON_IO, BLOCKED])
    stats = runs.run_check(check_id=check.pk, budget=10)
    check.refresh_from_db()
    assert check.state == ReachabilityCheck.State.DONE and check.finished_at is not None
    assert (check.reachable, check.not_on_io, check.blocked, check.errors) == (1, 1, 1, 0)
    assert stats["calls"] == 3
    assert all(row.checked_at and row.source == "profile" for row in check.rows.all())
    assert ApiCall.objects.filter(organization=service.organization, delivery=None).count() == 3
    no_submission(responses.mock)
    assert check.runner is None and check.lease_until is None


@responses.activate
def test_test_mode_service_never_asks_about_unauthorised_citizens(
    organization: Organization, author: Any
) -> None:
    profile_answers(responses.mock)
    service = builders.service(
        organization,
        **simulated_service("", test_mode=True, authorized_recipients=[NORMAL]),
    )
    check = builders.reachability_check(service, author, [NORMAL, NOT_ON_IO, BLOCKED])
    runs.run_check(check_id=check.pk, budget=10)
    check.refresh_from_db()
    assert (check.reachable, check.not_authorized) == (1, 2)
    assert len(responses.calls) == 1
    assert NORMAL in responses.calls[0].request.body.decode()
    assert set(check.rows.filter(result=R.NOT_AUTHORIZED).values_list("source", flat=True)) == {
        "test_mode"
    }


@responses.activate
def test_feed_answers_without_calls(service: Any, author: Any) -> None:
    service.feed_access = True
    service.save()
    yesterday = utc_today() - timedelta(days=1)
    FeedDay.objects.create(service=service, day=yesterday)
    FeedSubscription.objects.create(
        service=service, fiscal_code_hash=fiscal_code_hash(NORMAL), subscribed=True, day=yesterday
    )
    FeedSubscription.objects.create(
        service=service, fiscal_code_hash=fiscal_code_hash(BLOCKED), subscribed=False, day=yesterday
    )
    profile_answers(responses.mock)
    check = builders.reachability_check(service, author, [NORMAL, BLOCKED, NOT_ON_IO])
    runs.run_check(check_id=check.pk, budget=10)
    check.refresh_from_db()
    assert (check.reachable, check.blocked, check.not_on_io) == (1, 1, 1)
    assert len(responses.calls) == 1  # only the citizen the feed does not know
    assert check.rows.filter(source="feed").count() == 2


@responses.activate
def test_a_dispatch_with_due_work_goes_first(service: Any, author: Any) -> None:
    builders.dispatch(service, author, [fiscal_code("RSSBBB80A01H501")])
    check = builders.reachability_check(service, author, [NORMAL])
    stats = runs.run_check(check_id=check.pk, budget=10)
    assert stats.get("yielded") == 1
    assert len(responses.calls) == 0
    check.refresh_from_db()
    assert check.state == ReachabilityCheck.State.RUNNING and check.lease_until is None
    assert results(check) == {check.rows.get().fiscal_code_masked: R.PENDING}


@responses.activate
def test_transient_failures_are_read_again_then_an_error(service: Any, author: Any) -> None:
    responses.post(PROFILES, status=503)
    check = builders.reachability_check(service, author, [NORMAL])
    for _ in range(services.MAX_ATTEMPTS):
        runs.run_check(check_id=check.pk, budget=10)
    check.refresh_from_db()
    row = check.rows.get()
    assert row.attempts == services.MAX_ATTEMPTS and row.result == R.ERROR and row.detail_parts
    assert check.state == ReachabilityCheck.State.DONE and check.errors == 1
    no_submission(responses.mock)


@responses.activate
def test_refused_keys_stop_the_check(service: Any, author: Any) -> None:
    responses.post(PROFILES, status=401, json={"status": 401})
    check = builders.reachability_check(service, author, [NORMAL, BLOCKED])
    runs.run_check(check_id=check.pk, budget=10)
    check.refresh_from_db()
    assert check.state == ReachabilityCheck.State.FAILED and check.failure_parts
    assert check.errors == 2


@responses.activate
def test_a_killed_run_is_taken_over_after_its_lease(
    service: Any, author: Any, enqueued: list[tuple[Any, ...]]
) -> None:
    profile_answers(responses.mock)
    check = builders.reachability_check(service, author, [NORMAL, BLOCKED])
    # A run holds the check, then dies: nobody else may take it until its lease lapses.
    assert runs.claim_check(check_id=check.pk, runner=uuid.uuid4(), lease=60)
    assert runs.run_check(check_id=check.pk, budget=5) == {"busy": 1}
    assert runs.sweep() == 0
    ReachabilityCheck.objects.filter(pk=check.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert runs.sweep() == 1
    assert enqueued[-1] == ("ioportal.reachability.tasks.run_check", check.pk)
    runs.run_check(check_id=check.pk, budget=10)
    check.refresh_from_db()
    assert check.state == ReachabilityCheck.State.DONE
    assert (check.reachable, check.blocked) == (1, 1)


def test_finished_checks_are_not_run_again(service: Any, author: Any) -> None:
    check = builders.reachability_check(service, author, [NORMAL], state="done")
    assert runs.run_check(check_id=check.pk, budget=5) == {"busy": 1}
    assert runs.sweep() == 0


@responses.activate
def test_a_run_stores_the_uploaded_rows_first_even_after_a_crash(service: Any, author: Any) -> None:
    profile_answers(responses.mock)
    table = parse_table(
        data=f"cf\n{NORMAL}\n{BLOCKED}\n{NOT_ON_IO}\n".encode(), filename="elenco.csv"
    )
    check = services.reachability_check_create(
        service=service, table=table, column="cf", source_name="elenco.csv", actor=author
    )
    # A run killed after storing one row: the next one stores the others, once each.
    ReachabilityRow.objects.create(check_run=check, line=2, **protect_fiscal_code(NORMAL))
    runs.run_check(check_id=check.pk, budget=10)
    check.refresh_from_db()
    assert check.rows.count() == 3 and check.pending_rows == ""
    assert (check.reachable, check.blocked, check.not_on_io) == (1, 1, 1)
    assert check.state == ReachabilityCheck.State.DONE
    no_submission(responses.mock)


@pytest.mark.django_db(transaction=True)
def test_the_rows_are_checked_outside_the_transaction_that_writes_the_check(
    service: Any, author: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite a transaction (IMMEDIATE) holds the database's write lock from its start:
    # checking 100,000 rows inside one would make every other request wait.
    from django.db import connection

    in_transaction = []
    validate_rows = services.validate_rows

    def checking(**kwargs: Any) -> Any:
        in_transaction.append(connection.in_atomic_block)
        return validate_rows(**kwargs)

    monkeypatch.setattr(services, "validate_rows", checking)
    table = parse_table(data=f"codice_fiscale\n{NORMAL}\n".encode(), filename="elenco.csv")
    check = services.reachability_check_create(
        service=service, table=table, column="codice_fiscale", source_name="e.csv", actor=author
    )
    assert in_transaction == [False]
    assert ReachabilityCheck.objects.get(pk=check.pk).total == 1


# --- reasons stored untranslated, shown in the reader's language -----------------------------


@responses.activate
def test_reasons_are_shown_in_the_readers_language_whoever_ran_the_check(
    service: Any, author: Any
) -> None:
    responses.post(PROFILES, status=503)
    check = builders.reachability_check(service, author, [NORMAL])
    # The run happens in English (a request in English, a worker): nothing English is stored.
    with translation.override("en"):
        for _ in range(services.MAX_ATTEMPTS):
            runs.run_check(check_id=check.pk, budget=10)
    row = check.rows.get()
    with translation.override("it"):
        italian = row.detail_text
        exported = exports.result_text(row)
    with translation.override("en"):
        english = row.detail_text
    assert "IO" in italian and italian != english
    assert exported == italian
    assert "non " not in english and "riprova" not in english.lower()


@responses.activate
def test_a_stopped_check_says_why_in_the_readers_language(
    client: Any, service: Any, author: Any
) -> None:
    responses.post(PROFILES, status=401, json={"status": 401})
    check = builders.reachability_check(service, author, [NORMAL])
    runs.run_check(check_id=check.pk, budget=10)
    check.refresh_from_db()
    row = check.rows.get()
    verified_login(client, author)
    url = reverse("reachability:check_detail", args=[check.public_id])
    italian = client.get(url, HTTP_ACCEPT_LANGUAGE="it").content.decode()
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "IO ha rifiutato la chiave del servizio" in italian
    assert "IO refused the service&#x27;s key" in english
    assert "IO ha rifiutato la chiave" not in english
    with translation.override("en"):
        assert row.detail_text == "IO refused the service's key, or the key cannot be read."


@pytest.mark.parametrize(
    ("uploader", "reader", "expected", "unexpected"),
    [
        ("en", "it", "Codice fiscale già presente alla riga 2.", "already present"),
        ("it", "en", "Fiscal code already present in row 2.", "già presente"),
    ],
)
def test_refused_rows_are_told_in_the_readers_language_whoever_uploaded(
    client: Any,
    service: Any,
    author: Any,
    uploader: str,
    reader: str,
    expected: str,
    unexpected: str,
) -> None:
    text = f"Codice fiscale\n{NORMAL}\nRSSMRA80A01H501X\n{NORMAL}\n"
    table = parse_table(data=text.encode(), filename="elenco.csv")
    with translation.override(uploader):
        check = services.reachability_check_create(
            service=service, table=table, column="Codice fiscale", source_name="e.csv", actor=author
        )
    verified_login(client, author)
    url = reverse("reachability:check_detail", args=[check.public_id])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE=reader).content.decode()
    assert expected in page and unexpected not in page
    with translation.override(reader):
        shown = " ".join(" ".join(row["reasons"]) for row in check.rejected_rows)
    assert expected in shown and unexpected not in shown
    old = ReachabilityCheck(rejected=[{"line": 3, "reasons": ["Testo di una volta."]}])
    assert old.rejected_rows[0]["reasons"] == ["Testo di una volta."]  # stored before: as it is


def test_a_reason_stored_as_text_before_still_reads() -> None:
    # What the data migration makes of a text stored before: translated when it is one of
    # the catalog's sentences, as written otherwise.
    known = ReachabilityRow(
        detail_parts=[
            {"text": "IO ha rifiutato la chiave del servizio, o la chiave non è leggibile."}
        ]
    )
    other = ReachabilityRow(detail_parts=[{"text": "Errore 42 (vecchio testo)"}])
    with translation.override("en"):
        assert known.detail_text == "IO refused the service's key, or the key cannot be read."
        assert other.detail_text == "Errore 42 (vecchio testo)"
