"""Reading an uploaded CSV or XLSX file into a header row and data rows of strings.

Nothing about the file's structure is guessed silently:

- CSV: UTF-8 (with or without BOM), UTF-16 with a BOM, or Windows-1252 (with a warning). The
  separator is the one among `;` `,` tab `|` under which the rows have the header's number of
  columns, or the operator's choice; a row with another number of columns is kept with a
  structure problem (it is rejected at the check, never read with shifted values). Rows are
  numbered as a spreadsheet shows them, whatever line breaks their cells hold. A quote that
  opens a cell and swallows the following rows refuses the file, naming its row.
- XLSX: the declared sheet size is ignored (some office suites write "A1"); with several sheets
  holding data the operator names one; hidden rows (a filter, a grouping) are included or
  excluded only on the operator's word. Password-protected workbooks (an encrypted OLE
  container), old .xls files and ZIPs that are not workbooks are refused saying so.
- Column names are read as they look (`header_text`); repeated ones are offered distinctly,
  each with its column letter, and look-alikes (case, accents, spaces) are pointed out.
- XLSX named columns hidden in Excel are read, and named to the operator.
- A NUL character anywhere refuses the file: it is never text a person typed, and PostgreSQL
  cannot store it. So do a known non-list format told by its first bytes whatever the file's
  name (PDF, PNG, JPEG, GIF: `BINARY_SIGNATURES`) and a CSV whose text is more than
  `MAX_CONTROL_SHARE` control characters.
- A cell that cannot be read as it is (a formula without its saved result, an Excel error, a
  cell over MAX_CELL_CHARS) is a problem of that cell (`ParsedTable.cell_problems`), never of
  the whole row: the check rejects the row only when the message uses its column. A formula
  reading another workbook is read with its saved value and named in a warning.
- XLSX Number cells are written as Excel shows them (`numbers.excel_number_text`, with the
  cell's number format) in the number convention chosen for the upload, and remembered
  (`ParsedTable.number_cells`) with the workbook's date system, so that the validation can
  refuse identifiers that Excel stored as numbers and read serial dates.

Every limit is a setting; exceeding one raises `ImportFileError` with a sentence for the
operator; a missing choice raises `ImportChoiceNeeded`. Nothing is written to disk.
"""

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import islice
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.utils.translation import ngettext
from openpyxl import load_workbook
from openpyxl.packaging.manifest import Manifest
from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser
from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS, WORKSHEET_TYPE
from openpyxl.xml.functions import fromstring

from ioportal.core.io_texts import Part, reason_text, said, said_n
from ioportal.core.numbers import grouped
from ioportal.core.sizes import size_text
from ioportal.core.yesno import NO, YES
from ioportal.recipients.numbers import (
    DEFAULT_NUMBER_FORMAT,
    excel_number_text,
    excel_shown_text,
    strip_invisible,
)

# In the order preferred when several fit equally well: Italian spreadsheets write ";".
CSV_DELIMITERS = ";,\t|"
SNIFF_BYTES = 64 * 1024
XLSX_MAX_ENTRIES = 1000
# Excel's last column (XFD).
XLSX_MAX_COLUMNS = 16_384
MAX_CELL_CHARS = 10_000
LINES_LISTED = 10
# The first rows of a file shown to the operator to recognise its columns.
PREVIEW_ROWS = 3
# Excel's "sep=;" first line; also as other programs leave it: quoted ("sep=;" in quotes), in
# capitals, or padded with the separator up to the header's columns ("sep=;;;" once the file
# went through a spreadsheet that kept the line as a row).
SEP_LINE_RE = re.compile(r'\A"?sep=([;,\t|])"?\1*[ \t]*(?:\r\n|\n|\r)', re.IGNORECASE)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Known file formats that are never a list, told by their first bytes (their published
# signatures), whatever the file's name: the kind of file as the operator is told it. ZIP
# (XLSX, ODS, DOCX) and OLE (.xls) containers are told apart by their own checks.
BINARY_SIGNATURES: tuple[tuple[tuple[bytes, ...], str], ...] = (
    ((b"%PDF-",), N_("un documento PDF")),
    ((b"\x89PNG\r\n\x1a\n",), N_("un'immagine PNG")),
    ((b"\xff\xd8\xff",), N_("un'immagine JPEG")),
    ((b"GIF87a", b"GIF89a"), N_("un'immagine GIF")),
)
# A text whose share of control characters (other than tab and line breaks) is above this is
# not a list a person wrote: binary content that happens to hold no NUL.
MAX_CONTROL_SHARE = 0.05
# The stream an encrypted (password-protected) OOXML file keeps inside its OLE container
# ([MS-OFFCRYPTO] 2.3.4.4): directory entry names are UTF-16LE.
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
# An element of a part's XML, with or without a namespace prefix: a cell (<c ...>) of a sheet,
# an entry (<si>) of the shared strings table. Text holds no "<" (XML escapes it), so every
# match is an element.
_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s>/]")
_SHARED_STRING_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s>/]")
# Shared strings a workbook may hold beyond one per cell of its sheets: Excel keeps a few
# strings no cell uses any more (until the file is saved again).
XLSX_SHARED_STRINGS_SLACK = 1_000


# Excel's error values as a workbook stores them, and as Italian Excel shows them.
EXCEL_ERRORS_ITALIAN = {
    "#N/A": "#N/D",
    "#VALUE!": "#VALORE!",
    "#REF!": "#RIF!",
    "#NAME?": "#NOME?",
    "#DIV/0!": "#DIV/0!",
    "#NUM!": "#NUM!",
    "#NULL!": "#NULLO!",
    "#SPILL!": "#ESPANSIONE!",
    "#CALC!": "#CALC!",
}
# What a CSV saved by Excel holds in place of a formula's error: the error as Excel shows it
# in the language it runs in (Italian or English), alone in the cell.
CSV_ERROR_TEXTS = frozenset(EXCEL_ERRORS_ITALIAN) | frozenset(EXCEL_ERRORS_ITALIAN.values())
# `_SheetParser`'s mark for a date cell whose serial number is outside Excel's dates.
OUT_OF_RANGE_DATE = "date out of range"
# A reference to another workbook in a stored formula: its index among the workbook's
# external links in brackets, then a sheet or a name and "!" ("[1]Foglio1!A1",
# "'[2]Dati 2025'!B3", "[1]!Totale"), as ECMA-376 Part 1, 18.17 writes them.
EXTERNAL_REFERENCE_RE = re.compile(r"\[\d+\][^!\[\]\"]*'?!")
# Cells named in a warning before "…".
CELLS_LISTED = 10
# A repeated column name told apart by its letter (`distinct_headers`): stored in Italian
# whoever uploads the file (a list's headers are the keys of its mapping), said in the
# reader's language (`header_part`). Lists uploaded before may hold the English form; a
# rejected cell's column adds the cell ("cf (colonna A) (A6)").
TOLD_APART = N_("%(header)s (colonna %(letter)s)")
_TOLD_APART_RE = re.compile(
    r"(.*) \((?:colonna|column) ([A-Z]{1,3})\)(?: \(([A-Z]{1,3}[0-9]+)\))?", re.DOTALL
)


class HiddenRows:
    """What to do with the rows of a sheet that Excel does not show (a filter, a grouping)."""

    ASK = "ask"
    INCLUDE = "include"
    EXCLUDE = "exclude"


@dataclass(frozen=True)
class ReadOptions:
    """The operator's choices about the file's structure; empty means "not chosen yet"."""

    delimiter: str = ""  # one of CSV_DELIMITERS, or "" to recognise it
    sheet: str = ""  # a sheet name of the workbook
    hidden_rows: str = HiddenRows.ASK


class ImportFileError(Exception):
    """The file cannot be read; the message is shown to the operator as it is."""


class ImportChoiceNeeded(ImportFileError):
    """The file can be read only once the operator chooses: `field` is the ReadOptions field
    ("delimiter", "sheet", "hidden_rows"), `choices` the (value, label) pairs to offer."""

    def __init__(
        self,
        message: str,
        *,
        field: str,
        choices: Sequence[tuple[str, str]] = (),
        values: dict[str, Any] | None = None,
    ):
        # `message` may say which button sends the choice ("%(button)s") and what the file
        # holds ("%(holds)s"): text() fills them for the page that shows it.
        self.message, self.values = message, dict(values or {})
        super().__init__(
            message
            % {**self.values, "button": _("il pulsante del modulo"), "holds": _("i destinatari")}
        )
        self.field = field
        self.choices = list(choices)

    def text(self, button: str, holds: str = "") -> str:
        """The message naming `button`, the label of the button that sends the choice on the
        page that shows it (`FileStructureForm.submit_label`), and `holds`, what the file's
        rows are on that page ("i destinatari", "i cittadini": `FileStructureForm.holds`)."""
        quoted = _("«%(button)s»") % {"button": button}
        return self.message % {
            **self.values,
            "button": quoted,
            "holds": holds or _("i destinatari"),
        }


@dataclass
class ParsedTable:
    headers: list[str]
    rows: list[list[str]]
    # The row each data row comes from, as the operator's spreadsheet numbers it.
    lines: list[int]
    file_format: str  # "csv" | "xlsx"
    encoding: str = ""
    delimiter: str = ""
    # What reading the file found (repeated and look-alike column names, the sheet read,
    # hidden rows and columns, formulas reading another workbook, the encoding), stored
    # untranslated (core.io_texts.Part) and said in the reader's language (`reason_text`).
    warnings: list[Part] = field(default_factory=list)
    # Rows that cannot be read as the header says, by line: they are rejected with the reason
    # (stored untranslated, core.io_texts.Part).
    row_problems: dict[int, Part] = field(default_factory=dict)
    # Cells whose value cannot be read (a formula without its result, an Excel error, a cell
    # too long), by line then 0-based column (reasons as Parts): every one is told, and a row
    # is rejected only for the cells of the columns its message uses
    # (`validation.validate_rows`).
    cell_problems: dict[int, dict[int, Part]] = field(default_factory=dict)
    # XLSX: cells ("B2") holding a formula that reads another workbook (value as saved).
    external_cells: list[str] = field(default_factory=list)
    sheet: str = ""
    hidden_lines: list[int] = field(default_factory=list)
    # XLSX: for each row, the positions of its cells that were Number cells (not text, not
    # dates); empty for CSV.
    number_cells: list[list[int]] = field(default_factory=list)
    # XLSX: the workbook's date system, 1900 or 1904 (serial numbers count days from it).
    date_system: int | None = None
    # XLSX: for each of the first PREVIEW_ROWS rows, the cells (position -> text) that Excel
    # shows otherwise than the text read (dates, number formats): for a preview only.
    shown_cells: list[dict[int, str]] = field(default_factory=list)


def parse_table(
    *,
    data: bytes,
    filename: str,
    options: ReadOptions | None = None,
    number_format: str = DEFAULT_NUMBER_FORMAT,
    mapping: bool = True,
) -> ParsedTable:
    """The header row and the data rows of an uploaded file, every cell as a stripped string.

    `number_format` ("it" or "en", `numbers.NUMBER_FORMATS`) is how XLSX Number cells are
    written. `mapping`: the operator then matches the columns on a mapping page with a
    preview (a recipient list); False when only the fiscal-code column is read, with no
    mapping page nor preview (a reachability check): the warnings' advice says so.

    Raises ImportFileError when the file is too large, has too many rows, no header, holds a
    NUL character, is a known non-list format (a PDF, an image) whatever its name, or is not
    a readable CSV/XLSX file; ImportChoiceNeeded when the operator must choose the sheet,
    what to do with hidden rows or the separator. Empty rows are skipped. No side effects.
    """
    options = options or ReadOptions()
    max_bytes = settings.RECIPIENTS_MAX_UPLOAD_BYTES
    if len(data) > max_bytes:
        raise ImportFileError(
            _("Il file è troppo grande: il massimo è %(max)s.") % {"max": size_text(max_bytes)}
        )
    if not data.strip():
        raise ImportFileError(_("Il file è vuoto."))
    if data.startswith(OLE_MAGIC):
        raise _ole_file_error(data)
    if kind := _known_binary_kind(data):
        raise ImportFileError(
            _("Il file è %(kind)s, non un elenco: carica l'elenco come CSV UTF-8 o .xlsx.")
            % {"kind": _(kind)}
        )
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        table = _parse_xlsx(data, options, number_format, mapping)
    else:
        table = _parse_csv(data, options, mapping)
    if not any(table.headers):
        raise ImportFileError(_("La prima riga del file deve contenere i nomi delle colonne."))
    if not table.rows:
        raise ImportFileError(_("Il file non contiene righe di dati dopo l'intestazione."))
    names = [header_text(header) for header in table.headers]
    table.headers, repeated = distinct_headers(names, mapping=mapping)
    table.warnings += repeated + look_alike_headers(names, mapping=mapping)
    return table


def header_text(header: str) -> str:
    """A column name as the person sees it: Unicode NFC (macOS writes "à" decomposed),
    without invisible formatting characters (`numbers.strip_invisible`: zero-width space,
    word joiner, soft hyphen, byte order mark) and with every run of spaces (no-break, narrow
    no-break, tab, line break) made one plain space. So two names that look the same are the
    same name, told apart by `distinct_headers`."""
    if header.isascii() and "  " not in header and not any(c in header for c in "\t\r\n"):
        return header.strip()
    return " ".join(strip_invisible(unicodedata.normalize("NFC", header)).split())


def _simple_header(header: str) -> str:
    """A column name without case, accents, spaces and punctuation, as the mapping guess
    compares names (`validation.guess_mapping`)."""
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKD", header.lower()))


def look_alike_headers(headers: Sequence[str], *, mapping: bool = True) -> list[Part]:
    """A warning per group of different column names that differ only by case, accents,
    spaces or punctuation ("Codice fiscale", "codice_fiscale"): offered distinctly, never
    guessed (`guess_mapping`), and the operator is told to look at which one is chosen.
    Each name is said once with its columns ("«nome» (colonne B ed E) e «Nome» (colonna
    D)"): that a name is repeated is `distinct_headers`' warning. Stored untranslated
    (core.io_texts.Part); `mapping` as for `parse_table`."""
    groups: dict[str, list[int]] = {}
    for position, header in enumerate(headers):
        if header and (simple := _simple_header(header)):
            groups.setdefault(simple, []).append(position)
    warnings = []
    for found in groups.values():
        # Each name once with all its columns: a repeated name is already told by
        # `distinct_headers`, here it is only one of the look-alikes.
        letters: dict[str, list[str]] = {}
        for position in found:
            letters.setdefault(headers[position], []).append(get_column_letter(position + 1))
        if len(letters) < 2:
            continue
        names: list[Part | str] = [
            said_n(
                N_("«%(header)s» (colonna %(letters)s)"),
                N_("«%(header)s» (colonne %(letters)s)"),
                len(its_letters),
                header=header,
                letters=_joined(its_letters),
            )
            for header, its_letters in letters.items()
        ]
        if mapping:
            text = N_(
                "Le colonne %(names)s hanno nomi che differiscono solo per maiuscole, accenti, "
                "spazi o punteggiatura: nell'abbinamento controlla di scegliere quella giusta."
            )
        else:
            text = N_(
                "Le colonne %(names)s hanno nomi che differiscono solo per maiuscole, accenti, "
                "spazi o punteggiatura: controlla che i codici fiscali siano letti da quella "
                "giusta."
            )
        warnings.append(said(text, names=_joined(names)))
    return warnings


def _known_binary_kind(data: bytes) -> str:
    """The untranslated kind of a known non-list format (`BINARY_SIGNATURES`), or ""."""
    for signatures, kind in BINARY_SIGNATURES:
        if data.startswith(signatures):
            return kind
    return ""


def _mostly_control(sample: str) -> bool:
    """More than `MAX_CONTROL_SHARE` of `sample`'s characters are control characters (Unicode
    category Cc) other than tab, line feed and carriage return."""
    if not sample:
        return False
    controls = sum(
        1 for char in sample if char not in "\t\n\r" and unicodedata.category(char) == "Cc"
    )
    return controls > len(sample) * MAX_CONTROL_SHARE


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
        % {"max": grouped(settings.RECIPIENTS_MAX_ROWS)}
    )


def _lines_text(lines: Sequence[int]) -> str:
    shown = ", ".join(str(line) for line in lines[:LINES_LISTED])
    return shown + (" …" if len(lines) > LINES_LISTED else "")


def _letters_text(letters: Sequence[str]) -> str:
    """'A ed E', 'A, C e F': Italian puts "ed" before a word starting with e."""
    if len(letters) == 1:
        return letters[0]
    last = letters[-1]
    joiner = _(" ed ") if last.startswith("E") else _(" e ")
    return ", ".join(letters[:-1]) + joiner + last


def _joined(items: Sequence[Part | str]) -> Part | str:
    """`_letters_text` translated when shown (core.io_texts.Part): 'A ed E', 'A, C e F',
    each item a text or a part."""
    if len(items) == 1:
        return items[0]
    head = items[0]
    for item in items[1:-1]:
        head = said("%(head)s, %(tail)s", head=head, tail=item)
    last = items[-1]
    joiner = N_(" ed ") if isinstance(last, str) and last.startswith("E") else N_(" e ")
    return said("%(head)s%(joiner)s%(tail)s", head=head, joiner=said(joiner), tail=last)


def distinct_headers(
    headers: Sequence[str], *, mapping: bool = True
) -> tuple[list[str], list[Part]]:
    """Headers where a repeated name is told apart by its column letter, and a warning per
    repeated name: ["cf", "nome", "cf"] -> ["cf (colonna A)", "nome", "cf (colonna C)"].

    Without this the mapping would take the last column of that name without a word. The
    warnings are stored untranslated (core.io_texts.Part); `mapping` as for `parse_table`.
    Raises ImportFileError if a told-apart name is itself a header of the file."""
    positions: dict[str, list[int]] = {}
    for position, header in enumerate(headers):
        if header:
            positions.setdefault(header, []).append(position)
    result = list(headers)
    warnings = []
    for header, found in positions.items():
        if len(found) < 2:
            continue
        letters = [get_column_letter(position + 1) for position in found]
        for position, letter in zip(found, letters, strict=True):
            result[position] = TOLD_APART % {"header": header, "letter": letter}
        if mapping:
            text = N_(
                "La colonna «%(header)s» compare %(count)s volte (colonne %(letters)s): "
                "nell'abbinamento scegli quale usare, indicata con la sua lettera."
            )
        else:
            text = N_(
                "La colonna «%(header)s» compare %(count)s volte (colonne %(letters)s): "
                "ognuna è indicata con la sua lettera."
            )
        warnings.append(said(text, header=header, count=len(found), letters=_joined(list(letters))))
    named = [header for header in result if header]
    if len(set(named)) != len(named):
        # Only a header already spelled "x (colonna B)" next to two "x" gets here.
        clash = next(header for header in named if named.count(header) > 1)
        raise ImportFileError(
            _("La colonna «%(header)s» compare più volte: rinomina le colonne e riprova.")
            % {"header": clash}
        )
    return result, warnings


def header_part(header: str) -> Part | str:
    """A column name as pages say it: a repeated name told apart by its letter
    (`TOLD_APART`) as a part translated when shown (core.io_texts.Part), "cf (column A)" in
    English; any other name as it is."""
    match = _TOLD_APART_RE.fullmatch(header)
    if match is None:
        return header
    name, letter, cell = match.groups()
    told = said(TOLD_APART, header=name, letter=letter)
    return said("%(column)s (%(cell)s)", column=told, cell=cell) if cell else told


def header_label(header: str) -> str:
    """`header_part` in the active language."""
    part = header_part(header)
    return part if isinstance(part, str) else reason_text(part)


def delimiter_label(delimiter: str) -> str:
    labels = {
        ";": _("punto e virgola (;)"),
        ",": _("virgola (,)"),
        "\t": _("tabulazione"),
        "|": _("barra verticale (|)"),
    }
    return labels.get(delimiter, delimiter)


def delimiter_part(delimiter: str) -> Part:
    """`delimiter_label` to translate when shown (core.io_texts.Part)."""
    labels = {
        ";": N_("punto e virgola (;)"),
        ",": N_("virgola (,)"),
        "\t": N_("tabulazione"),
        "|": N_("barra verticale (|)"),
    }
    return said(labels[delimiter]) if delimiter in labels else {"raw": delimiter}


# --- CSV ----------------------------------------------------------------------------------


def _decode(data: bytes, mapping: bool) -> tuple[str, str, list[Part]]:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig", []
        except UnicodeDecodeError as exc:
            raise _not_text() from exc
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode text" and some exports: UTF-16 announced by its byte order mark.
        try:
            return data.decode("utf-16"), "utf-16", []
        except UnicodeDecodeError as exc:
            raise _not_text() from exc
    if _utf16_without_bom(data[:SNIFF_BYTES]):
        raise _not_text()
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise _not_text() from exc
    if mapping:
        warning = said(
            N_(
                "Il file non è in UTF-8: è stato letto come Windows-1252. Controlla "
                "nell'anteprima che le lettere accentate siano corrette."
            )
        )
    else:
        warning = said(N_("Il file non è in UTF-8: è stato letto come Windows-1252."))
    return text, "cp1252", [warning]


def _utf16_without_bom(sample: bytes) -> bool:
    """UTF-16 without a byte order mark: Latin text then has a NUL in every other byte (more
    than half of the even or of the odd bytes are NUL). Any other NUL refuses the file as
    binary content (`_binary_content`)."""
    if b"\x00" not in sample:
        return False
    return max(sample[0::2].count(0), sample[1::2].count(0)) > len(sample) // 4


def _not_text() -> ImportFileError:
    return ImportFileError(_("Il file non è un testo leggibile: salvalo come CSV UTF-8 e riprova."))


def _reader(text: str, delimiter: str) -> Iterator[list[str]]:
    # No cell is cut short by the csv module: the file's size is already bounded, a long cell
    # is refused by its length (`_too_long`) and an unclosed quote by what it swallows.
    csv.field_size_limit(max(settings.RECIPIENTS_MAX_UPLOAD_BYTES, csv.field_size_limit()))
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')


def _fits(header: Sequence[str], record: Sequence[str]) -> bool:
    """Same columns as the header, ignoring empty cells past the last column of either."""
    width = min(len(header), len(record))
    longer = header if len(header) > len(record) else record
    return not any(cell.strip() for cell in longer[width:])


def _delimiter_score(sample: str, delimiter: str, whole: bool) -> tuple[int, int, int]:
    """(data rows with the header's columns, data rows, header columns) in the sample."""
    try:
        records = [r for r in _reader(sample, delimiter) if any(c.strip() for c in r)]
    except csv.Error:
        return 0, 1, 0
    if not whole and len(records) > 1:
        records.pop()  # the sample may end inside the last record
    if not records:
        return 0, 0, 0
    header, data = records[0], records[1:]
    width = len([c for c in header if c.strip()])
    return sum(1 for r in data if _fits(header, r)), len(data), width


def _delimiter_choices() -> list[tuple[str, str]]:
    return [(d, delimiter_label(d)) for d in CSV_DELIMITERS]


def _choose_delimiter(text: str, chosen: str) -> str:
    """The operator's separator, or the one under which the most rows have the header's
    columns (then the one giving more columns, then ; , tab |). Whether the rows really fit
    is checked on the whole file by _parse_csv. Raises ImportChoiceNeeded when the operator's
    separator leaves the header in one column while another separator splits it."""
    sample = text[:SNIFF_BYTES]
    whole = len(text) <= SNIFF_BYTES
    scores = {d: _delimiter_score(sample, d, whole) for d in CSV_DELIMITERS}
    if chosen:
        if scores[chosen][2] <= 1 and any(score[2] > 1 for score in scores.values()):
            raise ImportChoiceNeeded(
                _(
                    "Con il separatore %(delimiter)s l'intestazione è una sola colonna: scegli "
                    "un altro separatore e premi %(button)s."
                ),
                values={"delimiter": delimiter_label(chosen)},
                field="delimiter",
                choices=_delimiter_choices(),
            )
        return chosen
    # A separator must split the header to count, unless none does (a one-column file).
    splitting = [d for d in CSV_DELIMITERS if scores[d][2] > 1] or [","]
    return max(splitting, key=lambda d: (scores[d][0], scores[d][2], -CSV_DELIMITERS.index(d)))


def _no_row_fits(delimiter: str, chosen: str) -> ImportChoiceNeeded:
    if chosen:
        message = _(
            "Con il separatore %(delimiter)s nessuna riga ha le colonne dell'intestazione: "
            "scegli un altro separatore e premi %(button)s."
        )
    else:
        message = _(
            "Non è chiaro quale carattere separi le colonne: nessuna riga ha le colonne "
            "dell'intestazione. Scegli il separatore e premi %(button)s."
        )
    return ImportChoiceNeeded(
        message,
        values={"delimiter": delimiter_label(delimiter)},
        field="delimiter",
        choices=_delimiter_choices(),
    )


def _unnamed_header_columns(sample: str) -> ImportFileError | None:
    """When no separator gives the rows the header's named columns, the one that does once
    the header's columns without a name count: "Codice fiscale;;;" over rows of 4 fields.
    The error names those columns (B, C, D) and says to name them; None when no separator
    explains the file so."""
    for delimiter in CSV_DELIMITERS:
        try:
            records = [r for r in _reader(sample, delimiter) if any(c.strip() for c in r)]
        except csv.Error:
            continue
        if len(records) < 2 or len(records[0]) < 2:
            continue
        header, data = records[0], records[1:]
        unnamed = [i for i, cell in enumerate(header) if not cell.strip()]
        if not unnamed or not any(len(r) == len(header) for r in data):
            continue
        fitting = sum(1 for r in data if len(r) == len(header))
        if fitting * 2 < len(data):
            continue
        letters = [get_column_letter(i + 1) for i in unnamed]
        return ImportFileError(
            ngettext(
                "Con il separatore %(delimiter)s le righe hanno le %(count)s colonne "
                "dell'intestazione, ma la colonna %(letters)s non ha un nome nella prima riga. "
                "Scrivi nella prima riga il nome di ogni colonna (per esempio «Nome», "
                "«Importo») e carica di nuovo il file.",
                "Con il separatore %(delimiter)s le righe hanno le %(count)s colonne "
                "dell'intestazione, ma le colonne %(letters)s non hanno un nome nella prima "
                "riga. Scrivi nella prima riga il nome di ogni colonna (per esempio «Nome», "
                "«Importo») e carica di nuovo il file.",
                len(letters),
            )
            % {
                "delimiter": delimiter_label(delimiter),
                "count": len(header),
                "letters": _letters_text(letters),
            }
        )
    return None


def _swallowing_quote(record: Sequence[str], header: Sequence[str], delimiter: str) -> bool:
    """A cell holding whole rows: a quote opened it and closed only rows later (or never)."""
    width = max(2, len([c for c in header if c.strip()]))
    for cell in record:
        lines = cell.splitlines()
        if len(lines) > 1 and any(line.count(delimiter) + 1 >= width for line in lines[1:]):
            return True
    return False


def _has_line_break(record: Sequence[str]) -> bool:
    return any("\n" in cell or "\r" in cell for cell in record)


# A cell of data rather than a column name: a number, a date, a code (two digits in a row).
DATA_LIKE_RE = re.compile(r"\d\d|^[\d\s.,/:+-]*$")


def _header_like(cells: Sequence[Any]) -> bool:
    """Whether a row reads as column names: at least two texts, none of them a number, a
    date or a code (a fiscal code, an amount written as text)."""
    texts = [cell.strip() for cell in cells if isinstance(cell, str) and cell.strip()]
    filled = [cell for cell in cells if cell is not None and str(cell).strip()]
    return (
        len(texts) >= 2
        and len(texts) == len(filled)
        and not any(DATA_LIKE_RE.search(text) for text in texts)
    )


def _csv_title(sample: str, chosen: str) -> str:
    """The cell ("A1") of a title line above the header, as Excel saves a title row: one
    non-empty cell and the separators of the other columns ("Elenco;;"), then a line of as
    many cells that reads as column names (`_header_like`). "" otherwise."""
    for delimiter in chosen or CSV_DELIMITERS:
        try:
            records = list(islice(_reader(sample, delimiter), 2))
        except csv.Error:
            continue
        if len(records) < 2 or len(records[0]) < 2 or len(records[0]) != len(records[1]):
            continue
        named = [position for position, cell in enumerate(records[0]) if cell.strip()]
        if len(named) == 1 and _header_like(records[1]):
            return f"{get_column_letter(named[0] + 1)}1"
    return ""


def _parse_csv(data: bytes, options: ReadOptions, mapping: bool) -> ParsedTable:
    text, encoding, warnings = _decode(data, mapping)
    if "\x00" in text:
        raise _binary_content()
    if _mostly_control(text[:SNIFF_BYTES]):
        raise _not_text()
    # Excel writes, and honours, a first line "sep=;" that it does not show as a row.
    hint = SEP_LINE_RE.match(text)
    if hint:
        text = text[hint.end() :]
    chosen = options.delimiter or (hint.group(1) if hint else "")
    if title := _csv_title(text[:SNIFF_BYTES], chosen):
        raise _title_row(title)
    delimiter = _choose_delimiter(text, chosen)
    max_rows = settings.RECIPIENTS_MAX_ROWS
    odd_quotes = text.count('"') % 2 == 1
    headers: list[str] = []
    rows: list[list[str]] = []
    lines: list[int] = []
    problems: dict[int, Part] = {}
    cell_problems: dict[int, dict[int, Part]] = {}
    misfits: list[int] = []
    # The spreadsheet row of the record being read: one per record, however many line
    # breaks (LF, CRLF, lone CR) its quoted cells hold.
    line = 0
    reader = _reader(text, delimiter)
    last: tuple[int, list[str]] | None = None
    try:
        for line, record in enumerate(reader, start=1):
            if line == 1:
                headers = [cell.strip() for cell in record]
                continue
            if not any(cell.strip() for cell in record):
                continue
            if _has_line_break(record):
                if not _fits(headers, record) or _swallowing_quote(record, headers, delimiter):
                    raise _unclosed_quote(line)
                last = (line, record)
            if len(rows) >= max_rows:
                raise _too_many_rows()
            cells = [cell.strip() for cell in record]
            if not _fits(headers, cells):
                misfits.append(line)
                problems[line] = said(
                    N_(
                        "Con il separatore %(delimiter)s la riga ha %(found)s colonne invece "
                        "delle %(expected)s dell'intestazione: i valori sarebbero spostati. "
                        "Controlla separatori e virgolette nella riga."
                    ),
                    delimiter=delimiter_part(delimiter),
                    found=len(cells),
                    expected=len(headers),
                )
            else:
                found = {
                    column: _error_cell_problem(column, cell, line)
                    if cell in CSV_ERROR_TEXTS
                    else _too_long(column, line)
                    for column, cell in enumerate(cells)
                    if cell in CSV_ERROR_TEXTS or len(cell) > MAX_CELL_CHARS
                }
                if found:
                    cell_problems[line] = found
            if len(cells) > len(headers):
                cells = cells[: len(headers)]  # only empty cells beyond the header (see _fits)
            rows.append(cells)
            lines.append(line)
    except csv.Error as exc:
        raise _csv_error(exc, line + 1) from exc
    # A quote never closed takes everything up to the end of the file into its cell.
    if last is not None and odd_quotes and last[0] == (lines[-1] if lines else 0):
        raise _unclosed_quote(last[0])
    if rows and len(misfits) == len(rows):
        if not chosen and (unnamed := _unnamed_header_columns(text[:SNIFF_BYTES])):
            raise unnamed
        raise _no_row_fits(delimiter, options.delimiter)
    if misfits:
        warnings.append(
            said_n(
                N_(
                    "La riga %(lines)s non ha le colonne dell'intestazione: sarà scartata con "
                    "il motivo. Se il separatore è sbagliato, scegline un altro e carica di "
                    "nuovo il file."
                ),
                N_(
                    "%(count)s righe non hanno le colonne dell'intestazione (righe %(lines)s): "
                    "saranno scartate con il motivo. Se il separatore è sbagliato, scegline un "
                    "altro e carica di nuovo il file."
                ),
                len(misfits),
                count=len(misfits),
                lines=_lines_text(misfits),
            )
        )
    return ParsedTable(
        headers=headers,
        rows=rows,
        lines=lines,
        file_format="csv",
        encoding=encoding,
        delimiter=delimiter,
        warnings=warnings,
        row_problems=problems,
        cell_problems=cell_problems,
    )


def _too_long(column: int, line: int) -> Part:
    """A cell is never cut: its row is rejected (IO's longest text is 10,000 characters)."""
    return said(
        N_(
            "La cella %(cell)s supera %(max)s caratteri: accorcia il testo nel file e caricalo "
            "di nuovo."
        ),
        cell=f"{get_column_letter(column + 1)}{line}",
        max=MAX_CELL_CHARS,
    )


def _uncalculated_problem(column: int, line: int) -> Part:
    return said(
        N_(
            "La cella %(cell)s contiene una formula di cui il file non ha salvato il "
            "risultato: apri il file con Excel o LibreOffice, salvalo e caricalo di nuovo."
        ),
        cell=f"{get_column_letter(column + 1)}{line}",
    )


def _unclosed_quote(line: int) -> ImportFileError:
    return ImportFileError(
        _(
            'Alla riga %(line)s una virgoletta (") apre una cella che non viene chiusa: le righe '
            "seguenti finirebbero dentro quella cella. Chiudi o togli la virgoletta e carica di "
            "nuovo il file."
        )
        % {"line": line}
    )


def _csv_error(exc: csv.Error, line: int) -> ImportFileError:
    """The csv module's English error as an Italian sentence for the operator."""
    return ImportFileError(
        _(
            "Il file CSV non è leggibile alla riga %(line)s: controlla virgolette e separatori, "
            "oppure salvalo di nuovo come CSV UTF-8."
        )
        % {"line": line}
    )


# --- XLSX ---------------------------------------------------------------------------------


def _ole_file_error(data: bytes) -> ImportFileError:
    if ENCRYPTED_PACKAGE in data:
        return ImportFileError(
            _(
                "Il file Excel è protetto da password: il portale non può leggerlo. Salvalo "
                "senza password (File > Informazioni > Proteggi cartella di lavoro) o come CSV "
                "UTF-8 e caricalo di nuovo."
            )
        )
    return ImportFileError(
        _(
            "Il file è nel vecchio formato di Excel 97-2003 (.xls): salvalo come cartella di "
            "lavoro Excel (.xlsx) o come CSV UTF-8."
        )
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
        return YES if value else NO
    text = str(value)
    if "\x00" in text:
        raise _binary_content()
    return text.strip()


def _is_number(value: object) -> bool:
    """An XLSX Number cell's value (openpyxl gives dates and booleans their own types)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class _NumberFormats:
    """The number format code of each cell style of a workbook (a cell's `s` attribute), as
    openpyxl's read-only cells look it up, once per style."""

    def __init__(self, workbook: Any) -> None:
        self.workbook = workbook
        self.codes: dict[int, str] = {}

    def code(self, style_id: int) -> str:
        """The format code of `style_id`; "General" when the style is missing, as in
        workbooks written by some tools (openpyxl itself never needs it to read the value)."""
        code = self.codes.get(style_id)
        if code is None:
            try:
                format_id = self.workbook._cell_styles[style_id].numFmtId
                if format_id < BUILTIN_FORMATS_MAX_SIZE:
                    code = BUILTIN_FORMATS.get(format_id, "General")
                else:
                    code = self.workbook._number_formats[format_id - BUILTIN_FORMATS_MAX_SIZE]
            except (IndexError, KeyError, AttributeError, TypeError):
                code = "General"
            code = str(code or "General")
            self.codes[style_id] = code
        return code


def _check_workbook_archive(data: bytes) -> None:
    """Refuse, saying why, a ZIP that is not an Excel workbook or is too large unpacked."""
    unreadable = ImportFileError(
        _("Il file Excel non è leggibile: salvalo di nuovo in formato .xlsx o come CSV.")
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > XLSX_MAX_ENTRIES:
                raise unreadable
            names = {entry.filename for entry in entries}
            uncompressed = sum(entry.file_size for entry in entries)
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except zipfile.BadZipFile as exc:
        raise unreadable from exc
    if b"opendocument" in mimetype:
        raise ImportFileError(
            _(
                "Il file è un foglio di calcolo OpenDocument (.ods): salvalo come cartella di "
                "lavoro Excel (.xlsx) o come CSV UTF-8."
            )
        )
    if "xl/workbook.bin" in names:
        raise ImportFileError(
            _(
                "Il file è una cartella di lavoro binaria di Excel (.xlsb): salvala come "
                "cartella di lavoro Excel (.xlsx) o come CSV UTF-8."
            )
        )
    if "[Content_Types].xml" not in names or not any(
        name.startswith("xl/") and name.endswith("workbook.xml") for name in names
    ):
        raise ImportFileError(
            _(
                "Il file è un archivio ZIP ma non una cartella di lavoro Excel: carica il file "
                ".xlsx dell'elenco o un CSV."
            )
        )
    if uncompressed > settings.RECIPIENTS_XLSX_MAX_UNCOMPRESSED_BYTES:
        raise ImportFileError(
            _("Il file Excel è troppo grande una volta decompresso: dividilo in più file.")
        )
    _check_shared_strings(data, names)


def _count_elements(archive: zipfile.ZipFile, name: str, pattern: re.Pattern[bytes]) -> int:
    """How many elements `pattern` matches in the part `name`, read unpacked 1 MiB at a
    time (the archive's unpacked size is already bounded)."""
    count, carry = 0, b""
    with archive.open(name) as source:
        while chunk := source.read(1 << 20):
            block = carry + chunk
            # An element cut at the chunk's end is counted with the next chunk.
            cut = block.rfind(b"<")
            if cut < 0:
                cut = len(block)
            count += sum(1 for _match in pattern.finditer(block, 0, cut))
            carry = block[cut:]
    return count + sum(1 for _match in pattern.finditer(carry))


def _check_shared_strings(data: bytes, names: set[str]) -> None:
    """Refuse a workbook whose shared strings table holds more entries than its sheets have
    cells (plus XLSX_SHARED_STRINGS_SLACK): openpyxl reads the whole table before the first
    row, some ten seconds per million entries, so a small file of a few cells and millions of
    strings nobody uses would keep the upload busy for minutes. Counted on the unpacked XML
    (about a second for the largest table the unpacked-size limit lets in), before openpyxl
    reads anything. Raises ImportFileError."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            # The parts as openpyxl finds them: by their content type.
            manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
            table = manifest.find(SHARED_STRINGS)
            if table is None or table.PartName[1:] not in names:
                return
            entries = _count_elements(archive, table.PartName[1:], _SHARED_STRING_TAG)
            if entries <= XLSX_SHARED_STRINGS_SLACK:
                return
            sheets = {part.PartName[1:] for part in manifest.findall(WORKSHEET_TYPE)}
            sheets |= {name for name in names if name.lower().startswith("xl/worksheets/")}
            cells = sum(
                _count_elements(archive, name, _CELL_TAG)
                for name in sheets & names
                if name.lower().endswith(".xml")
            )
    except Exception as exc:  # a damaged archive or manifest
        raise ImportFileError(
            _("Il file Excel non è leggibile: salvalo di nuovo in formato .xlsx o come CSV.")
        ) from exc
    if entries > cells + XLSX_SHARED_STRINGS_SLACK:
        raise ImportFileError(
            _(
                "Il file Excel contiene %(entries)s testi ma i suoi fogli solo %(cells)s celle: "
                "non è un elenco che il portale possa leggere. Aprilo con Excel o LibreOffice, "
                "salvalo di nuovo e caricalo, oppure salvalo come CSV UTF-8."
            )
            % {"entries": grouped(entries), "cells": grouped(cells)}
        )


class _SheetParser(WorkSheetParser):
    """openpyxl's sheet parser, also telling which formula cells hold no saved result (a file
    written by a program, never opened in Excel): read as empty, they would change a value
    the spreadsheet shows; and which formulas read another workbook (their value is the one
    saved with the file, maybe older than that workbook's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Shared formulas (t="shared") are written once, in their first cell: by their `si`.
        self.external_shared: dict[str, bool] = {}

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell: dict[str, Any] = super().parse_cell(element)
        formula = element.find(FORMULA_TAG)
        cell["uncalculated"] = cell["value"] is None and formula is not None
        cell["external"] = False
        if formula is not None:
            external = bool(EXTERNAL_REFERENCE_RE.search(formula.text or ""))
            shared = formula.get("si")
            if shared is not None:
                if formula.text:
                    self.external_shared[shared] = external
                external = self.external_shared.get(shared, external)
            cell["external"] = external
        # An error value (#N/A, #DIV/0!...) Excel saved; openpyxl also turns a date serial out
        # of Excel's range into "#VALUE!", which is not what the person sees.
        cell["error"] = ""
        if cell["data_type"] == "e":
            cell["error"] = str(cell["value"]) if element.get("t") == "e" else OUT_OF_RANGE_DATE
        return cell


@dataclass
class _SheetRow:
    number: int
    hidden: bool
    values: list[Any]  # from column A on
    styles: list[int]  # the cell style of each value (its number format), 0 when none
    uncalculated: list[int]  # 0-based columns of formulas without a saved result
    errors: list[tuple[int, str]]  # 0-based columns holding an error value, and the value
    external: list[int] = field(default_factory=list)  # formulas reading another workbook

    def texts(
        self, width: int, formats: _NumberFormats, number_format: str
    ) -> tuple[list[str], list[int]]:
        """The texts of the first `width` cells and the positions of the Number cells among
        them, written as Excel shows them in the chosen number convention."""
        texts: list[str] = []
        numbers: list[int] = []
        for position, value in enumerate(self.values[:width]):
            if _is_number(value):
                excel_format = formats.code(self.styles[position])
                texts.append(excel_number_text(value, excel_format, number_format))
                numbers.append(position)
            else:
                texts.append(_xlsx_cell(value))
        return texts, numbers

    def shown(self, texts: Sequence[str], formats: _NumberFormats) -> dict[int, str]:
        """The cells among `texts` (from texts()) that Excel shows otherwise: dates as
        dd/mm/yyyy, Number cells with their number format the Italian way."""
        shown: dict[int, str] = {}
        for position, value in enumerate(self.values[: len(texts)]):
            if _is_number(value):
                excel_text = excel_shown_text(value, formats.code(self.styles[position]))
            elif isinstance(value, datetime):
                midnight = value.time() == time(0, 0)
                excel_text = value.strftime("%d/%m/%Y" if midnight else "%d/%m/%Y %H:%M")
            elif isinstance(value, date):
                excel_text = value.strftime("%d/%m/%Y")
            else:
                continue
            if excel_text != texts[position]:
                shown[position] = excel_text
        return shown


def _sheet_rows(
    sheet: ReadOnlyWorksheet,
    merged: list[str] | None = None,
    hidden_columns: list[int] | None = None,
) -> Iterator[_SheetRow]:
    """Each row the sheet's XML holds, numbered as Excel shows it.

    Read as openpyxl's read-only `iter_rows` reads them (same parser, same values), but
    without its reliance on the declared sheet size (`<dimension ref="A1">` would stop it at
    the first cell) and keeping the row attributes it drops: a row hidden by a filter or a
    grouping has hidden="1" (or a zero height). Once every row is read, `merged` (when given)
    receives the sheet's merged ranges ("A2:A3"), which its XML lists after the rows, and
    `hidden_columns` (when given) the 0-based columns Excel does not show (hidden="1" or a
    zero width on their <col> element)."""
    workbook = sheet.parent
    with sheet._get_source() as source:
        parser = _SheetParser(
            source,
            sheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        for number, cells in parser.parse():
            attributes = parser.row_dimensions.get(str(number), {})
            hidden = attributes.get("hidden") in ("1", "true") or attributes.get("ht") in (
                "0",
                "0.0",
            )
            width = max((cell["column"] for cell in cells), default=0)
            values: list[Any] = [None] * width
            styles = [0] * width
            for cell in cells:
                values[cell["column"] - 1] = cell["value"]
                styles[cell["column"] - 1] = cell["style_id"]
            uncalculated = [cell["column"] - 1 for cell in cells if cell["uncalculated"]]
            errors = [(cell["column"] - 1, cell["error"]) for cell in cells if cell["error"]]
            external = [cell["column"] - 1 for cell in cells if cell["external"]]
            yield _SheetRow(number, hidden, values, styles, uncalculated, errors, external)
        if merged is not None and parser.merged_cells is not None:
            merged += [str(cell_range.ref) for cell_range in parser.merged_cells.mergeCell]
        if hidden_columns is not None:
            for attributes in parser.column_dimensions.values():
                if attributes.get("hidden") in ("1", "true") or attributes.get("width") in (
                    "0",
                    "0.0",
                ):
                    first = int(attributes.get("min", 1))
                    last = min(int(attributes.get("max", first)), first + XLSX_MAX_COLUMNS)
                    hidden_columns += range(first - 1, last)


def _has_data(sheet: ReadOnlyWorksheet) -> bool:
    return any(
        row.uncalculated or any(_is_number(value) or _xlsx_cell(value) for value in row.values)
        for row in _sheet_rows(sheet)
    )


def _sheet_choices(workbook: Any) -> list[tuple[str, str]]:
    return [
        (
            sheet.title,
            sheet.title
            if sheet.sheet_state == "visible"
            else _("%(sheet)s (foglio nascosto)") % {"sheet": sheet.title},
        )
        for sheet in workbook.worksheets
    ]


def _choose_sheet(workbook: Any, chosen: str) -> ReadOnlyWorksheet:
    """The operator's sheet; else the only sheet, or the only one holding data if visible.

    Raises ImportChoiceNeeded otherwise: a first sheet of instructions must never become a
    list of recipients."""
    sheets = list(workbook.worksheets)
    if chosen:
        for sheet in sheets:
            if sheet.title == chosen:
                return sheet
        raise ImportChoiceNeeded(
            _("Il foglio «%(sheet)s» non è nel file: scegli uno dei suoi fogli.")
            % {"sheet": chosen},
            field="sheet",
            choices=_sheet_choices(workbook),
        )
    if len(sheets) == 1:
        return sheets[0]
    # A hidden sheet with data (a lookup list, the real data) makes the choice the operator's.
    with_data = [s for s in sheets if _has_data(s)]
    if len(with_data) == 1 and with_data[0].sheet_state == "visible":
        return with_data[0]
    raise ImportChoiceNeeded(
        _("Il file ha più fogli (%(sheets)s): scegli quello con %(holds)s e premi %(button)s."),
        values={"sheets": ", ".join(f"«{s.title}»" for s in sheets)},
        field="sheet",
        choices=_sheet_choices(workbook),
    )


def _empty_sheet(workbook: Any, title: str, *, named: bool) -> ImportChoiceNeeded:
    """The sheet read holds no recipients (a sheet of instructions, an empty one) but the
    workbook has others: the operator is told which, and offered them."""
    others = [(value, label) for value, label in _sheet_choices(workbook) if value != title]
    if named:
        message = _(
            "Il foglio «%(sheet)s» non contiene righe di dati dopo l'intestazione. Il file ha "
            "anche %(others)s: scegli il foglio con %(holds)s e premi %(button)s."
        )
    else:
        message = _(
            "Il foglio «%(sheet)s» è vuoto. Il file ha anche %(others)s: scegli il foglio con "
            "%(holds)s e premi %(button)s."
        )
    names = [_("«%(header)s»") % {"header": value} for value, _label in others]
    return ImportChoiceNeeded(
        message,
        values={
            "sheet": title,
            "others": ngettext("il foglio %(names)s", "i fogli %(names)s", len(names))
            % {"names": _letters_text(names)},
        },
        field="sheet",
        choices=others,
    )


def _parse_xlsx(
    data: bytes, options: ReadOptions, number_format: str, mapping: bool
) -> ParsedTable:
    _check_workbook_archive(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ImportFileError(
            _("Il file Excel non è leggibile: salvalo di nuovo in formato .xlsx o come CSV.")
        ) from exc
    try:
        sheet = _choose_sheet(workbook, options.sheet)
        several = len(workbook.worksheets) > 1
        date_system = 1904 if workbook.epoch == CALENDAR_MAC_1904 else 1900
        formats = _NumberFormats(workbook)
        headers: list[str] = []
        max_rows = settings.RECIPIENTS_MAX_ROWS
        rows: list[list[str]] = []
        lines: list[int] = []
        number_cells: list[list[int]] = []
        shown_cells: list[dict[int, str]] = []
        hidden_lines: list[int] = []
        problems: dict[int, Part] = {}
        cell_problems: dict[int, dict[int, Part]] = {}
        external_cells: list[str] = []
        merged: list[str] = []
        hidden_columns: list[int] = []
        header_line = 0
        title = ""
        for row in _sheet_rows(sheet, merged, hidden_columns):
            line, hidden = row.number, row.hidden
            if not headers:
                # The first row holding anything names the columns.
                headers, _numbers = row.texts(len(row.values), formats, number_format)
                while headers and not headers[-1]:
                    headers.pop()
                header_line = line
                if row.errors:
                    column, error = row.errors[0]
                    raise ImportFileError(
                        _(
                            "L'intestazione ha un errore di Excel nella cella %(cell)s "
                            "(%(error)s): scrivi il nome della colonna e carica di nuovo il file."
                        )
                        % {"cell": f"{get_column_letter(column + 1)}{line}", "error": error}
                    )
                continue
            if not lines and _title_above_header(headers, row.values):
                # Said once the merged ranges are known: the title may be merged over columns.
                title = f"{get_column_letter(_title_column(headers) + 1)}{header_line}"
            record, numbers = row.texts(len(headers), formats, number_format)
            uncalculated = [column for column in row.uncalculated if column < len(headers)]
            errors = [(column, error) for column, error in row.errors if column < len(headers)]
            if not any(record) and not uncalculated:
                continue
            record += [""] * (len(headers) - len(record))
            if hidden:
                hidden_lines.append(line)
                if options.hidden_rows != HiddenRows.INCLUDE:
                    continue
            if len(rows) >= max_rows:
                raise _too_many_rows()
            # Every unreadable cell of the row, by column (one reason per cell).
            found = {column: _uncalculated_problem(column, line) for column in uncalculated}
            for column, error in errors:
                found.setdefault(column, _error_cell_problem(column, error, line))
            for column, text in enumerate(record):
                if len(text) > MAX_CELL_CHARS:
                    found.setdefault(column, _too_long(column, line))
            if found:
                cell_problems[line] = dict(sorted(found.items()))
            external_cells += [
                f"{get_column_letter(column + 1)}{line}"
                for column in row.external
                if column < len(headers) and column not in found
            ]
            rows.append(record)
            lines.append(line)
            number_cells.append(numbers)
            if len(rows) <= PREVIEW_ROWS:
                shown_cells.append(row.shown(record, formats))
        _merged_cells_problems(merged, headers, header_line, lines, problems)
        if title:
            raise _title_row(title)
        if not rows and several:
            raise _empty_sheet(workbook, sheet.title, named=any(headers))
    except ImportFileError:
        raise
    except Exception as exc:  # a damaged sheet part
        raise ImportFileError(
            _("Il file Excel non è leggibile: salvalo di nuovo in formato .xlsx o come CSV.")
        ) from exc
    finally:
        workbook.close()
    warnings: list[Part] = []
    if several:
        warnings.append(said(N_("È stato letto il foglio «%(sheet)s»."), sheet=sheet.title))
    if hidden_lines:
        warnings.append(_hidden_rows_outcome(sheet.title, hidden_lines, options.hidden_rows))
    if named_hidden := sorted({c for c in hidden_columns if c < len(headers) and headers[c]}):
        warnings.append(_hidden_columns_warning(headers, named_hidden, mapping))
    if external_cells:
        warnings.append(_external_cells_warning(headers, external_cells, mapping))
    return ParsedTable(
        headers=headers,
        rows=rows,
        lines=lines,
        file_format="xlsx",
        warnings=warnings,
        row_problems=problems,
        cell_problems=cell_problems,
        external_cells=external_cells,
        sheet=sheet.title,
        hidden_lines=hidden_lines,
        number_cells=number_cells,
        date_system=date_system,
        shown_cells=shown_cells,
    )


def problem_cell(reason: Part | str, line: int) -> tuple[int, str] | None:
    """The cell a structure problem of row `line` names ("La cella B2 contiene una
    formula…"): its 0-based column and its reference ("B2"); None when it names none."""
    text = reason_text(reason)  # the cell's reference reads the same in every language
    match = re.search(rf"\b([A-Z]{{1,3}}){line}\b", text)
    if match is None:
        return None
    return column_index_from_string(match.group(1)) - 1, match.group(0)


def _error_cell_problem(column: int, error: str, line: int) -> Part:
    """The reason a row is rejected for its cell holding an Excel error value."""
    cell = f"{get_column_letter(column + 1)}{line}"
    if error == OUT_OF_RANGE_DATE:
        return said(
            N_(
                "La cella %(cell)s è formattata come data ma contiene un numero che non è una "
                "data di Excel: correggi il valore nel file e caricalo di nuovo."
            ),
            cell=cell,
        )
    return said(
        N_(
            "La cella %(cell)s contiene l'errore di Excel «%(error)s» al posto di un valore: "
            "correggi la formula o il dato nel file e caricalo di nuovo."
        ),
        cell=cell,
        error=EXCEL_ERRORS_ITALIAN.get(error, error),
    )


def _title_column(headers: Sequence[str]) -> int:
    """The 0-based column of the only named header cell, or -1 when there are not exactly one."""
    named = [position for position, header in enumerate(headers) if header]
    return named[0] if len(named) == 1 else -1


def _title_above_header(headers: Sequence[str], values: Sequence[Any]) -> bool:
    """Whether the first row is a title over the real header: a single named cell, above a
    row that reads as column names (`_header_like`) and fills columns the first row leaves
    empty."""
    column = _title_column(headers)
    return (
        column >= 0
        and _header_like(values)
        and any(v is not None for i, v in enumerate(values) if i != column)
    )


def _title_row(cells: str) -> ImportFileError:
    return ImportFileError(
        _(
            "La prima riga sembra un titolo (%(cells)s): eliminala, l'intestazione con i nomi "
            "delle colonne deve essere la prima riga. Poi carica di nuovo il file."
        )
        % {"cells": cells}
    )


def _merged_cells_problems(
    merged: Sequence[str],
    headers: Sequence[str],
    header_line: int,
    lines: Sequence[int],
    problems: dict[int, Part],
) -> None:
    """Reject the rows crossed by merged cells (their value shows on several cells but is
    saved in the first one only, so the others would read as empty), or refuse the file when
    the header has merged cells: saying that the first row is a title when it is one cell
    merged over several columns. Ranges right of the header's columns are ignored; each row
    is visited once however many ranges cover it."""
    width = len(headers)
    ranges = []
    for ref in merged:
        min_col, min_row, max_col, max_row = range_boundaries(ref)
        if min_col is None or min_row is None or max_row is None or min_col > width:
            continue
        title = min_row == max_row == header_line and min_col == _title_column(headers) + 1
        if title and max_col is not None and max_col > min_col:
            raise _title_row(ref)
        if min_row <= header_line <= max_row:
            raise ImportFileError(
                _(
                    "L'intestazione ha celle unite (%(cells)s): separale, scrivi il nome di ogni "
                    "colonna nella sua cella e carica di nuovo il file."
                )
                % {"cells": ref}
            )
        ranges.append((min_row, max_row, ref))
    if not ranges or not lines:
        return
    present = set(lines)
    covered = header_line
    for min_row, max_row, ref in sorted(ranges):
        for line in range(max(min_row, covered + 1), min(max_row, lines[-1]) + 1):
            if line in present and line not in problems:
                problems[line] = said(
                    N_(
                        "La riga è in un gruppo di celle unite (%(cells)s): Excel mostra il "
                        "valore su più celle ma lo salva in una sola, quindi le altre risultano "
                        "vuote. Separa le celle, scrivi il valore in ognuna e carica di nuovo il "
                        "file."
                    ),
                    cells=ref,
                )
        covered = max(covered, max_row)


def _hidden_rows_outcome(sheet: str, lines: list[int], choice: str) -> Part:
    """The sentence about hidden rows (core.io_texts.Part); raises ImportChoiceNeeded if the
    operator has not said whether they are recipients."""
    values = {"count": len(lines), "lines": _lines_text(lines), "sheet": sheet}
    if choice == HiddenRows.INCLUDE:
        return said_n(
            N_("La riga nascosta del foglio (riga %(lines)s) è stata letta, come hai scelto."),
            N_(
                "Le %(count)s righe nascoste del foglio (righe %(lines)s) sono state lette, "
                "come hai scelto."
            ),
            len(lines),
            count=len(lines),
            lines=values["lines"],
        )
    if choice == HiddenRows.EXCLUDE:
        return said_n(
            N_("La riga nascosta del foglio (riga %(lines)s) non è stata letta, come hai scelto."),
            N_(
                "Le %(count)s righe nascoste del foglio (righe %(lines)s) non sono state "
                "lette, come hai scelto."
            ),
            len(lines),
            count=len(lines),
            lines=values["lines"],
        )
    raise ImportChoiceNeeded(
        ngettext(
            "Il foglio «%(sheet)s» ha una riga nascosta (riga %(lines)s), per esempio da un "
            "filtro: scegli se è un destinatario e premi %(button)s.",
            "Il foglio «%(sheet)s» ha %(count)s righe nascoste (righe %(lines)s), per esempio "
            "da un filtro: scegli se sono destinatari e premi %(button)s.",
            len(lines),
        ),
        values=values,
        field="hidden_rows",
        choices=hidden_rows_choices(),
    )


def _hidden_columns_warning(headers: Sequence[str], columns: Sequence[int], mapping: bool) -> Part:
    """The sentence about named columns that Excel does not show (core.io_texts.Part): they
    are read like the others, and the operator is told so that a hidden column (an old code,
    a working copy) is not chosen in the mapping, or read as the fiscal codes, without
    knowing."""
    names = _joined(
        [
            said(
                N_("%(letter)s («%(header)s»)"),
                letter=get_column_letter(column + 1),
                header=headers[column],
            )
            for column in columns
        ]
    )
    if mapping:
        singular = N_(
            "La colonna %(columns)s è nascosta in Excel: è stata letta come le altre. "
            "Nell'abbinamento controlla di sceglierla solo se contiene i dati giusti."
        )
        plural = N_(
            "Le colonne %(columns)s sono nascoste in Excel: sono state lette come le altre. "
            "Nell'abbinamento controlla di sceglierle solo se contengono i dati giusti."
        )
    else:
        singular = N_(
            "La colonna %(columns)s è nascosta in Excel: è stata letta come le altre. "
            "Controlla che i codici fiscali siano letti da questa colonna solo se contiene "
            "quelli giusti."
        )
        plural = N_(
            "Le colonne %(columns)s sono nascoste in Excel: sono state lette come le altre. "
            "Controlla che i codici fiscali siano letti da una di queste colonne solo se "
            "contiene quelli giusti."
        )
    return said_n(singular, plural, len(columns), columns=names)


def _external_cells_warning(headers: Sequence[str], cells: Sequence[str], mapping: bool) -> Part:
    """The sentence about formulas that take their value from another workbook
    (core.io_texts.Part): the value read is the one saved in the file the last time Excel
    computed it, which may be older than the other workbook's. Names the cells (the first
    CELLS_LISTED) and their columns; the preview to look at them in only with `mapping`."""
    columns: list[Part | str] = []
    for reference in cells:
        letters = reference.rstrip("0123456789")
        name = headers[column_index_from_string(letters) - 1]
        label: Part | str = said(N_("«%(header)s»"), header=name) if name else letters
        if label not in columns:
            columns.append(label)
    shown = ", ".join(cells[:CELLS_LISTED]) + (" …" if len(cells) > CELLS_LISTED else "")
    if mapping:
        singular = N_(
            "La cella %(cells)s (%(columns)s) prende il valore da un'altra cartella di "
            "lavoro Excel: è stato letto il valore salvato in questo file, che può non essere "
            "aggiornato. Controllalo nell'anteprima, oppure in Excel sostituisci la formula con "
            "il suo valore (Copia, Incolla speciale > Valori) e carica di nuovo il file."
        )
        plural = N_(
            "%(count)s celle (%(cells)s; %(columns)s) prendono il valore da un'altra "
            "cartella di lavoro Excel: è stato letto il valore salvato in questo file, che può "
            "non essere aggiornato. Controllali nell'anteprima, oppure in Excel sostituisci le "
            "formule con i loro valori (Copia, Incolla speciale > Valori) e carica di nuovo il "
            "file."
        )
    else:
        singular = N_(
            "La cella %(cells)s (%(columns)s) prende il valore da un'altra cartella di "
            "lavoro Excel: è stato letto il valore salvato in questo file, che può non essere "
            "aggiornato. In Excel sostituisci la formula con il suo valore (Copia, Incolla "
            "speciale > Valori) e carica di nuovo il file."
        )
        plural = N_(
            "%(count)s celle (%(cells)s; %(columns)s) prendono il valore da un'altra "
            "cartella di lavoro Excel: è stato letto il valore salvato in questo file, che può "
            "non essere aggiornato. In Excel sostituisci le formule con i loro valori (Copia, "
            "Incolla speciale > Valori) e carica di nuovo il file."
        )
    return said_n(
        singular,
        plural,
        len(cells),
        count=len(cells),
        cells=shown,
        columns=said_n(
            N_("colonna %(names)s"),
            N_("colonne %(names)s"),
            len(columns),
            names=_joined(columns),
        ),
    )


def hidden_rows_choices() -> list[tuple[str, str]]:
    return [
        (HiddenRows.EXCLUDE, _("Escludi le righe nascoste: non sono destinatari")),
        (HiddenRows.INCLUDE, _("Includi le righe nascoste: sono destinatari anche loro")),
    ]
