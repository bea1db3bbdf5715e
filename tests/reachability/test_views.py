"""Reachability pages: upload, detail, progress, list, downloads; access by organization and
role; fiscal codes masked for operators, in clear only for supervisors and admins; every
download audited."""

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from ioportal.accounts.models import Membership, Organization
from ioportal.core.models import AuditEvent
from ioportal.reachability.audit import Action
from ioportal.reachability.models import ReachabilityCheck, ReachabilityRow
from ioportal.reachability.services import reachability_checks_purge_expired, refresh_counts
from ioportal.reachability.views import CONTENT_TYPES
from ioportal.recipients.models import PendingUpload
from ioportal.recipients.services import pending_upload_store
from tests import builders
from tests.conftest import verified_login
from tests.sending.support import fiscal_code, simulated_service

pytestmark = pytest.mark.django_db

NORMAL = fiscal_code("RSSMRA80A01H501")
BLOCKED = fiscal_code("YYYMRA80A01H501")


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        "ioportal.reachability.services.async_task", lambda *a, **k: calls.append(a)
    )
    return calls


@pytest.fixture
def service(organization: Organization) -> Any:
    return builders.service(organization, **simulated_service(""))


@pytest.fixture
def check(service: Any, operator_user: Any) -> ReachabilityCheck:
    created = builders.reachability_check(service, operator_user, [NORMAL, BLOCKED])
    ReachabilityRow.objects.filter(check_run=created, fiscal_code_hmac__isnull=False).update(
        result=ReachabilityRow.Result.REACHABLE
    )
    ReachabilityRow.objects.filter(check_run=created, line=3).update(
        result=ReachabilityRow.Result.BLOCKED
    )
    created.rejected = [{"line": 4, "reasons": ["Codice fiscale «RSS***»: non valido."]}]
    created.state = ReachabilityCheck.State.DONE
    created.save()
    refresh_counts(created)
    return created


def check_date(check: ReachabilityCheck) -> str:
    return f"{timezone.localtime(check.created_at):%Y-%m-%d}"


def client_for(user: Any) -> Client:
    return verified_login(Client(), user)


def url(name: str, check: ReachabilityCheck, *args: str) -> str:
    return reverse(f"reachability:{name}", args=[check.public_id, *args])


def test_upload_creates_a_check_and_starts_it(
    service: Any,
    operator_user: Any,
    enqueued: list[tuple[Any, ...]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_for(operator_user)
    page = client.get(reverse("reachability:check_new"))
    assert page.status_code == 200 and service.name in page.content.decode()
    upload = SimpleUploadedFile(
        "elenco.csv", f"codice_fiscale\n{NORMAL}\nRSSMRA80A01H501X\n".encode(), "text/csv"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("reachability:check_new"), {"service": service.pk, "file": upload}
        )
    check = ReachabilityCheck.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("check_detail", check)
    assert check.total == 1 and len(check.rejected) == 1 and check.created_by == operator_user
    assert enqueued == [("ioportal.reachability.tasks.run_check", check.pk)]
    assert AuditEvent.objects.filter(action=Action.CHECK_CREATED, target_id=check.public_id)


def test_upload_problems_are_told_in_italian(service: Any, operator_user: Any) -> None:
    client = client_for(operator_user)
    cases = [
        ("vuoto.csv", b"", "vuoto"),
        ("solo-intestazione.csv", b"codice_fiscale\n", "non contiene righe di dati"),
        ("rotto.xlsx", b"PK\x03\x04nonsense", "alert-danger"),
    ]
    for name, data, hint in cases:
        response = client.post(
            reverse("reachability:check_new"),
            {"service": service.pk, "file": SimpleUploadedFile(name, data)},
        )
        assert response.status_code == 200
        text = response.content.decode()
        assert "Il file non è stato caricato" in text and hint in text, name
    assert not ReachabilityCheck.objects.exists()


def test_upload_refuses_a_service_of_another_organization(
    operator_user: Any, other_organization: Organization
) -> None:
    foreign = builders.service(other_organization)
    upload = SimpleUploadedFile("elenco.csv", f"cf\n{NORMAL}\n".encode())
    response = client_for(operator_user).post(
        reverse("reachability:check_new"), {"service": foreign.pk, "file": upload}
    )
    assert response.status_code == 200 and not ReachabilityCheck.objects.exists()


def test_detail_progress_and_list(check: ReachabilityCheck, operator_user: Any) -> None:
    client = client_for(operator_user)
    detail = client.get(url("check_detail", check)).content.decode()
    assert 'data-result="reachable">1<' in detail and 'data-result="blocked">1<' in detail
    assert "2 di 2 cittadini verificati" in detail and "hx-trigger" not in detail
    assert NORMAL not in detail and "in chiaro" not in detail
    assert "1 riga scartata" in detail
    progress = client.get(url("check_progress", check))
    assert progress.status_code == 200 and "check-counts" in progress.content.decode()
    listing = client.get(reverse("reachability:check_list")).content.decode()
    assert url("check_detail", check) in listing


def test_running_check_page_polls_itself(service: Any, operator_user: Any) -> None:
    check = builders.reachability_check(service, operator_user, [NORMAL])
    text = client_for(operator_user).get(url("check_detail", check)).content.decode()
    assert 'hx-trigger="every 3s"' in text and url("check_progress", check) in text


def test_other_organization_gets_404(
    check: ReachabilityCheck, other_organization: Organization
) -> None:
    client = client_for(builders.user(Membership.Role.ADMIN, other_organization))
    for name, args in (
        ("check_detail", ()),
        ("check_progress", ()),
        ("check_export", ("csv",)),
        ("check_export", ("xlsx",)),
    ):
        assert client.get(url(name, check, *args)).status_code == 404
    assert (
        url("check_detail", check)
        not in client.get(reverse("reachability:check_list")).content.decode()
    )
    assert client.get("/verifiche/non-un-uuid/").status_code == 404
    assert client.get(url("check_export", check, "pdf")).status_code == 404


def test_operators_see_only_their_own_checks(check: ReachabilityCheck, organization: Any) -> None:
    colleague = builders.user(Membership.Role.OPERATOR, organization)
    client = client_for(colleague)
    assert client.get(url("check_detail", check)).status_code == 403
    assert client.get(url("check_export", check, "csv")).status_code == 403
    assert (
        url("check_detail", check)
        not in client.get(reverse("reachability:check_list")).content.decode()
    )


def test_no_membership_is_refused(check: ReachabilityCheck) -> None:
    stranger = builders.user()
    client = client_for(stranger)
    assert client.get(reverse("reachability:check_list")).status_code in (302, 403)
    assert client.get(url("check_detail", check)).status_code in (302, 403, 404)


def read_csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def body(response: Any) -> bytes:
    """A download's bytes: files are sent in chunks (FileResponse)."""
    return b"".join(response.streaming_content)


def test_operator_downloads_masked_codes_and_each_download_is_audited(
    check: ReachabilityCheck, operator_user: Any
) -> None:
    client = client_for(operator_user)
    response = client.get(url("check_export", check, "csv"))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == (
        f'attachment; filename="verifica-raggiungibilita-{check_date(check)}.csv"'
    )
    content = body(response)
    lines = read_csv(content)
    assert lines[0][:3] == ["Riga del file", "Codice fiscale", "Esito"]
    assert [line[0] for line in lines[1:]] == ["2", "3", "4"]
    assert NORMAL not in content.decode("utf-8-sig")
    assert lines[1][2] == "Raggiungibile" and lines[2][2] == "Ha bloccato il servizio"
    assert lines[3][2] == "Scartato"
    assert client.post(url("check_export", check, "csv"), {"in_chiaro": "1"}).status_code == 403
    xlsx = client.get(url("check_export", check, "xlsx"))
    assert xlsx["Content-Type"] == CONTENT_TYPES["xlsx"]
    workbook = load_workbook(io.BytesIO(body(xlsx)))
    assert workbook.sheetnames == ["Esito"]
    sheet = workbook.active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["Riga del file", "Codice fiscale", "Esito"]
    assert [row[0] for row in values[1:]] == [2, 3, 4]  # numbers, as the delivery export's
    assert all(
        c.data_type == "s" for row in sheet.iter_rows(min_row=2) for c in row[1:4] if c.value
    )
    assert values[1][1] == check.rows.get(line=2).fiscal_code_masked
    assert values[3][2] == "Scartato"
    events = AuditEvent.objects.filter(action=Action.RESULT_EXPORTED, target_id=check.public_id)
    assert [e.changes["format"] for e in events.order_by("id")] == ["csv", "xlsx"]
    assert not any(e.changes["in_clear"] for e in events)


def test_xlsx_rows_are_numbers_and_check_times_excel_dates(
    check: ReachabilityCheck, operator_user: Any
) -> None:
    checked = timezone.make_aware(datetime(2026, 3, 14, 9, 26, 53))  # the portal's time zone
    check.rows.filter(line=2).update(checked_at=checked)
    client = client_for(operator_user)
    sheet = load_workbook(io.BytesIO(body(client.get(url("check_export", check, "xlsx"))))).active
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert sorted(rows) == [2, 3, 4] and all(row[0].data_type == "n" for row in rows.values())
    assert rows[2][4].value == datetime(2026, 3, 14, 9, 26, 53) and rows[2][4].is_date
    assert rows[2][4].number_format == "dd/mm/yyyy hh:mm:ss"
    assert rows[3][4].value is None and rows[4][4].value is None
    # The CSV shows the same time as the user's language writes it.
    lines = read_csv(body(client.get(url("check_export", check, "csv"))))
    assert lines[1][0] == "2" and lines[1][4] == "14/03/2026 09:26"


@pytest.mark.parametrize("role", [Membership.Role.SUPERVISOR, Membership.Role.ADMIN])
def test_supervisors_and_admins_download_codes_in_clear(
    check: ReachabilityCheck, organization: Organization, role: str
) -> None:
    client = client_for(builders.user(role, organization))
    detail = client.get(url("check_detail", check)).content.decode()
    assert "in chiaro" in detail
    assert 'name="in_chiaro"' in detail and "?in_chiaro=1" not in detail
    # A plain link (GET) never gives the codes in clear.
    refused = client.get(url("check_export", check, "xlsx") + "?in_chiaro=1")
    assert refused.status_code == 405 and NORMAL.encode() not in refused.content
    assert "Questa pagina si apre solo dal pulsante" in refused.content.decode()
    response = client.post(url("check_export", check, "xlsx"), {"in_chiaro": "1"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(body(response))).active
    codes = [row[1].value for row in sheet.iter_rows(min_row=2)]
    assert codes[:2] == [NORMAL, BLOCKED]
    event = AuditEvent.objects.get(action=Action.RESULT_EXPORTED)
    assert event.changes["in_clear"] is True and event.changes["format"] == "xlsx"


def test_rows_are_purged_after_the_retention_period_counts_and_audit_stay(
    check: ReachabilityCheck, operator_user: Any, organization: Organization
) -> None:
    organization.retention_days = 30
    organization.save()
    check.finished_at = timezone.now() - timedelta(days=29)
    check.save()
    client = client_for(operator_user)
    assert "check-retention" in client.get(url("check_detail", check)).content.decode()
    assert reachability_checks_purge_expired() == 0
    assert check.rows.count() == 2

    later = timezone.now() + timedelta(days=2)
    assert reachability_checks_purge_expired(now=later) == 1
    assert reachability_checks_purge_expired(now=later) == 0  # idempotent
    check.refresh_from_db()
    assert check.purged_at == later and not check.rows.exists()
    assert (check.reachable, check.blocked, check.total) == (1, 1, 2)
    event = AuditEvent.objects.get(action=Action.CHECK_PURGED)
    assert event.changes == {"rows": 2} and event.target_id == str(check.public_id)
    detail = client.get(url("check_detail", check)).content.decode()
    assert "check-purged" in detail and "check-downloads" not in detail
    assert 'data-result="reachable">1<' in detail
    assert client.get(url("check_export", check, "csv")).status_code == 404


def _two_questions_workbook() -> bytes:
    """Two sheets with data (the sheet is asked), the chosen one with a hidden row."""
    workbook = Workbook()
    notes = workbook.active
    notes.title = "Istruzioni"
    notes.append(["Non modificare il foglio Dati"])
    sheet = workbook.create_sheet("Dati")
    sheet.append(["codice_fiscale", "nome"])
    sheet.append([NORMAL, "Anna"])
    sheet.append([BLOCKED, "Bruno"])
    sheet.row_dimensions[3].hidden = True
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_upload_keeps_the_file_across_the_sheet_and_hidden_rows_questions(
    service: Any, operator_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(operator_user)
    upload = SimpleUploadedFile("elenco.xlsx", _two_questions_workbook())
    asked = client.post(reverse("reachability:check_new"), {"service": service.pk, "file": upload})
    page = asked.content.decode()
    assert asked.status_code == 200
    # The question names what this page's file holds and its button, and the file is kept.
    assert "scegli quello con i cittadini e premi «Avvia la verifica»" in page
    assert "destinatari" not in page
    # A question, not an upload error.
    assert (
        "Serve una scelta sul file: la domanda è qui sotto, al campo «Foglio con i cittadini»."
        in page
    )
    # Said once, under the field where the choice is made.
    assert page.count("Il file ha più fogli") == 1
    assert "Il file non è stato caricato" not in page
    assert "Carica e prosegui" not in page
    assert "«elenco.xlsx» è già caricato" in page
    kept = PendingUpload.objects.get()
    assert kept.created_by == operator_user
    pending_id = str(kept.public_id)
    assert f'value="{pending_id}"' in page

    # The sheet answered without selecting the file again: now the hidden row is asked.
    second = client.post(
        reverse("reachability:check_new"),
        {"service": service.pk, "pending_file": pending_id, "sheet": "Dati"},
    )
    page = second.content.decode()
    assert second.status_code == 200
    assert "Questo campo è obbligatorio" not in page
    assert "ha una riga nascosta (riga 3)" in page and "premi «Avvia la verifica»" in page
    assert '<select name="sheet"' not in page and 'name="sheet" value="Dati"' in page
    assert PendingUpload.objects.get().public_id == kept.public_id

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            reverse("reachability:check_new"),
            {
                "service": service.pk,
                "pending_file": pending_id,
                "sheet": "Dati",
                "hidden_rows": "exclude",
            },
        )
    assert done.status_code == 302, done.content.decode()[:3000]
    check = ReachabilityCheck.objects.get()
    assert check.total == 1 and check.source_name == "elenco.xlsx"
    assert not PendingUpload.objects.exists()


def test_upload_without_a_file_or_a_kept_one_asks_for_it(
    service: Any, operator_user: Any, organization: Organization
) -> None:
    client = client_for(operator_user)
    response = client.post(reverse("reachability:check_new"), {"service": service.pk})
    assert "Seleziona il file dei cittadini." in response.content.decode()
    # A colleague's kept file is not reachable.
    other = builders.user(Membership.Role.OPERATOR, organization)
    foreign = pending_upload_store(
        organization=organization,
        actor=other,
        file_name="altrui.csv",
        data=f"codice_fiscale\n{NORMAL}\n".encode(),
    )
    response = client.post(
        reverse("reachability:check_new"),
        {"service": service.pk, "pending_file": str(foreign.public_id)},
    )
    assert "non è più disponibile" in response.content.decode()
    assert not ReachabilityCheck.objects.exists()


def test_in_english_the_export_has_an_english_name(
    check: ReachabilityCheck, supervisor_user: Any
) -> None:
    client = client_for(supervisor_user)
    masked = client.get(url("check_export", check, "xlsx"), HTTP_ACCEPT_LANGUAGE="en")
    day = check_date(check)
    assert masked["Content-Disposition"] == f'attachment; filename="reachability-check-{day}.xlsx"'
    clear = client.post(
        url("check_export", check, "csv"), {"in_chiaro": "1"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert clear["Content-Disposition"] == (
        f'attachment; filename="reachability-check-{day}-in-clear.csv"'
    )


def test_a_pdf_renamed_csv_is_refused_as_a_pdf(service: Any, operator_user: Any) -> None:
    pdf = (Path(__file__).resolve().parents[2] / "docs/examples/accertamento-imu.pdf").read_bytes()
    response = client_for(operator_user).post(
        reverse("reachability:check_new"),
        {"service": service.pk, "file": SimpleUploadedFile("fake.csv", pdf)},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Il file è un documento PDF, non un elenco" in text
    assert "%PDF" not in text
    assert not ReachabilityCheck.objects.exists()


def test_each_export_is_named_after_its_check(check: ReachabilityCheck, operator_user: Any) -> None:
    """The uploaded file's name, or the check's date when it had none: two checks' exports
    do not share one name."""
    client = client_for(operator_user)
    check.source_name = "Elenco IMU 2026.xlsx"
    check.save(update_fields=["source_name"])
    response = client.get(url("check_export", check, "xlsx"))
    assert response["Content-Disposition"] == (
        'attachment; filename="verifica-raggiungibilita-elenco-imu-2026.xlsx"'
    )
    check.source_name = ""
    check.save(update_fields=["source_name"])
    english = client.get(url("check_export", check, "csv"), HTTP_ACCEPT_LANGUAGE="en")
    assert english["Content-Disposition"].endswith(f'-{check_date(check)}.csv"')
