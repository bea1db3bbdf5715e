"""Spreadsheet cells and XLSX files, the same for every download of the portal.

- `formula_safe`: the guard of every CSV cell the portal writes, so that no spreadsheet runs
  a downloaded cell as a formula (OWASP ASVS 5.0 1.2.10). An XLSX needs no such change: its
  text cells are strings, never formulas (see below).
- `write_xlsx` / `XlsxFile`: an XLSX workbook written by XlsxWriter in constant-memory mode
  (each sheet's rows go to disk as they are written, in order, so memory does not grow with
  the number of rows) into a temporary file, returned at its start for the view to send in
  chunks. Nothing can be sent before the workbook is complete: the ZIP container is written
  at the end.

Cells, by their Python type: `str` as text, always through `write_string` (never a formula,
never converted to a number, URL or date), after the control characters that XML cannot hold
are removed, otherwise as given: no leading `'` is added to a value that looks like a
formula, since a string cell is never run; such a cell gets Excel's "quote prefix" style
(shown as it is, and still text if someone edits it and presses Enter); `int` as a number
(with 15 digits or more as text: Excel keeps 15 significant digits); `Decimal` and `float`
as numbers; aware `datetime` in the current time zone, naive as it is; `date`; None and ""
as empty cells. Every sheet has a
bold, frozen header row and continues on a new sheet ("Name (2)"…) past `MAX_ROWS` rows.
"""

import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO

import xlsxwriter
from django.utils import timezone
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Data rows per sheet: Excel's 1,048,576 minus the header row.
MAX_ROWS = 1_048_575
# Bytes per chunk when a finished file is sent.
CHUNK_BYTES = 64 * 1024

# What a spreadsheet may read as the start of a formula: the ASCII signs, tab, CR, NUL, and the
# full-width signs (U+FF1D, U+FF0B, U+FF0D, U+FF20) that some spreadsheets fold to ASCII.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\x00", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Not allowed in XML 1.0 (control characters but tab, LF and CR; lone surrogates; U+FFFE and
# U+FFFF): an XLSX cannot hold them, XlsxWriter writes inline strings as given.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SHEET_NAME_CHARS = re.compile(r"[:\\/?*\[\]]")
_TEXT_MAX = 32_767  # characters in a cell
_NUMBER_MAX = 10**15  # Excel keeps 15 significant digits

# Column formats (`Sheet.formats`): the number format of a column's cells and of the
# column itself (cells typed in later).
TEXT = "text"  # "@": kept as typed, e.g. 18-digit notice numbers, never a number
DATE = "date"  # 31/12/2026
DATETIME = "datetime"  # 31/12/2026 23:59:59
EURO = "euro"  # 1.234,56 in an Italian Excel: a number with two decimals
_NUMBER_FORMATS = {
    TEXT: "@",
    DATE: "dd/mm/yyyy",
    DATETIME: "dd/mm/yyyy hh:mm:ss",
    EURO: "#,##0.00",
}
# A cell's format when its column has none, by the value's type.
_TYPE_FORMATS: dict[type, str] = {datetime: DATETIME, date: DATE, Decimal: EURO}


def formula_safe(value: str) -> str:
    """`value` with a leading `'` when a spreadsheet could read it as a formula: it starts with
    one of FORMULA_PREFIXES (ASVS 5.0 1.2.10); any other text unchanged."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def xlsx_text(value: str) -> str:
    """`value` as an XLSX text cell holds it: without the characters XML refuses, at most
    32,767 characters. Not formula-guarded: an XLSX string cell is never a formula (a CSV
    cell made from it still goes through `formula_safe`)."""
    # Nearly every text is printable (no control character, surrogate or non-character):
    # the test costs a tenth of the substitution, which runs once a cell.
    clean = value if value.isprintable() else _NOT_XML.sub("", value)
    return clean[:_TEXT_MAX]


def sheet_name(label: object) -> str:
    """A valid sheet name for `label`: none of : \\ / ? * [ ], at most 31 characters, "-"
    when nothing is left."""
    return _SHEET_NAME_CHARS.sub(" ", str(label))[:31].strip() or "-"


Cell = str | int | float | Decimal | datetime | date | None


@dataclass
class Sheet:
    """One sheet: `name` (made valid by `sheet_name`), the header `titles`, the `rows` (each a
    sequence of cells in the order of `titles`), optional `formats` (a column index → TEXT,
    DATE, DATETIME or EURO; other columns take their cells' types) and `widths` (a column index
    → characters; by default the title's length, at least 12)."""

    name: str
    titles: Sequence[str]
    rows: Iterable[Sequence[Cell]] = ()
    formats: Mapping[int, str] = field(default_factory=dict)
    widths: Mapping[int, float] = field(default_factory=dict)


class SheetWriter:
    """Appends rows to a sheet of an XlsxFile, in order, opening "Name (2)", "Name (3)"… each
    with the header when a sheet is full (MAX_ROWS)."""

    def __init__(self, book: "XlsxFile", sheet: Sheet) -> None:
        self._book = book
        self._sheet = sheet
        self._name = sheet_name(sheet.name)
        self._parts = 0
        self._worksheet: Worksheet
        self._row = 0
        # Per column, the format of a cell of each type (None: the default), and of a text
        # that looks like a formula (the same, with Excel's quote prefix).
        self._formats: list[dict[type, Format | None]] = []
        self._quoted: list[Format] = []
        for column in range(len(sheet.titles)):
            kind = sheet.formats.get(column)
            self._formats.append(
                {
                    kind_of: book.format(kind or _TYPE_FORMATS.get(kind_of))
                    for kind_of in (str, int, float, Decimal, datetime, date)
                }
            )
            self._quoted.append(book.quoted_format(kind))
        self._open()

    def _open(self) -> None:
        self._parts += 1
        name = self._name
        if self._parts > 1:
            suffix = f" ({self._parts})"
            name = self._name[: 31 - len(suffix)] + suffix
        sheet = self._sheet
        worksheet = self._book.workbook.add_worksheet(name)
        for column, title in enumerate(sheet.titles):
            width = sheet.widths.get(column, max(12, len(title) + 2))
            worksheet.set_column(
                column, column, width, self._book.format(sheet.formats.get(column))
            )
        worksheet.freeze_panes(1, 0)
        bold = self._book.bold
        for column, title in enumerate(sheet.titles):
            worksheet.write_string(0, column, xlsx_text(str(title)), bold)
        self._worksheet = worksheet
        self._row = 0

    def _text(self, number: int, column: int, value: str) -> None:
        text = xlsx_text(value)
        quoted = text.startswith(FORMULA_PREFIXES)
        fmt = self._quoted[column] if quoted else self._formats[column][str]
        self._worksheet.write_string(number, column, text, fmt)

    def append(self, row: Sequence[Cell]) -> None:
        """Write `row` below the previous one. Raises ValueError for a NaN or infinite
        number (XlsxWriter's)."""
        if self._row == MAX_ROWS:
            self._open()
        self._row += 1
        number = self._row
        worksheet = self._worksheet
        formats = self._formats
        quoted = self._quoted
        zone = self._book.zone
        for column, value in enumerate(row):
            if value is None or value == "":
                continue
            kind = type(value)
            if kind is str:
                text = xlsx_text(value)  # type: ignore[arg-type]
                fmt = quoted[column] if text.startswith(FORMULA_PREFIXES) else formats[column][str]
                worksheet.write_string(number, column, text, fmt)
            elif kind is datetime:
                moment: datetime = value  # type: ignore[assignment]
                if moment.tzinfo is not None:
                    moment = moment.astimezone(zone).replace(tzinfo=None)
                worksheet.write_datetime(number, column, moment, formats[column][datetime])
            elif kind is int and -_NUMBER_MAX < value < _NUMBER_MAX:  # type: ignore[operator]
                worksheet.write_number(number, column, value, formats[column][int])
            elif kind is Decimal or kind is float:
                worksheet.write_number(number, column, float(value), formats[column][kind])  # type: ignore[arg-type]
            elif kind is date:
                worksheet.write_datetime(number, column, value, formats[column][date])
            else:  # a long integer, a bool, anything else: its text
                self._text(number, column, str(value))


class XlsxFile:
    """An XLSX workbook being written into `file` (by default a new temporary file, deleted
    once closed). Add sheets with `sheet()`, append their rows in order (sheets may be filled
    in turn), then `finish()`. Times go into the time zone current at creation.

        book = XlsxFile()
        try:
            people = book.sheet(Sheet("Persone", ["Nome", "Nato il"], formats={1: DATE}))
            people.append(["Maria", date(1980, 1, 1)])
            file = book.finish()
        except BaseException:
            book.close()
            raise
    """

    def __init__(self, file: IO[bytes] | None = None) -> None:
        self.file: IO[bytes] = file if file is not None else tempfile.TemporaryFile()  # noqa: SIM115
        self.zone = timezone.get_current_timezone()
        self.workbook = xlsxwriter.Workbook(
            self.file,
            {
                "constant_memory": True,
                # Needed only by a sheet of more than 4 GiB of XML; harmless otherwise.
                "use_zip64": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self.bold = self.workbook.add_format({"bold": True})
        self._formats: dict[str, Format] = {}

    def format(self, kind: str | None) -> Format | None:
        """The workbook's format for a column format (TEXT, DATE...), None for None."""
        if kind is None:
            return None
        if kind not in self._formats:
            self._formats[kind] = self.workbook.add_format({"num_format": _NUMBER_FORMATS[kind]})
        return self._formats[kind]

    def quoted_format(self, kind: str | None) -> Format:
        """The format of a text cell that looks like a formula in a column of format `kind`:
        Excel's quote prefix, which shows the text as it is and keeps it text when edited."""
        key = f"quoted:{kind}"
        if key not in self._formats:
            properties: dict[str, object] = {"quote_prefix": True}
            if kind is not None:
                properties["num_format"] = _NUMBER_FORMATS[kind]
            self._formats[key] = self.workbook.add_format(properties)
        return self._formats[key]

    def sheet(self, sheet: Sheet) -> SheetWriter:
        """A new sheet with its header row (`sheet.rows` is not read: append them)."""
        return SheetWriter(self, sheet)

    def finish(self) -> IO[bytes]:
        """Complete the workbook; the file, at its start."""
        self.workbook.close()
        self.file.seek(0)
        return self.file

    def close(self) -> None:
        """Give up: close (and so delete) the temporary file."""
        self.file.close()


def write_xlsx(sheets: Iterable[Sheet], file: IO[bytes] | None = None) -> IO[bytes]:
    """An XLSX workbook of `sheets` (each with its rows, read once, in order) written into
    `file` or a new temporary file, returned at its start; the caller closes it (a
    FileResponse does). Raises what reading the rows raises, the file closed."""
    book = XlsxFile(file)
    try:
        for sheet in sheets:
            writer = book.sheet(sheet)
            for row in sheet.rows:
                writer.append(row)
        return book.finish()
    except BaseException:
        book.close()
        raise
