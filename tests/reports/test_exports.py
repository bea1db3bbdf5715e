"""Exports of deliveries as CSV and XLSX: content, formula safety, access, audit, streaming,
and the search export's filter."""

import csv
import io
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core import spreadsheets
from ioportal.core.fiscalcode import mask_fiscal_code
from ioportal.core.models import AuditEvent
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.recipients.services import csv_safe
from ioportal.reports import exports
from ioportal.sending import outcomes
from tests import builders
from tests.conftest import citizen_search, verified_login

OTHER_CITIZEN = "VRDGPP75C15F205S"
THIRD_CITIZEN = "XXXMRA80A01H501D"
CREATED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)  # 10:00 in Rome (CET)
SUBMITTED = datetime(2026, 3, 1, 9, 1, 5, tzinfo=UTC)
PROCESSED = datetime(2026, 3, 1, 9, 2, tzinfo=UTC)
READ = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)  # 10:30 in Rome (CEST)
PAID = datetime(2026, 7, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def dispatch(organization: Organization, supervisor_user: User) -> Dispatch:
    """A finished dispatch: a delivered Premium message read and paid, a citizen not on IO,
    a failure with an unknown code whose detail looks like a formula."""
    service = builders.service(organization)
    created = builders.dispatch(
        service,
        supervisor_user,
        [builders.CITIZEN, OTHER_CITIZEN, THIRD_CITIZEN],
        state=Dispatch.State.COMPLETED,
        title="TARI 2026",
    )
    rows = {d.row_number: d for d in created.deliveries.all()}
    Delivery.objects.filter(pk=rows[1].pk).update(
        state=Delivery.State.PROCESSED,
        io_message_id="01JABCDEFGHJKMNPQRSTVWXY01",
        read_status="READ",
        payment_status="PAID",
        payment_amount=123456,
        notice_number="012345678901234567",
        created_at=CREATED,
        submitted_at=SUBMITTED,
        finished_at=PROCESSED,
        read_at=READ,
        paid_at=PAID,
    )
    Delivery.objects.filter(pk=rows[2].pk).update(
        state=Delivery.State.SKIPPED,
        skip_reason=outcomes.NOT_ON_IO,
        created_at=CREATED,
        finished_at=PROCESSED,
    )
    Delivery.objects.filter(pk=rows[3].pk).update(
        state=Delivery.State.FAILED,
        last_error_code="something_new",
        last_error_parts=[{"raw": '=HYPERLINK("http://x")'}],
        io_message_id=None,
        notice_number="\uff1d1+1",
        created_at=CREATED,
        finished_at=PROCESSED,
    )
    return created


def _csv(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:]), delimiter=";"))


def _xlsx(response: Any) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def _url(kind: str, dispatch: Dispatch) -> str:
    return reverse(f"reports:dispatch_deliveries_{kind}", args=[dispatch.public_id])


def test_dispatch_csv_has_the_words_times_and_amounts(
    client: Client, supervisor_user: User, dispatch: Dispatch
) -> None:
    verified_login(client, supervisor_user)
    response = client.get(_url("csv", dispatch))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="esiti-tari-2026.csv"'
    rows = _csv(response)
    assert rows[0] == [
        "riga",
        "codice fiscale",
        "stato",
        "esito",
        "creato il",
        "accettato da IO il",
        "consegnato il",
        "letto il",
        "pagato il",
        "id messaggio IO",
        "lettura",
        "pagamento",
        "importo (euro)",
        "numero avviso",
        "aperto",
        "allegati scaricati",
    ]
    delivered, skipped, failed = rows[1:]
    masked = Delivery.objects.get(dispatch=dispatch, row_number=1).fiscal_code_masked
    assert delivered == [
        "1",
        masked,
        "Consegnato",
        "Consegnato nell'app IO del cittadino.",
        "01/03/2026 10:00:00",
        "01/03/2026 10:01:05",
        "01/03/2026 10:02:00",
        "01/07/2026 10:30:00",
        "02/07/2026 17:00:00",
        "01JABCDEFGHJKMNPQRSTVWXY01",
        "letto",
        "pagato",
        "1234,56",
        "012345678901234567",
        "no",
        "no",
    ]
    assert skipped[2] == "Non raggiungibile"
    # The reason a message was not sent is its outcome, in one column: no other cell of the
    # row repeats it.
    assert skipped[3] == str(outcomes.TEXTS[outcomes.NOT_ON_IO]) != ""
    assert skipped.count(skipped[3]) == 1
    assert skipped[6] == ""  # processed time only for delivered messages
    assert failed[2] == "Non riuscito"
    assert all(len(row) == len(rows[0]) for row in rows)
    body = "".join(";".join(row) for row in rows)
    assert builders.CITIZEN not in body and OTHER_CITIZEN not in body


def test_cells_that_look_like_formulas_are_guarded_in_csv_and_kept_in_xlsx(
    client: Client, supervisor_user: User, dispatch: Dispatch
) -> None:
    verified_login(client, supervisor_user)
    failed = _csv(client.get(_url("csv", dispatch)))[3]
    assert failed[3] == '\'=HYPERLINK("http://x")'
    assert failed[13] == "'\uff1d1+1"
    # In the XLSX a text cell is a string, never a formula: kept as it is, with Excel's quote
    # prefix (no `'` added to the value).
    sheet = _xlsx(client.get(_url("xlsx", dispatch))).worksheets[0]
    assert sheet["D4"].value == '=HYPERLINK("http://x")'
    assert sheet["D4"].data_type == "s" and sheet["D4"].quotePrefix
    assert sheet["N4"].value == "\uff1d1+1" and sheet["N4"].quotePrefix
    assert not sheet["C4"].quotePrefix


@pytest.mark.parametrize(
    "value", ["=1", "+1", "-1", "@A1", "\t1", "\r1", "\uff1d1", "\uff0b1", "\uff0d1", "\uff201"]
)
def test_csv_safe_neutralises_ascii_and_full_width_signs(value: str) -> None:
    assert csv_safe(value) == "'" + value
    assert csv_safe("a" + value) == "a" + value


def test_dispatch_xlsx_has_dates_numbers_and_the_same_words(
    client: Client, supervisor_user: User, dispatch: Dispatch
) -> None:
    verified_login(client, supervisor_user)
    response = client.get(_url("xlsx", dispatch))
    assert response.status_code == 200
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    workbook = _xlsx(response)
    assert workbook.sheetnames == ["Consegne"]
    sheet = workbook.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == exports.header(with_dispatch=False)
    assert sheet["A1"].font.b
    delivered = rows[1]
    assert delivered[0] == 1
    assert delivered[2:4] == ("Consegnato", "Consegnato nell'app IO del cittadino.")
    assert delivered[4] == datetime(2026, 3, 1, 10, 0)
    assert delivered[7] == datetime(2026, 7, 1, 10, 30)
    assert delivered[8] == datetime(2026, 7, 2, 17, 0)
    assert delivered[10:13] == ("letto", "pagato", 1234.56)
    assert sheet["E2"].number_format == "dd/mm/yyyy hh:mm:ss"
    assert sheet["M2"].data_type == "n" and sheet["M2"].number_format == "#,##0.00"
    # 18 digits stay text: as a number Excel would keep 15 of them.
    assert sheet["N2"].value == "012345678901234567" and sheet["N2"].data_type == "s"
    assert sheet["N2"].number_format == "@"
    assert sheet.freeze_panes == "A2"
    assert rows[2][3] == str(outcomes.TEXTS[outcomes.NOT_ON_IO])
    assert list(rows[2]).count(rows[2][3]) == 1
    assert rows[2][6] is None
    assert len(rows) == 4


def test_xlsx_continues_on_a_new_sheet_past_the_row_limit(
    client: Client, supervisor_user: User, dispatch: Dispatch, monkeypatch: Any
) -> None:
    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 2)
    verified_login(client, supervisor_user)
    workbook = _xlsx(client.get(_url("xlsx", dispatch)))
    assert workbook.sheetnames == ["Consegne", "Consegne (2)"]
    first, second = (list(s.iter_rows(values_only=True)) for s in workbook.worksheets)
    assert [r[0] for r in first] == ["riga", 1, 2]
    assert [r[0] for r in second] == ["riga", 3]


def test_an_empty_dispatch_gives_the_header_alone(
    client: Client, supervisor_user: User, organization: Organization
) -> None:
    empty = builders.dispatch(builders.service(organization), supervisor_user)
    verified_login(client, supervisor_user)
    assert _csv(client.get(_url("csv", empty)))[1:] == []
    rows = list(_xlsx(client.get(_url("xlsx", empty))).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 1


def test_the_outcome_filter_of_the_dispatch_page_applies(
    client: Client, supervisor_user: User, dispatch: Dispatch
) -> None:
    verified_login(client, supervisor_user)
    rows = _csv(client.get(_url("csv", dispatch) + "?esito=unreachable"))
    assert [row[0] for row in rows[1:]] == ["2"]
    filtered = client.get(_url("csv", dispatch) + "?esito=unreachable")
    assert filtered["Content-Disposition"].endswith('-non-raggiungibili.csv"')
    # An unknown outcome is refused (tests/reports/test_prepared_exports.py), never "all".
    refused = client.get(_url("csv", dispatch) + "?esito=nonsense")
    assert refused.status_code == 302
    events = AuditEvent.objects.filter(action="export.dispatch_deliveries")
    assert [event.changes["esito"] for event in events] == ["unreachable"] * 2


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_each_download_is_audited_with_its_count_and_no_personal_data(
    kind: str, client: Client, supervisor_user: User, dispatch: Dispatch
) -> None:
    verified_login(client, supervisor_user)
    b"".join(client.get(_url(kind, dispatch) + "?esito=unreachable").streaming_content)
    event = AuditEvent.objects.get(action="export.dispatch_deliveries")
    assert event.actor == supervisor_user
    assert event.organization_id == dispatch.organization_id
    assert event.target_id == str(dispatch.public_id)
    assert event.changes == {"rows": 1, "format": kind, "esito": "unreachable"}


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_access_follows_the_dispatch_rule(
    kind: str,
    client: Client,
    organization: Organization,
    other_organization: Organization,
    dispatch: Dispatch,
) -> None:
    url = _url(kind, dispatch)
    for role, status in (
        # An operator who did not create it does not see it: 404, as the dispatch page.
        (Membership.Role.OPERATOR, 404),
        (Membership.Role.SUPERVISOR, 200),
        (Membership.Role.ADMIN, 200),
    ):
        verified_login(client, builders.user(role, organization))
        assert client.get(url).status_code == status, role
    verified_login(client, builders.user(Membership.Role.ADMIN, other_organization))
    assert client.get(url).status_code == 404
    assert AuditEvent.objects.filter(action="export.dispatch_deliveries").count() == 2


def test_the_csv_is_streamed_in_chunks(
    client: Client, supervisor_user: User, dispatch: Dispatch, monkeypatch: Any
) -> None:
    monkeypatch.setattr(exports, "FLUSH_ROWS", 1)
    verified_login(client, supervisor_user)
    response = client.get(_url("csv", dispatch))
    assert isinstance(response, StreamingHttpResponse)
    assert response.streaming and not hasattr(response, "_container")
    chunks = [chunk for chunk in response.streaming_content if chunk]
    assert len(chunks) >= 3  # a chunk per row at least, not one body built beforehand
    # The header alone first, before any row is read.
    assert (
        chunks[0].decode("utf-8")
        == "\ufeff"
        + '"riga";"codice fiscale";'
        + (";".join(f'"{t}"' for t in exports.header(with_dispatch=False)[2:]))
        + "\r\n"
    )


def test_the_xlsx_is_sent_in_chunks_from_a_temporary_file_closed_at_the_end(
    client: Client, supervisor_user: User, dispatch: Dispatch, monkeypatch: Any
) -> None:
    monkeypatch.setattr(spreadsheets, "CHUNK_BYTES", 1024)
    files: list[Any] = []
    write = exports.write_xlsx

    def spy(*args: Any, **kwargs: Any) -> Any:
        files.append(write(*args, **kwargs))
        return files[-1]

    monkeypatch.setattr(exports, "write_xlsx", spy)
    verified_login(client, supervisor_user)
    response = client.get(_url("xlsx", dispatch))
    assert isinstance(response, FileResponse)
    assert response["Content-Disposition"] == 'attachment; filename="esiti-tari-2026.xlsx"'
    assert response["Cache-Control"] == "no-store"
    [file] = files
    assert not file.closed
    chunks = list(response.streaming_content)
    assert chunks[0].startswith(b"PK\x03\x04")
    assert len(chunks) >= 3 and all(len(chunk) <= 1024 for chunk in chunks)
    assert int(response["Content-Length"]) == sum(len(chunk) for chunk in chunks)
    response.close()
    assert file.closed  # a temporary file: deleted once closed


def test_rows_are_read_with_a_bounded_iterator(monkeypatch: Any, dispatch: Dispatch) -> None:
    sizes: list[int | None] = []
    original = exports.QuerySet.iterator

    def spy(self: Any, chunk_size: int | None = None) -> Any:
        sizes.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(exports.QuerySet, "iterator", spy)
    rows = exports.delivery_rows(Delivery.objects.filter(dispatch=dispatch), with_dispatch=False)
    assert len(list(rows)) == 3
    assert sizes == [exports.CHUNK_SIZE]


def test_the_export_describes_outcomes_like_the_pages(dispatch: Dispatch) -> None:
    describe = outcomes.outcome_describer()
    for delivery in Delivery.objects.filter(dispatch=dispatch):
        args = (
            delivery.state,
            delivery.skip_reason,
            delivery.last_error_code,
            delivery.last_error_parts,
        )
        assert describe(*args) == outcomes.describe_delivery(delivery)


# --- the search by fiscal code ---------------------------------------------------------------


@pytest.fixture
def searched(
    organization: Organization, other_organization: Organization, supervisor_user: User
) -> list[Dispatch]:
    """The citizen in two dispatches of the organization and one of another organization;
    another citizen in the first."""
    service = builders.service(organization)
    first = builders.dispatch(
        service, supervisor_user, [builders.CITIZEN, OTHER_CITIZEN], title="=Primo"
    )
    second = builders.dispatch(service, supervisor_user, [builders.CITIZEN], title="Secondo")
    stranger = builders.user(Membership.Role.ADMIN, other_organization)
    builders.dispatch(
        builders.service(other_organization), stranger, [builders.CITIZEN], title="Altrove"
    )
    return [first, second]


def _search_url(client: Client, kind: str, code: str = builders.CITIZEN) -> str:
    return reverse(f"reports:search_deliveries_{kind}", args=[citizen_search(client, code)])


def test_search_export_has_exactly_the_search_results(
    client: Client, supervisor_user: User, searched: list[Dispatch]
) -> None:
    verified_login(client, supervisor_user)
    reference = citizen_search(client, builders.CITIZEN)
    page = client.get(reverse("sending:delivery_search_results", args=[reference]))
    csv_url = reverse("reports:search_deliveries_csv", args=[reference])
    xlsx_url = reverse("reports:search_deliveries_xlsx", args=[reference])
    assert csv_url in page.content.decode() and xlsx_url in page.content.decode()
    assert builders.CITIZEN not in csv_url + xlsx_url
    rows = _csv(client.get(csv_url))
    assert rows[0][:3] == ["invio", "servizio", "riga"]
    assert sorted(row[0] for row in rows[1:]) == ["'=Primo", "Secondo"]
    sheet = _xlsx(client.get(xlsx_url)).worksheets[0]
    assert sorted(r[0] for r in sheet.iter_rows(min_row=2, values_only=True)) == [
        "=Primo",  # a string cell, never a formula: as it is
        "Secondo",
    ]
    events = AuditEvent.objects.filter(action="export.search_results")
    assert [e.changes["rows"] for e in events] == [2, 2]
    assert all(builders.CITIZEN not in str(e.changes) + e.target_label for e in events)


def test_a_search_and_its_export_without_results_record_the_masked_code(
    client: Client, supervisor_user: User, searched: list[Dispatch]
) -> None:
    """The audit says whom the search was for even when nobody was found, masked as with
    results (never "—", never the code)."""
    verified_login(client, supervisor_user)
    assert not Delivery.objects.filter(fiscal_code_masked=mask_fiscal_code(THIRD_CITIZEN))
    reference = citizen_search(client, THIRD_CITIZEN)
    page = client.get(reverse("sending:delivery_search_results", args=[reference]))
    assert "0 messaggi trovati" in page.content.decode()
    rows = _csv(client.get(reverse("reports:search_deliveries_csv", args=[reference])))
    assert len(rows) == 1  # the header only
    searched_event = AuditEvent.objects.get(action="delivery.searched")
    exported = AuditEvent.objects.get(action="export.search_results")
    assert searched_event.changes == {"results": 0} and exported.changes["rows"] == 0
    for event in (searched_event, exported):
        assert event.target_label == mask_fiscal_code(THIRD_CITIZEN) == "XXX************D"
    # With results, the same masking.
    with_results = citizen_search(client, builders.CITIZEN)
    client.get(reverse("sending:delivery_search_results", args=[with_results]))
    event = AuditEvent.objects.filter(action="delivery.searched").latest("id")
    assert event.target_label == mask_fiscal_code(builders.CITIZEN)
    assert event.target_label == searched[0].deliveries.get(row_number=1).fiscal_code_masked


def test_search_export_of_an_unknown_search_goes_back_to_the_search(
    client: Client, supervisor_user: User, searched: list[Dispatch]
) -> None:
    verified_login(client, supervisor_user)
    for kind in ("csv", "xlsx"):
        response = client.get(reverse(f"reports:search_deliveries_{kind}", args=["inventato"]))
        assert response.status_code == 302
        assert response["Location"] == reverse("sending:delivery_search")
    # The code in the query, as the old links had it, is no search.
    old = reverse("reports:search_deliveries_csv", args=["inventato"])
    assert client.get(f"{old}?codice_fiscale={builders.CITIZEN}").status_code == 302
    assert not AuditEvent.objects.filter(action="export.search_results").exists()


def test_search_export_is_for_supervisors(
    client: Client, organization: Organization, supervisor_user: User, searched: list[Dispatch]
) -> None:
    verified_login(client, supervisor_user)
    csv_url, xlsx_url = _search_url(client, "csv"), _search_url(client, "xlsx")
    # The same session, its member now an operator.
    Membership.objects.filter(user=supervisor_user).update(role=Membership.Role.OPERATOR)
    assert client.get(csv_url).status_code == 403
    assert client.get(xlsx_url).status_code == 403


def test_the_export_speaks_the_language_of_the_request(
    client: Client, supervisor_user: User, dispatch: Dispatch
) -> None:
    verified_login(client, supervisor_user)
    rows = _csv(client.get(_url("csv", dispatch), HTTP_ACCEPT_LANGUAGE="en"))
    with translation.override("en"):
        assert rows[0][:3] == [gettext("riga"), gettext("codice fiscale"), gettext("stato")]
        assert rows[1][2] == str(Delivery.State.PROCESSED.label) != "Consegnato"


def test_in_english_the_csv_writes_amounts_with_a_point_and_the_file_has_an_english_name(
    client: Client, supervisor_user: User, dispatch: Dispatch
) -> None:
    verified_login(client, supervisor_user)
    italian = _csv(client.get(_url("csv", dispatch)))
    assert italian[1][12] == "1234,56"
    response = client.get(_url("csv", dispatch), HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Disposition"] == 'attachment; filename="outcomes-tari-2026.csv"'
    rows = _csv(response)
    assert rows[1][12] == "1234.56"
    xlsx = client.get(_url("xlsx", dispatch), HTTP_ACCEPT_LANGUAGE="en")
    assert xlsx["Content-Disposition"] == 'attachment; filename="outcomes-tari-2026.xlsx"'


def test_the_file_name_keeps_the_words_of_a_title_apart(
    client: Client, supervisor_user: User, dispatch: Dispatch
) -> None:
    # A dispatch's title names its list's file: "imu.csv" must not become "imucsv".
    dispatch.title = "TARI – accertamento-imu.csv"
    dispatch.save(update_fields=["title"])
    verified_login(client, supervisor_user)
    response = client.get(_url("xlsx", dispatch))
    assert response["Content-Disposition"] == (
        'attachment; filename="esiti-tari-accertamento-imu-csv.xlsx"'
    )
