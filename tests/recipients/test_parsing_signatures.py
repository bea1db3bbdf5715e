"""Files of a known non-list format are refused by their content, whatever their name."""

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from ioportal.recipients.parsing import OLE_MAGIC, ImportFileError, parse_table

EXAMPLE_PDF = Path(__file__).resolve().parents[2] / "docs" / "examples" / "accertamento-imu.pdf"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_a_pdf_renamed_csv_is_refused_as_a_pdf():
    with pytest.raises(ImportFileError, match="Il file è un documento PDF, non un elenco"):
        parse_table(data=EXAMPLE_PDF.read_bytes(), filename="fake.csv")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "un documento PDF"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"x" * 50, "un'immagine PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"x" * 50, "un'immagine JPEG"),
        (b"GIF89a\x01\x00\x01\x00" + b"x" * 50, "un'immagine GIF"),
        (b"GIF87a\x01\x00\x01\x00" + b"x" * 50, "un'immagine GIF"),
    ],
)
@pytest.mark.parametrize("filename", ["elenco.csv", "elenco.xlsx", "elenco"])
def test_documents_and_images_are_refused_whatever_their_name(data, kind, filename):
    with pytest.raises(ImportFileError, match=f"Il file è {kind}, non un elenco"):
        parse_table(data=data, filename=filename)


def test_an_old_excel_file_renamed_csv_is_told_as_xls():
    data = OLE_MAGIC + b"\x00" * 504 + "Workbook".encode("utf-16-le")
    with pytest.raises(ImportFileError, match=r"Excel 97-2003 \(\.xls\)"):
        parse_table(data=data, filename="elenco.csv")


def test_a_workbook_renamed_csv_is_read_as_the_workbook_it_is():
    workbook = Workbook()
    workbook.active.append(["CF", "Nome"])
    workbook.active.append(["RSSMRA85T10A562S", "Anna"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = parse_table(data=buffer.getvalue(), filename="elenco.csv")
    assert table.file_format == "xlsx"
    assert table.headers == ["CF", "Nome"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"},
            "archivio ZIP ma non una cartella di lavoro Excel",
        ),
        (
            {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b""},
            r"OpenDocument \(\.ods\)",
        ),
    ],
)
def test_other_zip_files_renamed_csv_are_refused_saying_what_they_are(entries, message):
    with pytest.raises(ImportFileError, match=message):
        parse_table(data=_zip(entries), filename="elenco.csv")


def test_text_made_mostly_of_control_characters_is_refused():
    data = b"CF;Nome\n" + bytes(range(1, 32)) * 40 + b"\n"
    with pytest.raises(ImportFileError, match="non è un testo leggibile"):
        parse_table(data=data, filename="elenco.csv")


def test_a_list_with_a_stray_control_character_is_still_read():
    data = b"CF;Nome\n" + b"RSSMRA85T10A562S;Anna\n" * 30 + b"RSSMRA85T10A562S;An\x0bna\n"
    table = parse_table(data=data, filename="elenco.csv")
    assert len(table.rows) == 31
