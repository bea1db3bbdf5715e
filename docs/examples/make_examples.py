"""Writes the sample recipient lists and the sample PDF of this folder (README.md, first
section). Run from the repository root: `.venv/bin/python docs/examples/make_examples.py`.
The files are byte for byte the same at every run (fixed dates inside the workbook and its
ZIP entries): a run without changes to this script leaves git clean.

The citizens follow the IO simulator's rule (docs/fakeio.md): XXX… is not on IO, YYY… has
blocked the service, ZZZ… is slow; for Premium messages …NNN… never reads and …UUU… denies
the read status. Each list also has a few rows the portal rejects, with the reason shown.
"""

import argparse
import csv
import io
import zipfile
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from ioportal.fakeio.citizens import check_character
from ioportal.recipients.notices import expected_check_digits

HERE = Path(__file__).resolve().parent
# The moment written into the workbook's properties and its ZIP entries, instead of "now".
FIXED_MOMENT = datetime(2026, 1, 1)


def code(first15: str) -> str:
    return first15 + check_character(first15)


REACHABLE = [
    ("Mario", code("RSSMRA80A01H501")),
    ("Giuseppe", code("VRDGPP75C15F205")),
    ("Lucia", code("BNCLCU90D45L219")),
    ("Luigi", code("FRRGLI68E12F839")),
    ("Francesca", code("CLMFNC82H55A662")),
    ("Stefano", code("RCCSFN77M08D969")),
]
SANDBOX = ("Utente di prova", "AAAAAA00A00A000A")
NOT_ON_IO = ("Marco", code("XXXMRA80A01H501"))
BLOCKED = ("Maria", code("YYYMRA80A01H501"))
SLOW = ("Marta", code("ZZZMRA80A01H501"))
NEVER_READS = ("Nadia", code("RSSNNN80A01H501"))
READ_STATUS_DENIED = ("Ugo", code("RSSUUU80A01H501"))
WRONG_CHECK = code("GLLPLA61T22F205")[:15] + "A"  # check character wrong on purpose
if code("GLLPLA61T22F205") == WRONG_CHECK:
    WRONG_CHECK = WRONG_CHECK[:15] + "B"


def notice(number: int) -> str:
    """An 18-digit pagoPA notice number (aux digit 3, segregation code 02) with valid check
    digits; its last digit is even (paid in the simulator) when `number` is even, odd when
    it is odd."""
    for extra in range(10):
        first16 = f"3020001000{number:05d}{extra}"
        number_ = first16 + (expected_check_digits(first16 + "00") or "")
        if int(number_[-1]) % 2 == number % 2:
            return number_
    raise AssertionError(number)


def write_csv(name: str, header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    (HERE / name).write_text(buffer.getvalue(), encoding="utf-8")


def tari() -> None:
    people = [SANDBOX, *REACHABLE, SLOW, NEVER_READS, NOT_ON_IO, BLOCKED]
    rows = [
        [cf, name, f"{120 + 17 * i},{(i * 35) % 100:02d}", notice(i + 10)]
        for i, (name, cf) in enumerate(people)
    ]
    rows += [
        [WRONG_CHECK, "Paola", "98,00", notice(40)],  # check character
        [code("MRNLRA95R41H501"), "", "75,50", notice(41)],  # name missing
        [code("GRCNNA70A41F205"), "Anna", "settanta", notice(42)],  # amount not a number
        [REACHABLE[0][1], "Mario", "150,00", notice(43)],  # same citizen twice
    ]
    write_csv("tari-2026.csv", ["Codice fiscale", "Nome", "Importo", "Codice avviso"], rows)


def id_card() -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Scadenze"
    sheet.append(["Codice fiscale", "Nome", "Scadenza documento"])
    people = [SANDBOX, *REACHABLE, SLOW, NOT_ON_IO, BLOCKED]
    for i, (name, cf) in enumerate(people):
        sheet.append([cf, name, date(2027, 1 + i % 12, 10 + i)])
    sheet.append([WRONG_CHECK, "Paola", date(2027, 3, 1)])  # check character
    sheet.append([code("MRNLRA95R41H501"), "Laura", "domani"])  # not a date
    sheet.append(["", "Senza codice", date(2027, 5, 1)])  # fiscal code missing
    for cell in sheet["C"][1:]:
        cell.number_format = "DD/MM/YYYY"
    save_reproducibly(workbook, HERE / "carta-identita.xlsx")


def save_reproducibly(workbook: Workbook, path: Path) -> None:
    """Save `workbook` as openpyxl does, but with FIXED_MOMENT as its created and modified
    dates and as the date of every ZIP entry (openpyxl's `save` writes the current time)."""
    workbook.properties.creator = "ioportal"
    workbook.properties.created = workbook.properties.modified = FIXED_MOMENT
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).save()
    output = io.BytesIO()
    with (
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            fixed = zipfile.ZipInfo(entry.filename, date_time=FIXED_MOMENT.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(entry.filename))
    path.write_bytes(output.getvalue())


def premium() -> None:
    people = [SANDBOX, *REACHABLE[:4], NEVER_READS, READ_STATUS_DENIED, SLOW, NOT_ON_IO, BLOCKED]
    rows = [[cf, name] for name, cf in people]
    rows += [[WRONG_CHECK, "Paola"], ["RSSMRA80A01H501", "Codice troncato"]]
    write_csv("accertamento-imu.csv", ["Codice fiscale", "Nome"], rows)


PDF_TEXT = [
    "Comune di Esempio - Ufficio Tributi",
    "Avviso di accertamento IMU 2024 (documento dimostrativo)",
    "",
    "Questo PDF accompagna i messaggi Premium della demo di ioportal.",
    "Il simulatore IO lo scarica quando il cittadino apre il messaggio.",
]


def pdf() -> None:
    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {
            NameObject("/Font"): DictionaryObject(
                {NameObject("/F1"): writer._add_object(font)}  # noqa: SLF001
            )
        }
    )
    lines = ["BT", "/F1 14 Tf", "60 780 Td", "18 TL"]
    for text in PDF_TEXT:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        lines.append(f"({escaped}) Tj T*")
    lines.append("ET")
    content = DecodedStreamObject()
    content.set_data("\n".join(lines).encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(content)  # noqa: SLF001
    writer.add_metadata({"/Title": "Avviso di accertamento IMU 2024 (demo)"})
    with (HERE / "accertamento-imu.pdf").open("wb") as handle:
        writer.write(handle)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=(
            "Write the sample files of docs/examples/ (tari-2026.csv, carta-identita.xlsx, "
            "accertamento-imu.csv, accertamento-imu.pdf), replacing them. Byte for byte the "
            "same at every run."
        )
    )
    parser.parse_args(argv)
    tari()
    id_card()
    premium()
    pdf()


if __name__ == "__main__":
    main()
