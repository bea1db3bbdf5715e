"""Reading an uploaded CSV or XLSX file into a header row and data rows of strings.

CSV: UTF-8 (with or without BOM) or Windows-1252 (with a warning), delimiter found by
`csv.Sniffer` among the usual ones. XLSX: the zip archive is checked (entries, uncompressed
size) before openpyxl opens it in read-only mode. Every limit is a setting; exceeding one raises
`ImportFileError` with a sentence for the operator. Nothing is written to disk.

A NUL character anywhere refuses the file: it is never text a person typed, and PostgreSQL cannot
store it. XLSX Number cells are written as Excel shows them (`numbers.excel_number_text`) in the
number convention chosen for the upload, and remembered (`ParsedTable.number_cells`) so that the
validation can refuse identifiers that Excel stored as numbers and read serial dates.
"""

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from ioportal.recipients.numbers import DEFAULT_NUMBER_FORMAT, excel_number_text

CSV_DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024
XLSX_MAX_ENTRIES = 1000
MAX_CELL_CHARS = 10_000


class ImportFileError(Exception):
    """The file cannot be read; the message is shown to the operator as it is."""


@dataclass
class ParsedTable:
    headers: list[str]
    rows: list[list[str]]
    # The line of the file each row comes from, as the operator's spreadsheet numbers it.
    lines: list[int]
    file_format: str  # "csv" | "xlsx"
    encoding: str = ""
    delimiter: str = ""
    warnings: list[str] = field(default_factory=list)
    # XLSX: for each row, the positions of its cells that were Number cells (not text, not
    # dates); empty for CSV.
    number_cells: list[list[int]] = field(default_factory=list)
    # XLSX: the workbook's date system, 1900 or 1904 (serial numbers count days from it).
    date_system: int | None = None


def parse_table(
    *, data: bytes, filename: str, number_format: str = DEFAULT_NUMBER_FORMAT
) -> ParsedTable:
    """The header row and the data rows of an uploaded file, every cell as a stripped string.

    `number_format` ("it" or "en", `numbers.NUMBER_FORMATS`) is how XLSX Number cells are
    written. Raises ImportFileError when the file is too large, has too many rows, no header,
    holds a NUL character, or is not a readable CSV/XLSX file. Empty rows are skipped. No side
    effects.
    """
    max_bytes = settings.RECIPIENTS_MAX_UPLOAD_BYTES
    if len(data) > max_bytes:
        raise ImportFileError(
            _("Il file è troppo grande: il massimo è %(max)s MB.")
            % {"max": f"{max_bytes / 1_000_000:g}"}
        )
    if not data.strip():
        raise ImportFileError(_("Il file è vuoto."))
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        table = _parse_xlsx(data, number_format)
    else:
        table = _parse_csv(data)
    if not any(table.headers):
        raise ImportFileError(_("La prima riga del file deve contenere i nomi delle colonne."))
    if not table.rows:
        raise ImportFileError(_("Il file non contiene righe di dati dopo l'intestazione."))
    return table


def _binary_content() -> ImportFileError:
    return ImportFileError(
        _(
            "Il file contiene dati binari (il carattere NUL) e non è un elenco leggibile: "
            "esportalo di nuovo dal foglio di calcolo come CSV UTF-8 o .xlsx."
        )
    )


def _too_many_rows() -> ImportFileError:
    return ImportFileError(
        _("Il file ha troppe righe: il massimo è %(max)s destinatari per elenco.")
        % {"max": settings.RECIPIENTS_MAX_ROWS}
    )


def _decode(data: bytes) -> tuple[str, str, list[str]]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig", []
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            _("Il file non è un testo leggibile: salvalo come CSV UTF-8 e riprova.")
        ) from exc
    warning = _(
        "Il file non è in UTF-8: è stato letto come Windows-1252. Controlla nell'anteprima che "
        "le lettere accentate siano corrette."
    )
    return text, "cp1252", [warning]


def _parse_csv(data: bytes) -> ParsedTable:
    text, encoding, warnings = _decode(data)
    if "\x00" in text:
        raise _binary_content()
    sample = text[:SNIFF_BYTES]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            sample, delimiters=CSV_DELIMITERS
        )
        delimiter = dialect.delimiter
    except csv.Error:
        # One column, or a sample the sniffer cannot decide on: the first line tells.
        first_line = sample.splitlines()[0] if sample else ""
        delimiter = max(CSV_DELIMITERS, key=first_line.count) if first_line else ","
        if first_line.count(delimiter) == 0:
            delimiter = ","
    csv.field_size_limit(MAX_CELL_CHARS * 10)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    max_rows = settings.RECIPIENTS_MAX_ROWS
    try:
        headers = [cell.strip() for cell in next(reader, [])]
        rows: list[list[str]] = []
        lines: list[int] = []
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= max_rows:
                raise _too_many_rows()
            rows.append([cell.strip()[:MAX_CELL_CHARS] for cell in record])
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise ImportFileError(
            _("Il file CSV non è leggibile alla riga %(line)s: %(error)s")
            % {"line": reader.line_num, "error": exc}
        ) from exc
    return ParsedTable(
        headers=headers,
        rows=rows,
        lines=lines,
        file_format="csv",
        encoding=encoding,
        delimiter=delimiter,
        warnings=warnings,
    )


def _xlsx_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "sì" if value else "no"
    text = str(value)
    if "\x00" in text:
        raise _binary_content()
    return text.strip()[:MAX_CELL_CHARS]


def _excel_format(cell: Any) -> str:
    """The cell's number format code; "General" when the style it points to is missing, as in
    workbooks written by some tools (openpyxl itself never needs it to read the value)."""
    try:
        return str(cell.number_format or "General")
    except (IndexError, KeyError, AttributeError):
        return "General"


def _xlsx_row(cells: Sequence[Any], number_format: str) -> tuple[list[str], list[int]]:
    """The texts of a row of read-only cells and the positions of its Number cells."""
    texts: list[str] = []
    numbers: list[int] = []
    for position, cell in enumerate(cells):
        value = cell.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            texts.append(excel_number_text(value, _excel_format(cell), number_format))
            numbers.append(position)
        else:
            texts.append(_xlsx_cell(value))
    return texts, numbers


def _parse_xlsx(data: bytes, number_format: str) -> ParsedTable:
    from openpyxl import load_workbook
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    unreadable = ImportFileError(
        _("Il file Excel non è leggibile: salvalo di nuovo in formato .xlsx o come CSV.")
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > XLSX_MAX_ENTRIES:
                raise unreadable
            uncompressed = sum(entry.file_size for entry in entries)
    except zipfile.BadZipFile as exc:
        raise unreadable from exc
    if uncompressed > settings.RECIPIENTS_XLSX_MAX_UNCOMPRESSED_BYTES:
        raise ImportFileError(
            _("Il file Excel è troppo grande una volta decompresso: dividilo in più file.")
        )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise unreadable from exc
    try:
        sheet = workbook.worksheets[0]
        iterator = sheet.iter_rows()
        first = next(iterator, None)
        headers, _numbers = _xlsx_row(first or (), number_format)
        while headers and not headers[-1]:
            headers.pop()
        max_rows = settings.RECIPIENTS_MAX_ROWS
        rows: list[list[str]] = []
        lines: list[int] = []
        number_cells: list[list[int]] = []
        for line, cells in enumerate(iterator, start=2):
            record, numbers = _xlsx_row(cells[: len(headers)], number_format)
            if not any(record):
                continue
            if len(rows) >= max_rows:
                raise _too_many_rows()
            rows.append(record)
            lines.append(line)
            number_cells.append(numbers)
        sheets = len(workbook.worksheets)
        date_system = 1904 if workbook.epoch == CALENDAR_MAC_1904 else 1900
    finally:
        workbook.close()
    warnings = []
    if sheets > 1:
        warnings.append(_("Il file ha più fogli: è stato letto solo il primo."))
    return ParsedTable(
        headers=headers,
        rows=rows,
        lines=lines,
        file_format="xlsx",
        warnings=warnings,
        number_cells=number_cells,
        date_system=date_system,
    )
