"""Reading an uploaded CSV or XLSX file into a header row and data rows of strings.

CSV: UTF-8 (with or without BOM) or Windows-1252 (with a warning), delimiter found by
`csv.Sniffer` among the usual ones. XLSX: the zip archive is checked (entries, uncompressed
size) before openpyxl opens it in read-only mode. Every limit is a setting; exceeding one raises
`ImportFileError` with a sentence for the operator. Nothing is written to disk.
"""

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from ioportal.core.sizes import megabytes

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


def parse_table(*, data: bytes, filename: str) -> ParsedTable:
    """The header row and the data rows of an uploaded file, every cell as a stripped string.

    Raises ImportFileError when the file is too large, has too many rows, no header, or is
    not a readable CSV/XLSX file. Empty rows are skipped. No side effects.
    """
    max_bytes = settings.RECIPIENTS_MAX_UPLOAD_BYTES
    if len(data) > max_bytes:
        raise ImportFileError(
            _("Il file è troppo grande: il massimo è %(max)s MB.") % {"max": megabytes(max_bytes)}
        )
    if not data.strip():
        raise ImportFileError(_("Il file è vuoto."))
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        table = _parse_xlsx(data)
    else:
        table = _parse_csv(data)
    if not any(table.headers):
        raise ImportFileError(_("La prima riga del file deve contenere i nomi delle colonne."))
    if not table.rows:
        raise ImportFileError(_("Il file non contiene righe di dati dopo l'intestazione."))
    return table


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
    if "\x00" in text[:SNIFF_BYTES]:
        raise ImportFileError(_("Il file non è un CSV valido (contiene dati binari)."))
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
    if isinstance(value, float):
        # Excel stores every number as a float: 12.0 is the integer 12, 0.1 stays 0.1.
        return str(int(value)) if value.is_integer() else str(Decimal(repr(value)))
    return str(value).strip()[:MAX_CELL_CHARS]


def _parse_xlsx(data: bytes) -> ParsedTable:
    from openpyxl import load_workbook

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
        iterator = sheet.iter_rows(values_only=True)
        first = next(iterator, None)
        headers = [_xlsx_cell(value) for value in (first or ())]
        while headers and not headers[-1]:
            headers.pop()
        max_rows = settings.RECIPIENTS_MAX_ROWS
        rows: list[list[str]] = []
        lines: list[int] = []
        for line, values in enumerate(iterator, start=2):
            record = [_xlsx_cell(value) for value in values[: len(headers)]]
            if not any(record):
                continue
            if len(rows) >= max_rows:
                raise _too_many_rows()
            rows.append(record)
            lines.append(line)
        sheets = len(workbook.worksheets)
    finally:
        workbook.close()
    warnings = []
    if sheets > 1:
        warnings.append(_("Il file ha più fogli: è stato letto solo il primo."))
    return ParsedTable(
        headers=headers, rows=rows, lines=lines, file_format="xlsx", warnings=warnings
    )
