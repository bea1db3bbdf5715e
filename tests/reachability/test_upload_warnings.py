"""The reachability upload reads a file as the message import does: rows hidden by a filter and
several sheets are the operator's choice, a repeated or look-alike fiscal-code column is chosen
by the operator among the columns told apart by their letter, and everything the reading found
(the sheet read, hidden rows and columns, repeated and look-alike column names) is shown with
the column question and on the check's page."""

import html
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook

from ioportal.reachability.models import ReachabilityCheck
from ioportal.recipients.models import PendingUpload
from ioportal.recipients.sealing import unseal
from tests import builders
from tests.conftest import verified_login
from tests.sending.support import fiscal_code, simulated_service

pytestmark = pytest.mark.django_db

CASES = Path(__file__).resolve().parent.parent / "cases" / "import"
PENDING_RE = re.compile(r'name="pending_file" value="([0-9a-f-]{36})"')
WARNING_RE = re.compile(r'<div class="alert alert-warning">(.*?)</div>', re.S)
OPTION_RE = re.compile(r'<option value="([^"]*)"')
CF = [fiscal_code(f"RSSMRA80A0{day}H501") for day in range(1, 7)]
HIDDEN_C = "La colonna C («vecchio_cf») è nascosta in Excel: è stata letta come le altre."
REPEATED = "La colonna «nome» compare 2 volte (colonne B ed E)"
LOOK_ALIKE = "Le colonne «nome» (colonne B ed E) e «Nome» (colonna D) hanno nomi"


@pytest.fixture(autouse=True)
def enqueued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ioportal.reachability.services.async_task", lambda *a, **k: None)


@pytest.fixture
def service(organization: Any) -> Any:
    return builders.service(organization, **simulated_service(""))


@pytest.fixture
def client(operator_user: Any) -> Client:
    return verified_login(Client(), operator_user)


def _workbook(*, filtered: bool = False, instructions: bool = False) -> bytes:
    """Three citizens under "codice_fiscale, nome, vecchio_cf, Nome, nome", column C hidden;
    `filtered`: row 3 hidden by a filter; `instructions`: a first sheet of instructions (with
    a hidden column of its own and a fiscal-code-like header)."""
    workbook = Workbook()
    sheet = workbook.active
    if instructions:
        sheet.title = "Istruzioni"
        sheet.append(["Compila il foglio Destinatari", "nota", "Codice fiscale"])
        sheet.append(["una riga per cittadino", "", ""])
        sheet.column_dimensions["B"].hidden = True
        sheet = workbook.create_sheet("Destinatari")
    sheet.append(["codice_fiscale", "nome", "vecchio_cf", "Nome", "nome"])
    for number, code in enumerate(CF[:3]):
        sheet.append([code, f"Nome {number}", "X", "a", "q"])
    sheet.column_dimensions["C"].hidden = True
    if filtered:
        sheet.auto_filter.ref = "A1:E4"
        sheet.row_dimensions[3].hidden = True
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _post(client: Client, service: Any, **fields: Any) -> Any:
    return client.post(reverse("reachability:check_new"), {"service": service.pk, **fields})


def _upload(client: Client, service: Any, name: str, data: bytes) -> Any:
    return _post(client, service, file=SimpleUploadedFile(name, data))


def _pending(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    found = PENDING_RE.search(response.content.decode())
    assert found, response.content.decode()[:3000]
    return found.group(1)


def _warnings(page: str) -> list[str]:
    return [" ".join(html.unescape(w).split()) for w in WARNING_RE.findall(page)]


def _has(warnings: list[str], start: str) -> bool:
    return sum(1 for warning in warnings if warning.startswith(start)) == 1


def _check_warnings(client: Client, response: Any) -> list[str]:
    assert response.status_code == 302, response.content.decode()[:3000]
    return _warnings(client.get(response.url).content.decode())


def _codes(check: ReachabilityCheck) -> list[list[Any]]:
    return unseal(check.pending_rows) if check.pending_rows else []


@pytest.mark.parametrize(("hidden_rows", "read"), [("exclude", 2), ("include", 3)])
def test_hidden_rows_are_chosen_and_the_check_page_names_them_and_the_hidden_column(
    client: Client, service: Any, hidden_rows: str, read: int
) -> None:
    pending = _pending(_upload(client, service, "elenco.xlsx", _workbook(filtered=True)))
    assert not ReachabilityCheck.objects.exists()
    done = _post(client, service, pending_file=pending, hidden_rows=hidden_rows)
    warnings = _check_warnings(client, done)
    verb = "non è stata letta" if hidden_rows == "exclude" else "è stata letta"
    assert f"La riga nascosta del foglio (riga 3) {verb}, come hai scelto." in warnings
    assert _has(warnings, HIDDEN_C), warnings
    check = ReachabilityCheck.objects.get()
    assert check.total == read and not check.rejected
    assert (CF[1] in [code for _, code in _codes(check)]) is (hidden_rows == "include")


def test_the_sheet_is_chosen_and_the_check_page_names_it_and_only_its_warnings(
    client: Client, service: Any
) -> None:
    asked = _upload(client, service, "elenco.xlsx", _workbook(instructions=True))
    assert "Il file ha più fogli" in asked.content.decode()
    done = _post(client, service, pending_file=_pending(asked), sheet="Destinatari")
    warnings = _check_warnings(client, done)
    assert "È stato letto il foglio «Destinatari»." in warnings
    assert _has(warnings, HIDDEN_C) and _has(warnings, REPEATED), warnings
    assert _has(warnings, LOOK_ALIKE), warnings
    # Column B is hidden on the instructions sheet only.
    assert not any("La colonna B" in warning for warning in warnings)
    check = ReachabilityCheck.objects.get()
    # The instructions never become citizens.
    assert check.total == 3 and not check.rejected
    assert [code for _, code in _codes(check)] == CF[:3]


def test_two_choices_in_a_row_keep_every_warning_of_the_chosen_sheet(
    client: Client, service: Any
) -> None:
    asked = _upload(client, service, "elenco.xlsx", _workbook(filtered=True, instructions=True))
    asked = _post(client, service, pending_file=_pending(asked), sheet="Destinatari")
    assert "ha una riga nascosta (riga 3)" in asked.content.decode()
    done = _post(
        client, service, pending_file=_pending(asked), sheet="Destinatari", hidden_rows="exclude"
    )
    warnings = _check_warnings(client, done)
    assert "È stato letto il foglio «Destinatari»." in warnings
    assert "La riga nascosta del foglio (riga 3) non è stata letta, come hai scelto." in warnings
    assert _has(warnings, HIDDEN_C) and _has(warnings, REPEATED), warnings
    assert _has(warnings, LOOK_ALIKE), warnings
    assert ReachabilityCheck.objects.get().total == 2


def test_a_repeated_fiscal_code_header_is_asked_by_column_letter_never_the_last_silently(
    client: Client, service: Any
) -> None:
    data = (
        "codice_fiscale;alunno;genitore;codice_fiscale\n"
        f"{CF[0]};Laura;Mario;{CF[3]}\n"
        f"{CF[1]};Marco;Lucia;{CF[4]}\n"
    ).encode()
    asked = _upload(client, service, "elenco.csv", data)
    page = html.unescape(asked.content.decode())
    assert not ReachabilityCheck.objects.exists()
    assert _has(_warnings(page), "La colonna «codice_fiscale» compare 2 volte (colonne A e D)")
    assert (
        "Più colonne possono contenere il codice fiscale: «codice_fiscale (colonna A)», "
        "«codice_fiscale (colonna D)». Scegli quella con i codici fiscali e premi "
        "«Avvia la verifica»." in page
    )
    assert "Serve una scelta sul file" in page and "Il file non è stato caricato" not in page
    offered = OPTION_RE.findall(page[page.index('<select name="column"') :])
    assert "codice_fiscale (colonna A)" in offered and "codice_fiscale (colonna D)" in offered

    done = _post(client, service, pending_file=_pending(asked), column="codice_fiscale (colonna A)")
    assert _has(_check_warnings(client, done), "La colonna «codice_fiscale» compare 2 volte")
    check = ReachabilityCheck.objects.get()
    assert [code for _, code in _codes(check)] == CF[:2]
    assert not PendingUpload.objects.exists()


def test_look_alike_fiscal_code_headers_are_asked_never_guessed(
    client: Client, service: Any
) -> None:
    data = f"Codice fiscale;nome;CODICE_FISCALE\n{CF[0]};Anna;{CF[3]}\n".encode()
    asked = _upload(client, service, "elenco.csv", data)
    page = html.unescape(asked.content.decode())
    assert _has(_warnings(page), "Le colonne «Codice fiscale» (colonna A) e «CODICE_FISCALE»")
    assert (
        "Più colonne possono contenere il codice fiscale: «Codice fiscale», «CODICE_FISCALE»"
        in (page)
    )
    done = _post(client, service, pending_file=_pending(asked), column="CODICE_FISCALE")
    assert done.status_code == 302
    assert [code for _, code in _codes(ReachabilityCheck.objects.get())] == [CF[3]]


def test_two_differently_named_fiscal_code_columns_are_asked_never_guessed(
    client: Client, service: Any
) -> None:
    data = f"CF;nome;codice_fiscale\n{CF[0]};Anna;{CF[3]}\n".encode()
    asked = _upload(client, service, "elenco.csv", data)
    page = html.unescape(asked.content.decode())
    assert "Più colonne possono contenere il codice fiscale: «CF», «codice_fiscale»" in page
    assert not ReachabilityCheck.objects.exists()
    done = _post(client, service, pending_file=_pending(asked), column="codice_fiscale")
    assert done.status_code == 302
    assert [code for _, code in _codes(ReachabilityCheck.objects.get())] == [CF[3]]


def test_a_file_without_a_recognisable_column_offers_its_columns(
    client: Client, service: Any
) -> None:
    asked = _upload(client, service, "due.csv", f"a;b\n{CF[0]};x\n".encode())
    page = html.unescape(asked.content.decode())
    assert "Non trovo la colonna del codice fiscale: scegli quella con i codici fiscali" in page
    assert OPTION_RE.findall(page[page.index('<select name="column"') :])[:3] == ["", "a", "b"]
    # A column not in the file is asked again, with the columns offered.
    again = _post(client, service, pending_file=_pending(asked), column="c%s")
    page = html.unescape(again.content.decode())
    assert "La colonna «c%s» non è nel file: scegli quella con i codici fiscali" in page
    assert '<select name="column"' in page
    done = _post(client, service, pending_file=_pending(again), column="a")
    assert done.status_code == 302
    assert ReachabilityCheck.objects.get().total == 1


def test_a_repeated_and_look_alike_name_is_told_once_in_each_warning_on_the_check_page(
    client: Client, service: Any
) -> None:
    warnings = _check_warnings(client, _upload(client, service, "elenco.xlsx", _workbook()))
    assert warnings == CHECK_WARNINGS


# The check has no mapping page nor preview: its warnings speak of the fiscal-code column.
CHECK_WARNINGS = [
    HIDDEN_C + " Controlla che i codici fiscali siano letti da questa colonna solo se contiene "
    "quelli giusti.",
    "La colonna «nome» compare 2 volte (colonne B ed E): ognuna è indicata con la sua lettera.",
    "Le colonne «nome» (colonne B ed E) e «Nome» (colonna D) hanno nomi che differiscono solo "
    "per maiuscole, accenti, spazi o punteggiatura: controlla che i codici fiscali siano letti "
    "da quella giusta.",
]
CHECK_WARNINGS_EN = [
    "Column C (“vecchio_cf”) is hidden in Excel: it was read like the others. Check that the "
    "fiscal codes are read from this column only if it holds the right ones.",
    "The column “nome” appears 2 times (columns B and E): each one is shown with its letter.",
    "The columns “nome” (columns B and E) and “Nome” (column D) have names that differ only in "
    "case, accents, spaces or punctuation: check that the fiscal codes are read from the right "
    "one.",
]
COLUMN_RE = re.compile(r'<p id="check-column">(.*?)</p>', re.S)


def _column(page: str) -> str:
    found = COLUMN_RE.search(page)
    assert found, page[:3000]
    return " ".join(html.unescape(found.group(1)).split())


@pytest.mark.parametrize(
    ("uploaded_in", "read_in", "expected"),
    [("it", "en", CHECK_WARNINGS_EN), ("en", "it", CHECK_WARNINGS)],
)
def test_the_check_page_says_the_file_warnings_in_the_readers_language(
    client: Client, service: Any, uploaded_in: str, read_in: str, expected: list[str]
) -> None:
    done = client.post(
        reverse("reachability:check_new"),
        {"service": service.pk, "file": SimpleUploadedFile("elenco.xlsx", _workbook())},
        HTTP_ACCEPT_LANGUAGE=uploaded_in,
    )
    assert done.status_code == 302, done.content.decode()[:3000]
    page = client.get(done.url, HTTP_ACCEPT_LANGUAGE=read_in).content.decode()
    assert _warnings(page) == expected
    assert all(isinstance(w, dict) for w in ReachabilityCheck.objects.get().file_warnings)


def test_the_column_question_says_the_file_warnings_in_the_readers_language(
    client: Client, service: Any
) -> None:
    data = f"codice_fiscale;alunno;codice_fiscale\n{CF[0]};Laura;{CF[3]}\n".encode()
    asked = client.post(
        reverse("reachability:check_new"),
        {"service": service.pk, "file": SimpleUploadedFile("elenco.csv", data)},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert _warnings(asked.content.decode()) == [
        "The column “codice_fiscale” appears 2 times (columns A and C): each one is shown with "
        "its letter."
    ]


def test_a_check_made_before_keeps_its_warnings_as_written(
    client: Client, service: Any, operator_user: Any
) -> None:
    check = builders.reachability_check(
        service, operator_user, file_warnings=["Un avviso scritto prima.", "Il file è vuoto."]
    )
    url = reverse("reachability:check_detail", kwargs={"public_id": check.public_id})
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _warnings(page) == ["Un avviso scritto prima.", "The file is empty."]
    # Made before the column read was kept: nothing said about it.
    assert 'id="check-column"' not in page


def test_no_warning_of_the_check_speaks_of_a_mapping_or_a_preview(
    client: Client, service: Any
) -> None:
    """A file in Windows-1252 and a workbook with a hidden, a repeated and look-alike column
    names: the check has neither a mapping page nor a preview."""
    legacy = f"codice_fiscale;nome\n{CF[0]};Niccolò\n".encode("cp1252")
    warnings = [
        *_check_warnings(client, _upload(client, service, "vecchio.csv", legacy)),
        *_check_warnings(client, _upload(client, service, "elenco.xlsx", _workbook())),
    ]
    assert "Il file non è in UTF-8: è stato letto come Windows-1252." in warnings
    assert len(warnings) == 4, warnings
    for word in ("abbinamento", "anteprima"):
        assert not any(word in warning.lower() for warning in warnings), warnings


@pytest.mark.parametrize(
    ("data", "name", "answer", "expected"),
    [
        (f"nome;CF\nAnna;{CF[0]}\n", "a.csv", "", "«CF» (B)"),
        (f"codice fiscale\n{CF[0]}\n", "b.csv", "", "«codice fiscale» (A)"),
        (f"a;b\nx;{CF[0]}\n", "c.csv", "b", "«b» (B)"),
        (
            f"codice_fiscale;alunno;codice_fiscale\n{CF[0]};Laura;{CF[3]}\n",
            "d.csv",
            "codice_fiscale (colonna C)",
            "«codice_fiscale» (C)",
        ),
    ],
)
def test_the_check_page_names_the_column_read_as_fiscal_codes(
    client: Client, service: Any, data: str, name: str, answer: str, expected: str
) -> None:
    response = _upload(client, service, name, data.encode())
    if answer:
        response = _post(client, service, pending_file=_pending(response), column=answer)
    assert response.status_code == 302, response.content.decode()[:3000]
    page = client.get(response.url).content.decode()
    assert _column(page) == f"Codici fiscali letti dalla colonna {expected}."
    check = ReachabilityCheck.objects.get()
    assert (check.column_name, check.column_letter) == (
        expected.split("»")[0][1:],
        expected[-2],
    )
    english = client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    column, letter = check.column_name, check.column_letter
    assert _column(english) == f"Fiscal codes read from the column “{column}” ({letter})."


# What each real-world file gives a reachability check (only its fiscal-code column counts):
# valid codes, rejected rows, and the start of a warning the check's page shows.
REAL_WORLD = {
    "accented_attachment_names.csv": (1, 0, None),
    "amounts_thousands_separator.csv": (5, 0, None),
    "data_on_second_sheet.xlsx": (1, 0, "È stato letto il foglio «Destinatari»."),
    "date_as_serial_number.xlsx": (1, 0, None),
    "duplicate_header_names.csv": (2, 0, "La colonna «codice_fiscale» compare 2 volte"),
    "invisible_characters_in_fiscal_codes.csv": (4, 0, None),
    "line_break_inside_a_cell.csv": (1, 1, None),
    "markdown_in_a_cell.csv": (2, 0, None),
    "notice_numbers_in_number_cells.xlsx": (2, 0, None),
    "semicolon_with_quotes_in_text.csv": (2, 0, None),
    "xlsx_declared_size_A1.xlsx": (5, 0, None),
    "xlsx_filtered_rows.xlsx": (3, 0, "Le 2 righe nascoste del foglio"),
}


def test_every_real_world_file_is_listed() -> None:
    found = {p.name for p in CASES.iterdir() if p.suffix in (".csv", ".xlsx")}
    assert found == set(REAL_WORLD)


@pytest.mark.parametrize("name", sorted(REAL_WORLD))
def test_real_world_files_through_the_reachability_upload(
    client: Client, service: Any, name: str
) -> None:
    """Each question is answered as an operator would: the sheet with the citizens, hidden
    rows left out, the first fiscal-code column."""
    response = _upload(client, service, name, (CASES / name).read_bytes())
    answers: dict[str, str] = {}
    asked = []
    while response.status_code == 200:
        page = response.content.decode()
        assert "Il file non è stato caricato" not in page, page[:3000]
        if '<select name="sheet"' in page:
            answers["sheet"] = "Destinatari"
        elif 'name="hidden_rows" value="exclude"' in page:
            answers["hidden_rows"] = "exclude"
        elif '<select name="column"' in page:
            answers["column"] = html.unescape(
                OPTION_RE.findall(page[page.index('<select name="column"') :])[1]
            )
        else:
            pytest.fail(page[:3000])
        asked.append(sorted(answers))
        assert len(asked) <= 3
        response = _post(client, service, pending_file=_pending(response), **answers)
    valid, rejected, warning = REAL_WORLD[name]
    warnings = _check_warnings(client, response)
    check = ReachabilityCheck.objects.get()
    assert (check.total, len(check.rejected)) == (valid, rejected), check.rejected
    if warning:
        assert _has(warnings, warning), warnings
    if name == "line_break_inside_a_cell.csv":
        # Numbered as the spreadsheet shows the rows.
        assert [row["line"] for row in check.rejected] == [3]


def test_the_column_question_names_a_repeated_column_in_the_readers_language(
    client: Client, service: Any
) -> None:
    data = f"codice_fiscale;alunno;codice_fiscale\n{CF[0]};Laura;{CF[3]}\n".encode()
    asked = client.post(
        reverse("reachability:check_new"),
        {"service": service.pk, "file": SimpleUploadedFile("elenco.csv", data)},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    page = html.unescape(asked.content.decode())
    assert "“codice_fiscale (column A)”, “codice_fiscale (column C)”" in page
    select = page[page.index('<select name="column"') :]
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
    assert ("codice_fiscale (colonna C)", "codice_fiscale (column C)") in options
    done = _post(client, service, pending_file=_pending(asked), column="codice_fiscale (colonna C)")
    assert [code for _, code in _codes(ReachabilityCheck.objects.get())] == [CF[3]]
    english = client.get(done.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _column(english) == "Fiscal codes read from the column “codice_fiscale” (C)."
