"""The hand-off list: the citizens IO did not reach, by reason, in clear, as CSV and XLSX, for
supervisors and admins; every download audited; nothing once the personal data are purged."""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core.models import AuditEvent
from ioportal.core.spreadsheets import formula_safe
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.reports import handoff
from ioportal.sending import outcomes
from tests import builders
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db

S = Delivery.State
FINISHED_AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DUE = datetime(2026, 4, 30, 22, 0, tzinfo=UTC)  # 1 May in Italy
PLACEHOLDERS = [
    {"name": "nome", "type": "text", "required": True},
    {"name": "indirizzo", "type": "text", "required": False},
]

# (fiscal code, state, extra fields, values): one delivery per state (and per skip reason);
# row numbers follow the order.
DELIVERIES: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    ("RSSMRA80A01H501U", S.PROCESSED, {"io_message_id": "01JHANDOFF00000000000000001"}, {}),
    (
        "XXXMRA80A01H501D",
        S.SKIPPED,
        {"skip_reason": outcomes.NOT_ON_IO, "payment_amount": 123456},
        {"nome": "Anna Bianchi", "indirizzo": "Via Roma 1, Città di Castello"},
    ),
    (
        "YYYMRA80A01H501C",
        S.SKIPPED,
        {"skip_reason": outcomes.BLOCKED, "notice_number": "301000000000000012"},
        {"nome": '=HYPERLINK("http://esempio.invalid")', "indirizzo": "＝1+1"},
    ),
    (
        "VRDGPP75C15F205S",
        S.SKIPPED,
        {"skip_reason": outcomes.NOT_AUTHORIZED, "due_date": DUE},
        {"nome": "+39 333", "indirizzo": "@SOMMA(A1)"},
    ),
    (
        "BNCLCU90D45L219H",
        S.REJECTED,
        {"io_message_id": "01JHANDOFF00000000000000002"},
        {"nome": "-5", "indirizzo": "Piazza Garibaldi\u00002"},
    ),
    ("RSSMRA85T10A562S", S.SKIPPED, {"skip_reason": ""}, {"nome": "Senza motivo"}),
    (
        "MRTNNA70B41F205Y",
        S.FAILED,
        {"last_error_code": outcomes.CONTENT_REFUSED},
        {"nome": "Marta", "indirizzo": "Corso Italia 5"},
    ),
    ("PLLGNN60C10L219K", S.FAILED, {"last_error_code": outcomes.RETRIES_EXHAUSTED}, {}),
    ("CNTLRA82D50H501W", S.UNCERTAIN, {"last_error_code": outcomes.SERVER_ERROR}, {}),
    ("FRRLGU77E12F205Q", S.CANCELLED, {}, {}),
    ("GLLSFN88H20L219P", S.MARKED_SENT, {"skip_reason": outcomes.MARKED_SENT}, {}),
    ("SPSGNN66A01H501T", S.SUBMITTED, {"io_message_id": "01JHANDOFF00000000000000003"}, {}),
    ("RZZMRC79M05F205R", S.PENDING, {}, {}),
    ("CSTLSS91P55L219N", S.CHECKING, {}, {}),
    ("LMBGRG68R10H501S", S.READY, {}, {}),
    ("DLCPLA84S45F205M", S.RETRY_WAIT, {"last_error_code": outcomes.TRANSIENT}, {}),
    ("MNCFNC73T10L219J", S.SUBMITTING, {}, {}),
]


def _detail(code: str) -> str:
    return str(outcomes.TEXTS[code])


# The list, exactly, in the order of the rows: what the files hold (header left out). The
# detail is written only where it adds to the reason: why a message failed, or a citizen
# whose skip has no reason of its own. Values as the XLSX holds them; the CSV's formula guard
# is `in_csv`.
EXPECTED: dict[str, list[list[str]]] = {
    handoff.NOT_ON_IO: [
        [
            "2",
            "XXXMRA80A01H501D",
            "Anna Bianchi",
            "Via Roma 1, Città di Castello",
            "1.234,56",
            "",
            "",
            "Non usa IO",
            "",
        ]
    ],
    handoff.BLOCKED: [
        [
            "3",
            "YYYMRA80A01H501C",
            '=HYPERLINK("http://esempio.invalid")',
            "＝1+1",
            "",
            "301000000000000012",
            "",
            "Ha bloccato il servizio",
            "",
        ]
    ],
    handoff.NOT_AUTHORIZED: [
        [
            "4",
            "VRDGPP75C15F205S",
            "+39 333",
            "@SOMMA(A1)",
            "",
            "",
            "01/05/2026",
            "Non autorizzato (prova)",
            "",
        ]
    ],
    handoff.REJECTED: [
        [
            "5",
            "BNCLCU90D45L219H",
            "-5",
            "Piazza Garibaldi2",
            "",
            "",
            "",
            "Rifiutato da IO",
            "",
        ],
        [
            "6",
            "RSSMRA85T10A562S",
            "Senza motivo",
            "",
            "",
            "",
            "",
            "Rifiutato da IO",
            "Non raggiungibile",
        ],
    ],
    handoff.FAILED: [
        [
            "7",
            "MRTNNA70B41F205Y",
            "Marta",
            "Corso Italia 5",
            "",
            "",
            "",
            "Invio non riuscito",
            _detail(outcomes.CONTENT_REFUSED),
        ],
        [
            "8",
            "PLLGNN60C10L219K",
            "",
            "",
            "",
            "",
            "",
            "Invio non riuscito",
            _detail(outcomes.RETRIES_EXHAUSTED),
        ],
    ],
}
ALL_ROWS = sorted((row for rows in EXPECTED.values() for row in rows), key=lambda r: int(r[0]))


def in_csv(rows: list[list[str]]) -> list[list[str]]:
    """`rows` as the CSV holds them: a leading `'` before what looks like a formula."""
    return [[formula_safe(cell) for cell in row] for row in rows]


HEADER = [
    "Riga",
    "Codice fiscale",
    "nome",
    "indirizzo",
    "Importo (euro)",
    "Codice avviso pagoPA",
    "Scadenza",
    "Motivo",
    "Dettaglio",
]
SHEETS = [
    "Non usa IO",
    "Ha bloccato il servizio",
    "Non autorizzato (prova)",
    "Rifiutato da IO",
    "Invio non riuscito",
]


@pytest.fixture
def people(organization: Organization) -> dict[str, User]:
    other = builders.organization("Comune Altro", "00123450587")
    return {
        "operator": builders.user(Membership.Role.OPERATOR, organization, username="operatore"),
        "supervisor": builders.user(
            Membership.Role.SUPERVISOR, organization, username="supervisore"
        ),
        "admin": builders.user(Membership.Role.ADMIN, organization, username="amministratore"),
        "outsider": builders.user(Membership.Role.ADMIN, other, username="estraneo"),
    }


@pytest.fixture
def dispatch(organization: Organization, people: dict[str, User]) -> Dispatch:
    """A completed dispatch with one delivery in every state (DELIVERIES)."""
    service = builders.service(organization)
    created = builders.dispatch(
        service,
        people["operator"],
        state=Dispatch.State.COMPLETED,
        finished_at=FINISHED_AT,
        placeholders=PLACEHOLDERS,
    )
    for number, (code, state, fields, values) in enumerate(DELIVERIES, start=1):
        builders.delivery(created, code, row_number=number, state=state, variables=values, **fields)
    return created


def client_for(user: User) -> Client:
    return verified_login(Client(), user)


def page_url(dispatch: Dispatch) -> str:
    return reverse("reports:handoff", args=[dispatch.public_id])


def download(client: Client, dispatch: Dispatch, file_format: str, reason: str = "") -> Any:
    return client.post(
        reverse("reports:handoff_download", args=[dispatch.public_id]),
        {"formato": file_format, "motivo": reason},
    )


def csv_rows(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


def xlsx_sheets(response: Any) -> dict[str, list[list[str]]]:
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheets = {}
    for sheet in workbook.worksheets:
        assert sheet.freeze_panes == "A2" and sheet["A1"].font.b
        for row in sheet.iter_rows(min_row=2):
            # The row of the list a number, as in the delivery export.
            assert row[0].data_type == "n" and isinstance(row[0].value, int), row[0].coordinate
            for cell in row[1:]:
                # Text, never a formula nor a number (codes keep their digits).
                assert cell.data_type != "f", cell.coordinate
                assert cell.value is None or isinstance(cell.value, str), cell.coordinate
                assert cell.value is None or cell.number_format == "@", cell.coordinate
                # What looks like a formula is kept as it is, with Excel's quote prefix
                # (shown as typed, still text when edited), never a `'` added to the value.
                looks_like_formula = formula_safe(cell.value or "") != (cell.value or "")
                assert cell.quotePrefix == looks_like_formula, cell.coordinate
        # Compared with the CSV's texts: the row number as the CSV writes it.
        sheets[sheet.title] = [
            ["" if value is None else str(value) for value in row]
            for row in sheet.iter_rows(values_only=True)
        ]
    return sheets


# --- what is in the list --------------------------------------------------------------------


def test_counts_per_reason_leave_out_uncertain_cancelled_and_waiting(dispatch: Dispatch) -> None:
    counts = handoff.handoff_counts(dispatch=dispatch)
    assert counts == {
        handoff.NOT_ON_IO: 1,
        handoff.BLOCKED: 1,
        handoff.NOT_AUTHORIZED: 1,
        handoff.REJECTED: 2,
        handoff.FAILED: 2,
        "uncertain": 1,
        "total": 7,
    }


def test_the_csv_holds_exactly_the_unreached_citizens_in_clear(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    response = download(client_for(people["supervisor"]), dispatch, "csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    assert 'filename="non-raggiunti-tari-2026.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows == [HEADER, *in_csv(ALL_ROWS)]


def test_the_xlsx_has_one_sheet_per_reason_with_the_same_rows_as_the_csv(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    client = client_for(people["admin"])
    sheets = xlsx_sheets(download(client, dispatch, "xlsx"))
    assert list(sheets) == SHEETS
    for title, reason in zip(SHEETS, handoff.REASONS, strict=True):
        assert sheets[title] == [HEADER, *EXPECTED[reason.key]], title
    from_xlsx = sorted(
        (row for rows in sheets.values() for row in rows[1:]), key=lambda r: int(r[0])
    )
    assert from_xlsx == ALL_ROWS
    assert in_csv(from_xlsx) == csv_rows(download(client, dispatch, "csv"))[1:]


def test_every_sheet_is_there_even_when_a_reason_has_no_citizen(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    dispatch.deliveries.filter(state=S.FAILED).delete()
    sheets = xlsx_sheets(download(client_for(people["supervisor"]), dispatch, "xlsx"))
    assert list(sheets) == SHEETS
    assert sheets["Invio non riuscito"] == [HEADER]


@pytest.mark.parametrize("reason", list(EXPECTED))
def test_one_reason_alone(reason: str, dispatch: Dispatch, people: dict[str, User]) -> None:
    client = client_for(people["supervisor"])
    assert csv_rows(download(client, dispatch, "csv", reason)) == [
        HEADER,
        *in_csv(EXPECTED[reason]),
    ]
    sheets = xlsx_sheets(download(client, dispatch, "xlsx", reason))
    assert list(sheets.values()) == [[HEADER, *EXPECTED[reason]]]


def test_rows_are_read_in_chunks_and_keep_the_order_of_the_list(
    dispatch: Dispatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handoff, "CHUNK_SIZE", 2)
    rows = [cells for _reason, cells in handoff.handoff_rows(dispatch=dispatch)]
    assert [row[0] for row in rows] == [int(row[0]) for row in ALL_ROWS]
    assert [row[1:] for row in rows] == [row[1:] for row in ALL_ROWS]


def test_no_row_repeats_its_reason_in_the_detail(dispatch: Dispatch) -> None:
    said = {
        str(outcomes.TEXTS[outcomes.NOT_ON_IO]),
        str(outcomes.TEXTS[outcomes.BLOCKED]),
        str(outcomes.TEXTS[outcomes.NOT_AUTHORIZED]),
        str(outcomes.STATE_TEXTS[S.REJECTED]),
    }
    for reason, cells in handoff.handoff_rows(dispatch=dispatch):
        detail = cells[-1]
        assert detail not in said
        assert not detail or str(reason.label) not in detail
        if reason.key == handoff.FAILED:
            assert detail


def test_formula_looking_values_are_guarded_in_the_csv_and_kept_as_they_are_in_the_xlsx(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    client = client_for(people["supervisor"])
    blocked = csv_rows(download(client, dispatch, "csv", handoff.BLOCKED))[1]
    assert blocked[2:4] == ['\'=HYPERLINK("http://esempio.invalid")', "'＝1+1"]
    sheet = xlsx_sheets(download(client, dispatch, "xlsx", handoff.BLOCKED))
    assert sheet["Ha bloccato il servizio"][1][2:4] == [
        '=HYPERLINK("http://esempio.invalid")',
        "＝1+1",
    ]


def test_formula_looking_values_are_neutralised() -> None:
    for value in ("=1+1", "＝1+1", "+1", "＋1", "-1", "－1", "@A1", "＠A1", "\t=1"):
        assert handoff.safe_cell(value) == "'" + value
    assert handoff.safe_cell("Via Roma 1") == "Via Roma 1"
    assert handoff.safe_cell("a\x00b\x07c") == "abc"


def test_unreadable_data_leave_their_cells_empty_and_the_detail_says_why(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    target = Delivery.objects.get(dispatch=dispatch, row_number=2)
    with connection.cursor() as cursor:  # the field itself refuses to store such a value
        cursor.execute(
            f"UPDATE {Delivery._meta.db_table} SET fiscal_code_encrypted = %s, "  # noqa: S608
            "variables = %s WHERE id = %s",
            ["00000000:non-un-token", "00000000:nemmeno", target.pk],
        )
    rows = csv_rows(download(client_for(people["supervisor"]), dispatch, "csv", "not_on_io"))
    assert rows[1][:4] == ["2", "", "", ""]
    assert rows[1][-1].endswith("Dati non leggibili (chiave di cifratura errata).")


# --- who may see it -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"), [("supervisor", 200), ("admin", 200), ("operator", 403), ("outsider", 404)]
)
def test_only_supervisors_and_admins_of_the_organization(
    who: str, status: int, dispatch: Dispatch, people: dict[str, User]
) -> None:
    client = client_for(people[who])
    assert client.get(page_url(dispatch)).status_code == status
    for file_format in handoff.FORMATS:
        assert download(client, dispatch, file_format).status_code == status
    exported = AuditEvent.objects.filter(action="reports.handoff_exported").count()
    assert exported == (2 if status == 200 else 0)


def test_the_author_operator_is_refused_too(dispatch: Dispatch, people: dict[str, User]) -> None:
    assert dispatch.created_by == people["operator"]
    assert download(client_for(people["operator"]), dispatch, "csv", "not_on_io").status_code == 403


def test_downloads_take_post_only(dispatch: Dispatch, people: dict[str, User]) -> None:
    url = reverse("reports:handoff_download", args=[dispatch.public_id])
    assert client_for(people["supervisor"]).get(url).status_code == 405
    assert not AuditEvent.objects.filter(action="reports.handoff_exported").exists()


@pytest.mark.parametrize(
    "data", [{"formato": "pdf"}, {"formato": "csv", "motivo": "delivered"}, {}]
)
def test_a_hostile_choice_is_refused_with_a_message(
    data: dict[str, str], dispatch: Dispatch, people: dict[str, User]
) -> None:
    client = client_for(people["supervisor"])
    response = client.post(reverse("reports:handoff_download", args=[dispatch.public_id]), data)
    assert response.status_code == 302
    assert response["Location"] == page_url(dispatch)
    assert "Scegli un formato" in client.get(page_url(dispatch)).content.decode()
    assert not AuditEvent.objects.filter(action="reports.handoff_exported").exists()


def test_a_malformed_id_is_a_404(people: dict[str, User]) -> None:
    client = client_for(people["supervisor"])
    assert client.get("/rapporti/invii/non-un-id/non-raggiunti/").status_code == 404


# --- audit ----------------------------------------------------------------------------------


def test_each_download_is_audited_with_the_number_of_rows_never_the_data(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    client = client_for(people["supervisor"])
    download(client, dispatch, "xlsx")
    download(client, dispatch, "csv", "failed")
    events = list(AuditEvent.objects.filter(action="reports.handoff_exported").order_by("id"))
    assert [e.changes for e in events] == [
        {"rows": 7, "format": "xlsx", "reason": "all"},
        {"rows": 2, "format": "csv", "reason": "failed"},
    ]
    for event in events:
        assert event.actor == people["supervisor"]
        assert event.organization == dispatch.organization
        assert (event.target_type, event.target_id) == ("dispatch", str(dispatch.public_id))
        stored = f"{event.changes} {event.target_label} {event.actor_label}"
        assert "XXXMRA80A01H501D" not in stored and "Anna" not in stored


# --- the page and retention -----------------------------------------------------------------


def test_the_page_shows_counts_and_until_when_the_list_is_available(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    page = client_for(people["supervisor"]).get(page_url(dispatch)).content.decode()
    assert 'data-reason="not_on_io">1<' in page
    assert 'data-reason="rejected">2<' in page
    assert 'id="handoff-total">7<' in page
    until = timezone.localtime(FINISHED_AT + timedelta(days=365))
    with translation.override("it"):
        assert f"disponibile fino al {date_format(until, 'SHORT_DATE_FORMAT')}:" in page
    assert date_format(until, "SHORT_DATE_FORMAT").endswith("/2027")
    assert "1 cittadino con esito incerto" in page
    assert 'id="handoff-downloads"' in page
    assert "XXXMRA80A01H501D" not in page


def test_while_the_dispatch_runs_the_page_says_the_list_may_grow(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    Dispatch.objects.filter(pk=dispatch.pk).update(state=Dispatch.State.RUNNING, finished_at=None)
    page = client_for(people["supervisor"]).get(page_url(dispatch)).content.decode()
    assert "l'elenco può crescere" in page
    assert "per 365 giorni dopo la conclusione" in page


def test_after_the_purge_the_list_is_no_longer_available(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    Dispatch.objects.filter(pk=dispatch.pk).update(
        personal_data_purged_at=FINISHED_AT + timedelta(days=365)
    )
    client = client_for(people["supervisor"])
    page = client.get(page_url(dispatch)).content.decode()
    assert "l'elenco non è più disponibile" in page
    assert 'id="handoff-total">7<' in page
    assert "handoff_download" not in page and "/scarica/" not in page
    for file_format in handoff.FORMATS:
        response = download(client, dispatch, file_format)
        assert response.status_code == 302
        assert response["Location"] == page_url(dispatch)
    assert not AuditEvent.objects.filter(action="reports.handoff_exported").exists()


# --- the link from the dispatch page ----------------------------------------------------------


def test_the_dispatch_page_links_to_the_list_for_supervisors_only(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    url = reverse("sending:dispatch_detail", args=[dispatch.public_id])
    link = f'href="{page_url(dispatch)}"'
    assert link in client_for(people["supervisor"]).get(url).content.decode()
    assert link in client_for(people["admin"]).get(url).content.decode()
    assert link not in client_for(people["operator"]).get(url).content.decode()


def test_no_link_when_io_reached_everyone(
    organization: Organization, people: dict[str, User]
) -> None:
    service = builders.service(organization)
    reached = builders.dispatch(service, people["operator"], state=Dispatch.State.COMPLETED)
    builders.delivery(reached, state=S.PROCESSED, io_message_id="01JHANDOFF00000000000000009")
    page = client_for(people["supervisor"]).get(
        reverse("sending:dispatch_detail", args=[reached.public_id])
    )
    assert page.status_code == 200
    assert page_url(reached) not in page.content.decode()


def test_the_page_takes_the_same_queries_however_many_citizens(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    client = client_for(people["supervisor"])
    client.get(page_url(dispatch))  # the session and the membership read once
    with CaptureQueriesContext(connection) as few:
        client.get(page_url(dispatch))
    for number in range(30):
        builders.delivery(
            dispatch,
            f"RSSMRA80A01H5{number:02d}X",
            row_number=100 + number,
            state=S.SKIPPED,
            skip_reason=outcomes.NOT_ON_IO,
        )
    with CaptureQueriesContext(connection) as many:
        page = client.get(page_url(dispatch)).content.decode()
    assert 'data-reason="not_on_io">31<' in page
    assert len(many) == len(few) <= 12


def test_in_english_amounts_and_the_file_name_are_english(
    dispatch: Dispatch, people: dict[str, User]
) -> None:
    client = client_for(people["supervisor"])
    italian = csv_rows(download(client, dispatch, "csv", handoff.NOT_ON_IO))
    assert italian[1][HEADER.index("Importo (euro)")] == "1.234,56"
    response = client.post(
        reverse("reports:handoff_download", args=[dispatch.public_id]),
        {"formato": "csv", "motivo": handoff.NOT_ON_IO},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert 'filename="not-reached-tari-2026-not-on-io.csv"' in response["Content-Disposition"]
    assert csv_rows(response)[1][HEADER.index("Importo (euro)")] == "1,234.56"
