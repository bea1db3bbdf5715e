"""XLSX exports above EXPORT_XLSX_INLINE_MAX_ROWS, prepared by a worker: the page, the file,
access, audit, encryption at rest, double clicks, expiry and retention purges, failures."""

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core import crypto
from ioportal.core.models import AuditEvent
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.reports import prepared, tasks
from ioportal.reports.models import PreparedExport
from ioportal.retention.services import dispatch_purge_personal_data
from tests import builders
from tests.conftest import citizen_search, verified_login

S = PreparedExport.State
OTHER_CITIZEN = "VRDGPP75C15F205S"
THIRD_CITIZEN = "XXXMRA80A01H501D"


@pytest.fixture(autouse=True)
def _small_limit(settings: Any, tmp_path: Path) -> None:
    """Any XLSX of more than one row is prepared; files go to a temporary MEDIA_ROOT."""
    settings.EXPORT_XLSX_INLINE_MAX_ROWS = 1
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The export ids given to the worker (instead of django-q2's queue)."""
    ids: list[int] = []
    monkeypatch.setattr(prepared, "enqueue_build", lambda *, export_id: ids.append(export_id))
    return ids


@pytest.fixture
def dispatch(organization: Organization, supervisor_user: User) -> Dispatch:
    created = builders.dispatch(
        builders.service(organization),
        supervisor_user,
        [builders.CITIZEN, OTHER_CITIZEN, THIRD_CITIZEN],
        state=Dispatch.State.COMPLETED,
        title="TARI 2026",
    )
    Delivery.objects.filter(dispatch=created, row_number=2).update(
        state=Delivery.State.SKIPPED, skip_reason="not_on_io"
    )
    return created


def _xlsx_url(dispatch: Dispatch, query: str = "") -> str:
    url = reverse("reports:dispatch_deliveries_xlsx", args=[dispatch.public_id])
    return f"{url}?{query}" if query else url


def _request(
    client: Client,
    user: User,
    dispatch: Dispatch,
    capture: Callable[..., Any],
    query: str = "",
) -> PreparedExport:
    """The user's POST of the XLSX button, transaction committed: the export it leads to."""
    verified_login(client, user)
    with capture(execute=True):
        response = client.post(_xlsx_url(dispatch, query))
    assert response.status_code == 302
    public_id = response["Location"].rstrip("/").rsplit("/", 1)[1]
    export = PreparedExport.objects.get(public_id=public_id)
    assert response["Location"] == reverse("reports:prepared_export", args=[export.public_id])
    assert export.created_by == user and export.state in PreparedExport.ACTIVE
    return export


def _built(export: PreparedExport) -> PreparedExport:
    assert prepared.prepared_export_build(export_id=export.pk) == S.READY
    export.refresh_from_db()
    return export


def _download(client: Client, export: PreparedExport) -> Any:
    return client.post(reverse("reports:prepared_export_download", args=[export.public_id]))


def _workbook(response: Any) -> openpyxl.Workbook:
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    return openpyxl.load_workbook(io.BytesIO(body))


def test_a_large_xlsx_is_prepared_then_downloaded_with_the_rows_of_a_direct_export(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    assert enqueued == [export.pk]
    page = client.get(reverse("reports:prepared_export", args=[export.public_id]))
    text = page.content.decode()
    assert "Il file Excel è in preparazione" in text
    assert 'hx-trigger="every 2s"' in text  # refreshes by itself
    assert "Scarica il file Excel" not in text

    _built(export)
    status = client.get(reverse("reports:prepared_export_status", args=[export.public_id]))
    text = status.content.decode()
    assert "Il file è pronto: 3 righe." in text
    page = client.get(reverse("reports:prepared_export", args=[export.public_id])).content
    assert 'class="breadcrumb"' in page.decode() and "Esiti esportati: tutti." in page.decode()
    assert "Scarica il file Excel" in text and "csrfmiddlewaretoken" in text
    assert "hx-trigger" not in text  # stops refreshing
    response = _download(client, export)
    assert response["Content-Disposition"] == 'attachment; filename="esiti-tari-2026.xlsx"'
    assert response["Cache-Control"] == "no-store"
    rows = [list(row) for row in _workbook(response)["Consegne"].iter_rows(values_only=True)]

    settings.EXPORT_XLSX_INLINE_MAX_ROWS = 1000
    direct = client.get(_xlsx_url(dispatch))
    expected = openpyxl.load_workbook(io.BytesIO(b"".join(direct.streaming_content)))
    assert rows == [list(row) for row in expected["Consegne"].iter_rows(values_only=True)]
    assert len(rows) == 4 and rows[2][2] == "Non raggiungibile"


def test_the_outcome_filter_is_kept_for_the_worker(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings.EXPORT_XLSX_INLINE_MAX_ROWS = 0
    export = _request(
        client,
        supervisor_user,
        dispatch,
        django_capture_on_commit_callbacks,
        query="esito=unreachable",
    )
    _built(export)
    page = client.get(reverse("reports:prepared_export", args=[export.public_id])).content
    assert "Esiti esportati: solo «Non raggiungibili»." in page.decode()
    response = _download(client, export)
    assert response["Content-Disposition"] == (
        'attachment; filename="esiti-tari-2026-non-raggiungibili.xlsx"'
    )
    sheet = _workbook(response)["Consegne"]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [2]


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_an_unknown_outcome_filter_is_refused_not_ignored(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    settings: Any,
    file_format: str,
) -> None:
    """`?esito=foo` would have exported every row: back to the dispatch page, nothing
    prepared, nothing exported nor audited, for a prepared XLSX and an inline download."""
    settings.EXPORT_XLSX_INLINE_MAX_ROWS = 0 if file_format == "xlsx" else 1000
    verified_login(client, supervisor_user)
    url = reverse(f"reports:dispatch_deliveries_{file_format}", args=[dispatch.public_id])
    for method in (client.get, client.post):
        response = method(f"{url}?esito=foo", follow=True)
        assert response.redirect_chain[0] == (
            reverse("sending:dispatch_detail", args=[dispatch.public_id]),
            302,
        )
        assert "esito «foo» non esiste" in response.content.decode()
    assert not PreparedExport.objects.exists() and enqueued == []
    assert not AuditEvent.objects.filter(action="export.dispatch_deliveries").exists()


def test_a_get_of_a_large_xlsx_shows_the_button_and_starts_nothing(
    client: Client, supervisor_user: User, dispatch: Dispatch, enqueued: list[int]
) -> None:
    verified_login(client, supervisor_user)
    response = client.get(_xlsx_url(dispatch))
    text = response.content.decode()
    assert response.status_code == 200
    assert "Il file ha 3 righe: oltre 1 righe un file Excel viene preparato" in text
    assert "Prepara il file Excel" in text and 'method="post"' in text
    assert not PreparedExport.objects.exists() and enqueued == []
    assert not AuditEvent.objects.filter(action="export.dispatch_deliveries").exists()


def test_small_xlsx_exports_are_still_sent_at_once_on_the_button_s_post(
    client: Client, supervisor_user: User, dispatch: Dispatch, settings: Any
) -> None:
    settings.EXPORT_XLSX_INLINE_MAX_ROWS = 3
    verified_login(client, supervisor_user)
    response = client.post(_xlsx_url(dispatch))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert not PreparedExport.objects.exists()


def test_a_double_click_prepares_one_export(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings.EXPORT_XLSX_INLINE_MAX_ROWS = 0
    first = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    second = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    assert first == second and enqueued == [first.pk]
    assert PreparedExport.objects.count() == 1
    # Another filter is another export; once ready, the same request prepares a new file.
    _request(
        client, supervisor_user, dispatch, django_capture_on_commit_callbacks, "esito=unreachable"
    )
    _built(first)
    third = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    assert third != first and len(enqueued) == 3
    # A second task for the same export does nothing.
    _built(third)
    assert prepared.prepared_export_build(export_id=third.pk) == ""


def test_only_the_requester_still_allowed_reaches_the_export(
    client: Client,
    organization: Organization,
    other_organization: Organization,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _built(_request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks))
    urls = [
        reverse(name, args=[export.public_id])
        for name in ("reports:prepared_export", "reports:prepared_export_status")
    ]

    def answers(user: User) -> list[int]:
        verified_login(client, user)
        return [client.get(url).status_code for url in urls] + [
            _download(client, export).status_code
        ]

    assert answers(builders.user(Membership.Role.OPERATOR, organization)) == [403, 403, 403]
    assert answers(builders.user(Membership.Role.ADMIN, other_organization)) == [404, 404, 404]
    assert answers(builders.user(Membership.Role.ADMIN, organization)) == [404, 404, 404]
    assert answers(supervisor_user) == [200, 200, 200]
    # The requester made an operator loses it as the exports themselves.
    Membership.objects.filter(user=supervisor_user).update(role=Membership.Role.OPERATOR)
    assert answers(supervisor_user) == [403, 403, 403]
    assert AuditEvent.objects.filter(action="export.dispatch_deliveries").count() == 1
    # The download is POST only.
    Membership.objects.filter(user=supervisor_user).update(role=Membership.Role.SUPERVISOR)
    url = reverse("reports:prepared_export_download", args=[export.public_id])
    assert client.get(url).status_code == 405


def test_the_download_is_audited_like_a_direct_export_and_the_preparation_is_not(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    _built(export)
    assert not AuditEvent.objects.filter(action="export.dispatch_deliveries").exists()
    _workbook(_download(client, export))
    event = AuditEvent.objects.get(action="export.dispatch_deliveries")
    assert event.actor == supervisor_user
    assert event.target_id == str(dispatch.public_id)
    assert event.changes == {"rows": 3, "format": "xlsx", "esito": "", "prepared": True}


def test_the_file_is_encrypted_at_rest(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    masked = Delivery.objects.filter(dispatch=dispatch).values_list(
        "fiscal_code_masked", flat=True
    )[0]
    export = _built(_request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks))
    with default_storage.open(export.file_name, "rb") as stored:
        data = stored.read()
    assert data.startswith(crypto.FILE_MAGIC)
    # Not a ZIP (its entry names would show in clear), no code in clear nor masked.
    for clear in (b"PK\x03\x04", b"worksheets/sheet1.xml", masked.encode(), b"TARI 2026"):
        assert clear not in data
    with default_storage.open(export.file_name, "rb") as stored:
        workbook = b"".join(crypto.decrypt_file(stored))
    assert workbook.startswith(b"PK\x03\x04") and len(workbook) == export.size


def test_a_file_past_its_expiry_is_deleted_by_the_purge(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _built(_request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks))
    assert export.expires_at is not None
    assert prepared.prepared_exports_purge(now=export.expires_at - timedelta(minutes=1)) == 0
    assert default_storage.exists(export.file_name)
    assert prepared.prepared_exports_purge(now=export.expires_at) == 1
    assert not default_storage.exists(export.file_name)
    export.refresh_from_db()
    assert (export.state, export.file_name, export.parameters) == (S.EXPIRED, "", {})
    response = _download(client, export)
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Il file non è più disponibile" in page
    assert not AuditEvent.objects.filter(action="export.dispatch_deliveries").exists()
    # Forgotten a month later.
    prepared.prepared_exports_purge(now=timezone.now() + prepared.KEEP_ROWS)
    assert not PreparedExport.objects.exists()


def test_the_retention_purge_of_the_dispatch_ends_its_exports(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _built(_request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks))
    Dispatch.objects.filter(pk=dispatch.pk).update(finished_at=timezone.now() - timedelta(days=400))
    dispatch.refresh_from_db()
    assert dispatch_purge_personal_data(dispatch=dispatch) == 3
    # Refused at once, before the scheduled purge deletes the file; the page says so at
    # once too and offers no button (the download's own predicate).
    page = client.get(reverse("reports:prepared_export", args=[export.public_id])).content
    text = page.decode()
    assert "Scarica il file Excel" not in text and "Il file è pronto" not in text
    assert "Il file non è più disponibile" in text and "Non più disponibile" in text
    assert _download(client, export).status_code == 302
    assert tasks.purge_exports() == 1
    assert not default_storage.exists(export.file_name)
    export.refresh_from_db()
    assert export.state == S.EXPIRED


def test_a_search_export_is_prepared_without_keeping_the_code(
    client: Client,
    organization: Organization,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    other = builders.dispatch(
        builders.service(organization),
        supervisor_user,
        [builders.CITIZEN],
        state=Dispatch.State.COMPLETED,
        title="Secondo",
    )
    verified_login(client, supervisor_user)
    url = reverse("reports:search_deliveries_xlsx", args=[citizen_search(client, builders.CITIZEN)])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 302
    export = PreparedExport.objects.get()
    assert builders.CITIZEN not in str(export.parameters)
    _built(export)
    sheet = _workbook(_download(client, export))["Consegne"]
    assert sorted(row[0] for row in sheet.iter_rows(min_row=2, values_only=True)) == [
        "Secondo",
        "TARI 2026",
    ]
    event = AuditEvent.objects.get(action="export.search_results")
    assert event.changes == {
        "rows": 2,
        "format": "xlsx",
        "filters": ["codice_fiscale"],
        "prepared": True,
    }
    assert event.target_label == export.target_label != ""
    # Any dispatch of the organization purged since then ends a search's export.
    Dispatch.objects.filter(pk=other.pk).update(personal_data_purged_at=timezone.now())
    assert prepared.prepared_exports_purge() == 1


def test_a_failure_is_shown_in_italian_and_a_new_request_starts_again(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(prepared.exports, "write_xlsx", broken)
    assert prepared.prepared_export_build(export_id=export.pk) == S.FAILED
    page = client.get(reverse("reports:prepared_export", args=[export.public_id]))
    text = page.content.decode()
    assert "Non è stato possibile preparare il file. Riprova più tardi o scegli CSV." in text
    assert "disk full" not in text and "hx-trigger" not in text
    assert _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks) != (
        export
    )


def test_a_requester_no_longer_supervisor_fails_the_preparation(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    Membership.objects.filter(user=supervisor_user).update(role=Membership.Role.OPERATOR)
    assert prepared.prepared_export_build(export_id=export.pk) == S.FAILED
    export.refresh_from_db()
    assert export.failure_reason == (
        "Chi ha chiesto il file non può più esportare queste consegne."
    )
    assert not export.file_name


def test_an_export_left_by_a_dead_worker_fails_after_an_hour(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    prepared.prepared_exports_purge(now=export.created_at + timedelta(minutes=59))
    export.refresh_from_db()
    assert export.state == S.PENDING
    prepared.prepared_exports_purge(now=export.created_at + prepared.STALE_AFTER)
    export.refresh_from_db()
    assert export.state == S.FAILED
    assert export.failure_reason == "La preparazione si è interrotta. Riprova."
    # A late worker finds nothing to do.
    assert prepared.prepared_export_build(export_id=export.pk) == ""


def test_an_export_running_past_its_task_s_timeout_fails(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    started = timezone.now()
    PreparedExport.objects.filter(pk=export.pk).update(state=S.RUNNING, started_at=started)
    prepared.prepared_exports_purge(now=started + timedelta(seconds=prepared.TASK_TIMEOUT))
    export.refresh_from_db()
    assert export.state == S.RUNNING
    prepared.prepared_exports_purge(now=started + timedelta(seconds=prepared.TASK_TIMEOUT + 60))
    export.refresh_from_db()
    assert export.state == S.FAILED


def test_the_worker_task_is_enqueued_with_its_own_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        prepared, "async_task", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    prepared.enqueue_build(export_id=7)
    assert calls == [
        (
            ("ioportal.reports.tasks.build_export", 7),
            {"task_name": "prepared-export-7", "timeout": prepared.TASK_TIMEOUT},
        )
    ]
    assert prepared.TASK_TIMEOUT < 600  # below the cluster's retry: never run twice at once


# --- no file of citizens' data without its export --------------------------------------------


def _stored() -> list[str]:
    try:
        return default_storage.listdir(prepared.STORAGE_DIR)[1]
    except FileNotFoundError:
        return []


def test_a_preparation_that_fails_half_way_through_storing_leaves_no_file(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    save = default_storage.save

    def disk_full(name: str, content: Any, **kwargs: Any) -> str:
        save(name, io.BytesIO(content.read(100)))  # the first bytes reach the disk
        raise OSError("disk full")

    monkeypatch.setattr(default_storage, "save", disk_full)
    assert prepared.prepared_export_build(export_id=export.pk) == S.FAILED
    export.refresh_from_db()
    assert (export.state, export.file_name) == (S.FAILED, "")
    assert export.failure_reason.startswith("Non è stato possibile preparare il file.")
    assert _stored() == []


def test_a_worker_stopped_after_writing_the_file_deletes_it(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    write = prepared._write

    def stopped(*args: Any) -> Any:
        write(*args)
        assert len(_stored()) == 1
        raise SystemExit  # django-q2 stopping the task, the worker being shut down

    monkeypatch.setattr(prepared, "_write", stopped)
    with pytest.raises(SystemExit):
        prepared.prepared_export_build(export_id=export.pk)
    assert _stored() == []


def test_an_export_whose_worker_died_after_writing_loses_its_file_with_its_state(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    export = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    written: list[str] = []
    write = prepared._write

    def killed(export: PreparedExport, *args: Any) -> Any:
        write(export, *args)
        written.append(PreparedExport.objects.get(pk=export.pk).file_name)
        # Killed here: nothing of the worker runs after this point.
        monkeypatch.setattr(default_storage, "delete", lambda name: None)
        raise SystemExit

    monkeypatch.setattr(prepared, "_write", killed)
    with pytest.raises(SystemExit):
        prepared.prepared_export_build(export_id=export.pk)
    monkeypatch.undo()
    export.refresh_from_db()
    # The running export names the file it was writing.
    assert export.state == S.RUNNING and export.file_name == written[0]
    assert default_storage.exists(written[0])
    assert export.started_at is not None
    prepared.prepared_exports_purge(
        now=export.started_at + timedelta(seconds=prepared.TASK_TIMEOUT + 60)
    )
    export.refresh_from_db()
    assert (export.state, export.file_name) == (S.FAILED, "")
    assert _stored() == []


def test_the_purge_deletes_the_files_no_export_names(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    settings: Any,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings.EXPORT_XLSX_INLINE_MAX_ROWS = 0
    kept = _built(_request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks))
    gone = _built(
        _request(
            client,
            supervisor_user,
            dispatch,
            django_capture_on_commit_callbacks,
            query="esito=unreachable",
        )
    )
    assert sorted(_stored()) == sorted(
        name.rsplit("/", 1)[1] for name in (kept.file_name, gone.file_name)
    )
    # Its export deleted without a word to the file (a database cascade from its user,
    # organization or dispatch): the file has no row to name it.
    PreparedExport.objects.filter(pk=gone.pk).delete()
    # Not while a build could still be writing it.
    assert prepared.prepared_exports_purge() == 0
    assert default_storage.exists(gone.file_name)
    later = timezone.now() + timedelta(seconds=prepared.TASK_TIMEOUT + 60)
    assert prepared.prepared_exports_purge(now=later) == 1
    assert not default_storage.exists(gone.file_name)
    assert default_storage.exists(kept.file_name)
    assert _download(client, kept).status_code == 200


def test_a_failure_is_stored_untranslated_and_told_in_the_readers_language(
    client: Client,
    supervisor_user: User,
    dispatch: Dispatch,
    enqueued: list[int],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # The file is prepared in the requester's language (here English).
    client.cookies["django_language"] = "en"
    export = _request(client, supervisor_user, dispatch, django_capture_on_commit_callbacks)
    PreparedExport.objects.filter(pk=export.pk).update(
        parameters={**export.parameters, "language": "en"}
    )
    Membership.objects.filter(user=supervisor_user).update(role=Membership.Role.OPERATOR)
    assert prepared.prepared_export_build(export_id=export.pk) == S.FAILED
    export.refresh_from_db()
    assert export.failure_reason == "Chi ha chiesto il file non può più esportare queste consegne."
    with translation.override("it"):
        assert export.failure_text == export.failure_reason
    with translation.override("en"):
        assert export.failure_text == (
            "The person who asked for the file may no longer export these deliveries."
        )
    with translation.override("it"):
        page = render_to_string("reports/_prepared_status.html", {"export": export})
    assert "Chi ha chiesto il file" in page
