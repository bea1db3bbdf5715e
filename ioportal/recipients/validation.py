"""Checking every row of a recipient list before anything is queued.

Each row is turned into the message its citizen would get and checked with IO's own rules
(`ioportal.ioapi.validate_new_message`: fiscal code with check character and omocodia, subject
and markdown lengths after the placeholders are filled, amount range and service maximum,
notice number, payee), plus what only the file can tell: duplicates, placeholder types, required
values, patterns, dates. Every problem gets an Italian sentence; a row with at least one is
rejected with its line number. Pure functions: no database, no side effects.

Values are read exactly as the person sees them, or refused: numbers with the convention chosen
at upload (`numbers.read_number`), identifiers without invisible formatting characters, and
identifiers that Excel stored as numbers (digits lost) refused with what to change.
"""

import re
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import partial
from time import thread_time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import regex
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from openpyxl.utils import get_column_letter

from ioportal.core.fiscalcode import (
    mask_fiscal_code,
    mask_fiscal_codes_in_text,
    normalize_fiscal_code,
)
from ioportal.core.io_texts import Part, field_error_parts, said, said_n
from ioportal.core.yesno import read_yes_no
from ioportal.ioapi import messages_it as io_texts
from ioportal.ioapi import (
    validate_fiscal_code,
    validate_new_message,
)
from ioportal.recipients.filenames import attachment_key, visible_file_name
from ioportal.recipients.notices import (
    has_valid_check_digits,
    is_notice_number,
    normalize_notice_number,
)
from ioportal.recipients.numbers import (
    DEFAULT_NUMBER_FORMAT,
    ENGLISH,
    EXCEL_GENERAL_DIGITS,
    ITALIAN,
    OtherNumberFormat,
    ValueProblem,
    clean_identifier,
    format_cents,
    format_decimal,
    lost_digits,
    number_format_part,
    read_euro_cents,
    read_integer,
    read_number,
    scientific_exponent,
    serial_to_datetime,
    strip_invisible,
)
from ioportal.recipients.rendering import (
    APP_BR_RE,
    content_sha256,
    fill_message,
    front_matter_changed,
    io_message,
)

# Targets of the column mapping besides the template's placeholders.
FISCAL_CODE = "fiscal_code"
DUE_DATE = "due_date"
AMOUNT = "amount"
NOTICE_NUMBER = "notice_number"
INVALID_AFTER_DUE_DATE = "invalid_after_due_date"
PAYEE_FISCAL_CODE = "payee_fiscal_code"
ATTACHMENT = "attachment"
SPECIAL_FIELDS = (
    FISCAL_CODE,
    DUE_DATE,
    AMOUNT,
    NOTICE_NUMBER,
    INVALID_AFTER_DUE_DATE,
    PAYEE_FISCAL_CODE,
    ATTACHMENT,
)
# The targets that make a message's pagoPA payment notice.
PAYMENT_TARGETS = (AMOUNT, NOTICE_NUMBER, INVALID_AFTER_DUE_DATE, PAYEE_FISCAL_CODE)
# Where the attachment file name travels in Delivery.variables until the files uploaded with
# the list are handed over to the dispatch at launch.
ATTACHMENT_KEY = "__attachment__"

# The IO rule a message breaks → the target whose cell it comes from.
IO_FIELD_TARGETS = {
    "fiscal_code": FISCAL_CODE,
    "content.due_date": DUE_DATE,
    "content.payment_data.amount": AMOUNT,
    "content.payment_data.notice_number": NOTICE_NUMBER,
    "content.payment_data.payee.fiscal_code": PAYEE_FISCAL_CODE,
}

# A file name without folders: letters of any alphabet ("fattura_più.pdf"), digits, spaces,
# apostrophes ("dell'anno") and . _ ( ) -, starting with a letter or digit.
SAFE_FILE_NAME_RE = re.compile(r"^[^\W_][\w .'’()\-]{0,199}$")
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y")
DATETIME_FORMATS = ("%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S")
WARNING_LINES_SHOWN = 10
# A number in a General cell of a date column is read as the date Excel shows for it only
# when that date falls in these years: a message's date (a due date, an appointment, a
# birth date of a living person) does; 2030 or 45 typed in a General cell would show as a
# date of 1905-1909 or 1900-1904 (an amount, a year, a count in the wrong column), which no
# message means. The row is then rejected saying the cell holds a number.
SERIAL_DATE_YEARS = (1900 + 90, 2100)
# Serial dates shown one by one in the note about them, before "and N more".
SERIAL_DATES_SHOWN = 5
# The column letter `parsing.distinct_headers` adds to a repeated name, in either language.
TOLD_APART_RE = re.compile(r" \((?:colonna|column) [A-Z]{1,3}\)$")
# Distinct texts a validation remembers per reader (see `memoized`).
MEMO_SIZE = 10_000
T = TypeVar("T")
# Operators' patterns run with the `regex` engine under a budget of CPU time (the unit of the
# engine's `timeout`): a pattern that backtracks catastrophically (e.g. `(a|aa)+b`) must not
# hold the web worker, where a list is checked. The budget starts at PATTERN_BUDGET_SECONDS and
# each value checked adds PATTERN_SECONDS_PER_VALUE (an ordinary pattern takes ~3 µs), so a
# long list of ordinary values never runs out and a slow pattern stops within a fraction of a
# second plus a few µs per row.
PATTERN_BUDGET_SECONDS = 0.25
PATTERN_SECONDS_PER_VALUE = 0.00002
# When a pattern is saved it is tried on these strings (repeated characters followed by one
# that breaks the match: what makes backtracking explode) within this CPU time, all together.
PATTERN_PROBE_SECONDS = 0.2
PATTERN_PROBES = tuple(
    char * 32 + end for char in ("a", "A", "1", " ", ".", "-", "_", ",") for end in ("!", "")
)


def special_field_labels() -> dict[str, str]:
    return {
        FISCAL_CODE: _("Codice fiscale del destinatario"),
        DUE_DATE: _("Data di scadenza"),
        AMOUNT: _("Importo in euro"),
        NOTICE_NUMBER: _("Codice avviso pagoPA"),
        INVALID_AFTER_DUE_DATE: _("Avviso non pagabile dopo la scadenza"),
        PAYEE_FISCAL_CODE: _("Codice fiscale dell'ente creditore"),
        ATTACHMENT: _("Nome del file allegato"),
    }


@dataclass(frozen=True)
class MessageSpec:
    """What every row is checked against: the template's texts and the service's limits."""

    subject: str
    markdown: str
    placeholders: Sequence[Mapping[str, Any]] = ()
    feature_level: str = "standard"
    has_due_date: bool = False
    has_payment: bool = False
    # Euro cents; None when unknown. 0 means the service may not send payment notices.
    max_payment_amount: int | None = None
    # Files of the uploaded ZIP: {`attachment_key` of the name: reasons it was refused
    # (core.io_texts.Part, texts for files stored before), empty if valid}, empty when no ZIP
    # was uploaded; None when files are not checked (the cell's format still is).
    attachments: Mapping[str, Sequence[Part | str]] | None = None


@dataclass
class ValidationOutcome:
    valid: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # Sentences for the operator that block nothing (check digits, serial dates read as dates),
    # stored untranslated (core.io_texts.Part) and said by `row_warnings` from
    # `warning_facts`, which the list keeps to say them again for fewer rows.
    warnings: list[Part] = field(default_factory=list)
    warning_facts: dict[str, Any] = field(default_factory=dict)
    # Per valid row, in the same order, the hash of its message (rendering.content_sha256).
    content_hashes: list[str] = field(default_factory=list)

    @property
    def total_amount(self) -> int:
        return sum(row.get("amount") or 0 for row in self.valid)


# --- value parsers ------------------------------------------------------------------------


def stored_as_number(what: Part | str) -> Part:
    """The reason for an identifier that Excel stored as a Number cell: at most 15 significant
    digits are kept and leading zeros are dropped, so its digits may have changed. `what` is
    the value's subject (a part, or a placeholder's name in «»)."""
    return said(
        N_(
            "%(what)s è salvato come numero: formatta la colonna come testo e riscrivilo (un "
            "numero di Excel conserva solo 15 cifre e perde gli zeri iniziali)."
        ),
        what=what,
    )


def written_in_scientific_notation(what: Part | str) -> Part:
    """The reason for a value of a file saved by Excel in scientific notation ("3,02E+17"):
    as for a Number cell (`stored_as_number`), Excel changed the number it held."""
    return said(
        N_(
            "%(what)s è scritto in notazione scientifica: Excel lo ha salvato come numero e ne "
            "ha perso le cifre. In Excel formatta la colonna come testo, riscrivi i valori ed "
            "esporta di nuovo il file."
        ),
        what=what,
    )


def _scientific_by_excel(kind: str, text: str) -> bool:
    """Whether a placeholder's text is a number Excel wrote in scientific notation: for every
    identifier and number type; for a text, only a long number (General format)."""
    exponent = scientific_exponent(text)
    if exponent is None or kind == "date":
        return False
    return kind != "text" or exponent >= EXCEL_GENERAL_DIGITS


def _date_text(value: str) -> str:
    """A date cell as the person reads it: invisible formatting characters (zero-width
    space, word joiner, soft hyphen, byte order mark, `numbers.strip_invisible`) removed and
    every kind of space (no-break, narrow no-break) made one plain space, as for numbers and
    identifiers."""
    if value.isascii():
        return value.strip()
    return " ".join(strip_invisible(value).split())


def parse_date(value: str) -> date:
    """A date written the Italian way (31/12/2026, 31.12.2026, 31/12/26) or ISO (2026-12-31).

    Raises ValueProblem saying what the cell holds instead: a date with a time (a date
    placeholder shows no time, and dropping it is not for the portal to decide), a number, or
    something else."""
    value = _date_text(value)
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    for fmt in DATETIME_FORMATS:
        try:
            moment = datetime.strptime(value, fmt)
        except ValueError:
            continue
        raise ValueProblem(
            said(
                N_(
                    "contiene una data con un'ora (%(date)s alle %(time)s): per questo "
                    "segnaposto scrivi solo la data (esempio: 31/12/2026)"
                ),
                date=moment.strftime("%d/%m/%Y"),
                time=moment.strftime("%H:%M"),
            )
        )
    try:
        read_number(value)
    except ValueProblem:
        raise ValueProblem(said(N_("non è una data valida (esempio: 31/12/2026)"))) from None
    raise ValueProblem(
        said(
            N_(
                "contiene un numero, non una data: scrivi la data come 31/12/2026 o formatta la "
                "colonna come data"
            )
        )
    )


def parse_due_date(value: str) -> datetime:
    """A due date, aware in the portal's time zone (settings.TIME_ZONE, Europe/Rome): a date
    (`parse_date`'s forms) or a date with a time (DATETIME_FORMATS); a date alone means the
    end of that day, 23:59:59.

    The clock changes (Europe/Rome, from the tz database): a time the change to summer time
    skips (the last Sunday of March, 02:00-02:59) does not exist and raises ValueProblem, never
    read as another time; a time the change back repeats (the last Sunday of October,
    02:00-02:59) is read as the later of its two moments (standard time, UTC+1): a due date
    is a deadline, and the later moment never shortens the time the citizen has to pay.
    Raises ValueProblem for a text that is not a date."""
    tz = ZoneInfo(settings.TIME_ZONE)
    value = _date_text(value)
    for fmt in DATETIME_FORMATS:
        try:
            moment = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return _local_due_moment(moment, tz)
    day = parse_date(value)
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


def _local_due_moment(naive: datetime, tz: ZoneInfo) -> datetime:
    """`naive` read on the clocks of `tz`: ValueProblem in a clock change's gap, the later
    moment in its overlap (see `parse_due_date`)."""
    first = naive.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise ValueProblem(
            said(
                N_(
                    "contiene le %(time)s del %(date)s, un orario che in Italia non esiste per "
                    "il passaggio all'ora legale: scrivi un altro orario"
                ),
                date=naive.strftime("%d/%m/%Y"),
                time=naive.strftime("%H:%M"),
            )
        )
    second = naive.replace(tzinfo=tz, fold=1)
    # In the overlap the two folds differ: fold=1 is the second moment (after the clocks go
    # back). Compare or subtract it in UTC: Python ignores fold between datetimes of one zone.
    return second if second.utcoffset() != first.utcoffset() else first


def parse_bool(value: str) -> bool:
    """A yes/no cell (core.yesno's words); empty means no."""
    if not strip_invisible(value).strip():
        return False  # looks empty: nothing but spaces and invisible characters
    answer = read_yes_no(value)
    if answer is None:
        raise ValueProblem(said(N_("deve essere sì o no")))
    return answer


def typed_value(kind: str, value: str, number_format: str = DEFAULT_NUMBER_FORMAT) -> str:
    """The text that replaces a placeholder of type `kind`, or ValueProblem.

    Numbers are read with `number_format` (the file's convention) and written the Italian
    way for the citizen: the same cell gives the same number for every numeric type.
    """
    if kind == "integer":
        return str(read_integer(value, number_format))
    if kind == "decimal":
        return format_decimal(read_number(value, number_format))
    if kind == "date":
        return parse_date(value).strftime("%d/%m/%Y")
    if kind == "euro":
        return format_cents(read_euro_cents(value, number_format))
    if kind == "notice_number":
        notice = normalize_notice_number(value)
        if not is_notice_number(notice):
            raise ValueProblem(said(N_("non è un codice avviso pagoPA (18 cifre, inizia con 0-3)")))
        return notice
    if kind == "fiscal_code":
        code = normalize_fiscal_code(value)
        if validate_fiscal_code(code):
            raise ValueProblem(said(N_("non è un codice fiscale valido")))
        return code
    return value


def memoized(parse: Callable[[str], T]) -> Callable[[str], T]:
    """`parse` remembering its answer for each text (the value, or the ValueProblem it
    raised, of the same class), for one validation: a column of due dates or amounts repeats
    its values."""
    seen: dict[str, T | ValueProblem] = {}
    # The last text read, also once `seen` is full: a row reads its amount for the payment
    # and for a euro placeholder from the same cell.
    last: list[Any] = [None, None]

    def cached(value: str) -> T:
        if value == last[0]:
            outcome = last[1]
        else:
            outcome = seen.get(value)
            if outcome is None:
                try:
                    outcome = parse(value)
                except ValueProblem as problem:
                    outcome = problem
                if len(seen) < MEMO_SIZE:
                    seen[value] = outcome
            last[:] = value, outcome
        if isinstance(outcome, ValueProblem):
            raise type(outcome)(*outcome.args)
        return outcome

    return cached


def fiscal_code_targets(placeholders: Sequence[Mapping[str, Any]]) -> set[str]:
    """The targets whose value is a fiscal code, which pages show masked: the recipient's,
    the payee's and the template's placeholders of type fiscal code."""
    return {FISCAL_CODE, PAYEE_FISCAL_CODE} | {
        str(p["name"]) for p in placeholders if p.get("type") == "fiscal_code"
    }


def masked_sample(rows: Sequence[Sequence[str]], *, columns: Collection[int]) -> list[list[str]]:
    """The first rows of a file as a page shows them, personal data masked: every cell of
    `columns` (those holding fiscal codes) and, in any cell, what looks like a fiscal code
    (`GLL************A`, ioapi.mask_fiscal_code)."""
    return [
        [
            mask_fiscal_code(cell.strip())
            if position in columns and cell.strip()
            else mask_fiscal_codes_in_text(cell)
            for position, cell in enumerate(row)
        ]
        for row in rows
    ]


# --- operators' patterns ------------------------------------------------------------------


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """An operator's pattern compiled with the `regex` engine; ValueProblem when invalid."""
    try:
        return regex.compile(pattern)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise ValueProblem(
            said(N_("Espressione regolare non valida: %(error)s"), error=str(exc))
        ) from exc


def pattern_problem(pattern: str) -> str:
    """Why an operator's pattern cannot be saved ("" when it can): not valid, or so slow on
    short strings (catastrophic backtracking) that checking a list would stall. At most
    about PATTERN_PROBE_SECONDS of CPU time. No side effects."""
    try:
        compiled = compile_pattern(pattern)
    except ValueProblem as problem:
        return str(problem)
    budget = PatternBudget(PATTERN_PROBE_SECONDS)
    for probe in PATTERN_PROBES:
        if budget.fullmatch(compiled, probe) is None:
            return _(
                "L'espressione regolare richiede troppo tempo anche su testi brevi (ad "
                "esempio alternative che si sovrappongono dentro una ripetizione, come "
                "(a|aa)+): semplificala."
            )
    return ""


class PatternBudget:
    """CPU time left for matching operators' patterns (`seconds`, plus `per_value` earned by
    each value checked); once spent, no pattern runs any more."""

    def __init__(self, seconds: float, per_value: float = 0.0) -> None:
        self.remaining = seconds
        self.per_value = per_value

    def fullmatch(self, pattern: regex.Pattern[str], value: str) -> bool | None:
        """Whether `value` matches all of `pattern`; None when the budget ran out."""
        if self.remaining <= 0:
            return None
        self.remaining += self.per_value
        started = thread_time()
        try:
            return pattern.fullmatch(value, timeout=self.remaining) is not None
        except TimeoutError:
            self.remaining = 0
            return None
        finally:
            self.remaining -= thread_time() - started


def _changed_by_excel(kind: str, text: str) -> bool:
    """Whether an identifier placeholder from an XLSX Number cell may differ from what was
    typed: more than 15 digits, a notice number shorter than 18 digits (leading zeros gone), or
    a fiscal code (a citizen's has letters). Quantities and dates are never identifiers."""
    if kind == "fiscal_code":
        return True
    if kind == "notice_number":
        return lost_digits(text) or not is_notice_number(normalize_notice_number(text))
    return kind == "text" and lost_digits(text)


def _serial_date_text(moment: datetime) -> str:
    """A date read from a serial number, as the text an XLSX date cell gives."""
    if moment.time() == time(0, 0):
        return moment.date().isoformat()
    return moment.isoformat(sep=" ", timespec="seconds")


def _lines_text(lines: Sequence[int]) -> Part | str:
    """The first WARNING_LINES_SHOWN lines, "2, 3, 5", then how many more (a part)."""
    shown = ", ".join(str(line) for line in lines[:WARNING_LINES_SHOWN])
    more = len(lines) - WARNING_LINES_SHOWN
    if more > 0:
        return said(N_("%(lines)s e altre %(n)s"), lines=shown, n=more)
    return shown


# --- mapping ------------------------------------------------------------------------------


def guess_mapping(
    headers: Sequence[str],
    targets: Sequence[str],
    *,
    placeholders: Sequence[Mapping[str, Any]] = (),
    has_payment: bool = False,
    has_due_date: bool = False,
) -> dict[str, str]:
    """A first guess of the mapping: a column whose simplified name (lower case, without
    accents, spaces or punctuation) equals the target's, its label on the mapping page
    (`special_field_labels`, "Codice avviso pagoPA") or one of its unambiguous synonyms
    ("numero avviso"; never "IUV", which is not the notice number).

    Two columns whose names simplify alike ("Codice fiscale", "codice_fiscale", a repeated
    name told apart by its column letter, "cf (colonna C)") are not guessed: the operator
    chooses. The payment targets (amount, notice number, payee, "not
    payable after the due date") are guessed only when the template asks for a payment, and
    the due date only when it asks for one: a template without them gets none from a column
    that happens to be named "Importo" or "Scadenza" (the operator may still choose one).
    When asked for, the amount, the notice number and the due date take the column of the
    template's only placeholder of that type (euro, notice number, date) if none is named
    like them.
    """
    aliases = {
        FISCAL_CODE: {
            "codicefiscale",
            "cf",
            "fiscalcode",
            "taxcode",
            "codfiscale",
            "codicefiscaledeldestinatario",
            "codicefiscaledestinatario",
        },
        DUE_DATE: {"scadenza", "datascadenza", "datadiscadenza", "duedate"},
        AMOUNT: {"importo", "amount", "importoeuro", "importoineuro", "importodapagare"},
        NOTICE_NUMBER: {
            "codiceavviso",
            "numeroavviso",
            "noticenumber",
            "avviso",
            "codiceavvisopagopa",
            "numeroavvisopagopa",
            "codiceavvisodipagamento",
            "numeroavvisodipagamento",
        },
        INVALID_AFTER_DUE_DATE: {
            "invalidafterduedate",
            "nonpagabiledoposcadenza",
            "avvisononpagabiledopolascadenza",
        },
        PAYEE_FISCAL_CODE: {
            "payeefiscalcode",
            "cfente",
            "codicefiscaleente",
            "payeetaxcode",
            "codicefiscaledellentecreditore",
            "codicefiscaleentecreditore",
        },
        ATTACHMENT: {
            "allegato",
            "attachment",
            "file",
            "nomefile",
            "nomedelfileallegato",
            "nomefileallegato",
            "fileallegato",
            "nomeallegato",
        },
    }

    def simple(text: str) -> str:
        text = unicodedata.normalize("NFKD", text.lower())
        return re.sub(r"[^a-z0-9]", "", text)

    # The label the mapping page shows, in the operator's language.
    for target, label in special_field_labels().items():
        aliases[target].add(simple(str(label)))

    by_name: dict[str, str] = {}
    ambiguous: set[str] = set()
    for header in headers:
        if header:
            # A repeated name told apart by its letter ("cf (colonna C)") still looks like
            # the others of its name: "CF" next to two "cf" is not guessed either.
            name = simple(TOLD_APART_RE.sub("", header))
            if name in by_name:
                ambiguous.add(name)
            by_name[name] = header
    for name in ambiguous:
        del by_name[name]
    # The targets that add content the template does not ask for are never guessed.
    unasked = set(PAYMENT_TARGETS) if not has_payment else set()
    if not has_due_date:
        unasked.add(DUE_DATE)
    guess: dict[str, str] = {}
    for target in targets:
        if target in unasked:
            continue
        names = [simple(target), *sorted(aliases.get(target, set()))]
        for name in names:
            # A column goes to the first target that claims it (placeholders before the
            # special fields), so "Importo" of a placeholder is not also a payment amount.
            if name in by_name and by_name[name] not in guess.values():
                guess[target] = by_name[name]
                break

    def placeholder_column(kind: str) -> str:
        columns = {
            guess[str(p["name"])]
            for p in placeholders
            if p.get("type") == kind and str(p["name"]) in guess
        }
        return columns.pop() if len(columns) == 1 else ""

    wanted = {
        AMOUNT: ("euro", has_payment),
        NOTICE_NUMBER: ("notice_number", has_payment),
        DUE_DATE: ("date", has_due_date),
    }
    for target, (kind, asked) in wanted.items():
        if asked and target in targets and target not in guess:
            column = placeholder_column(kind)
            if column:
                guess[target] = column
    return guess


def mapping_errors(
    *, headers: Sequence[str], mapping: Mapping[str, str], spec: MessageSpec
) -> dict[str, str]:
    """Problems with the mapping itself, by target: missing required columns, unknown ones."""
    errors: dict[str, str] = {}
    for target, column in mapping.items():
        if column and column not in headers:
            errors[target] = _("La colonna «%(column)s» non è nel file.") % {"column": column}
    if not mapping.get(FISCAL_CODE):
        errors[FISCAL_CODE] = _("Indica la colonna con il codice fiscale dei destinatari.")
    for placeholder in spec.placeholders:
        name = str(placeholder["name"])
        if placeholder.get("required") and not mapping.get(name):
            errors[name] = _("Il segnaposto «%(name)s» è obbligatorio: indica la sua colonna.") % {
                "name": name
            }
    if spec.has_payment:
        for target in (AMOUNT, NOTICE_NUMBER):
            if not mapping.get(target):
                errors[target] = _("Il modello prevede un avviso di pagamento: indica la colonna.")
        if spec.max_payment_amount == 0:
            errors[AMOUNT] = _("Il servizio scelto non è abilitato ai pagamenti.")
    elif mapping.get(AMOUNT) or mapping.get(NOTICE_NUMBER):
        if not (mapping.get(AMOUNT) and mapping.get(NOTICE_NUMBER)):
            errors[AMOUNT] = _("Per un avviso di pagamento servono sia l'importo sia il codice.")
        elif spec.max_payment_amount == 0:
            errors[AMOUNT] = _("Il servizio scelto non è abilitato ai pagamenti.")
    if spec.has_due_date and not mapping.get(DUE_DATE):
        errors[DUE_DATE] = _("Il modello prevede una scadenza: indica la colonna.")
    if mapping.get(ATTACHMENT) and spec.feature_level != "advanced":
        errors[ATTACHMENT] = _("Gli allegati sono disponibili solo per i messaggi Premium.")
    elif spec.attachments and not mapping.get(ATTACHMENT):
        errors[ATTACHMENT] = _(
            "Hai caricato uno ZIP di allegati: indica la colonna con il nome del file di "
            "ciascun destinatario."
        )
    return errors


# --- rows ---------------------------------------------------------------------------------


def _attachment_problems(
    name: str, line: int, spec: MessageSpec, seen_files: dict[str, int]
) -> list[Part]:
    key = attachment_key(name)
    if key in seen_files:
        # A per-recipient file is personal: two citizens never get the same one.
        return [
            said(
                N_("Il file allegato «%(name)s» è già assegnato alla riga %(line)s."),
                name=name,
                line=str(seen_files[key]),
            )
        ]
    seen_files[key] = line
    if spec.attachments is None:
        return []
    if not spec.attachments:
        return [
            said(N_("Il file allegato «%(name)s» non è disponibile: carica lo ZIP."), name=name)
        ]
    if key not in spec.attachments:
        return [said(N_("Il file allegato «%(name)s» non è nello ZIP."), name=name)]
    problems = spec.attachments[key]
    if problems:
        return [
            said(
                N_("Il file allegato «%(name)s» è stato rifiutato: %(problems)s"),
                name=name,
                problems=_listed(list(problems), " ", len(problems)),
            )
        ]
    return []


class RowProblems:
    """The problems of one row, at most one per cell (a cell read for several targets, such as
    an amount that is both a placeholder and the payment, is reported with its first), each
    with its column and the value as typed, fiscal codes masked."""

    def __init__(
        self,
        *,
        value_of: Callable[[str], str],
        mapping: Mapping[str, str],
        masked: set[str],
    ) -> None:
        self.value_of, self.mapping, self.masked = value_of, mapping, masked
        self.items: list[dict[str, Any]] = []
        self.reported: set[str] = set()

    def add(self, reason: Part, target: str | None = None, *, shown: bool = True) -> None:
        """`shown` False leaves the value out: an identifier Excel stored as a number is not
        what the person typed (its digits may have changed), so it is not shown as theirs."""
        column = self.mapping.get(target, "") if target else ""
        if column and column in self.reported:
            return
        if column:
            self.reported.add(column)
        value = self.value_of(target) if target and shown else ""
        if value and target in self.masked:
            value = mask_fiscal_code(value)
        self.items.append({"column": column, "value": value, "reason": reason})

    def add_cell(self, reason: Part, target: str, reference: str) -> None:
        """A cell the file could not give (`parsing.ParsedTable.cell_problems`): named by its
        column and reference ("nome (B6)"), without its value (empty, an error, or too long
        to show); the cell's other problems are not added."""
        column = self.mapping.get(target, "")
        if column in self.reported:
            return
        self.reported.add(column)
        self.items.append({"column": f"{column} ({reference})", "value": "", "reason": reason})


def names_column(subject: str, column: str) -> bool:
    """Whether `column`, shown next to a reason, already names placeholder `subject`."""
    return subject.casefold() == column.strip().casefold()


def column_problem(problem: ValueProblem | Part, *, subject: str = "", column: str = "") -> Part:
    """A value's problem (a ValueProblem, or a predicate such as "è obbligatorio ma è vuoto")
    as the reason of its column. The column is named once, by whoever shows the reason next
    to it (the check page, `services.problem_text`), so the reason names only a `subject` (a
    placeholder) read from a column of another name: "Non è un importo in euro…", "«figlio»
    non è un codice fiscale valido."."""
    part = problem.part if isinstance(problem, ValueProblem) else problem
    if subject and not names_column(subject, column):
        return {
            **said(N_("«%(name)s» %(problem)s."), name=subject, problem=part),
            "sentence": True,
        }
    # Italian drops the subject ("Non è una data valida."); the English translation gives the
    # sentence one ("This value is not a valid date.").
    return {
        **said("%(problem)s", problem=part),
        "context": "reason without a subject",
        "sentence": True,
    }


def validate_rows(
    *,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    lines: Sequence[int] | None = None,
    mapping: Mapping[str, str],
    spec: MessageSpec,
    now: datetime | None = None,
    number_format: str = DEFAULT_NUMBER_FORMAT,
    number_cells: Sequence[Collection[int]] | None = None,
    date_system: int | None = None,
    cell_problems: Mapping[int, Mapping[int, Part]] | None = None,
) -> ValidationOutcome:
    """Check every row; return the valid ones ready to become deliveries and the rejected ones
    with their line number and reasons. No side effects.

    `number_format` is the file's number convention ("it" or "en"); for XLSX files,
    `number_cells` gives per row the positions of Number cells and `date_system` the workbook's
    date system (1900 or 1904), used to read serial numbers in date columns: a serial number
    becomes a date only within SERIAL_DATE_YEARS, else its row is rejected.

    `cell_problems` (line -> 0-based column -> reason, `parsing.ParsedTable.cell_problems`):
    cells the file could not give. One in a mapped column rejects its row with the row's
    other problems; one in a column the mapping does not use only gets a warning.

    A rejected row is {"line", "cells", "reasons": [part], "problems": [{"column", "value",
    "reason": part}]}, each reason a sentence stored untranslated (core.io_texts.Part,
    translated when shown by `io_texts.reason_text`): each problem names the column and the
    value as typed (fiscal codes masked, ioapi.mask_fiscal_code; "" for an identifier Excel
    stored as a number, whose digits may have changed), at most one per cell; a problem of
    the whole message (its length, its buttons) has no column.

    A valid row is {"line", "fiscal_code", "variables", "due_date" (ISO or None), "amount"
    (cents or None), "notice_number", "invalid_after_due_date", "payee_fiscal_code",
    "content_sha256" (the hash of its message, rendering.content_sha256, with the spec's texts:
    the worker copies it when the dispatch's texts are those)}.
    """
    now = now or timezone.now()
    index = {header: position for position, header in enumerate(headers)}
    columns = {target: index[column] for target, column in mapping.items() if column in index}
    placeholders: list[tuple[str, str, bool, regex.Pattern[str] | ValueProblem | None]] = []
    for p in spec.placeholders:
        compiled: regex.Pattern[str] | ValueProblem | None = None
        try:
            compiled = compile_pattern(p["pattern"]) if p.get("pattern") else None
        except ValueProblem as problem:
            compiled = problem
        placeholders.append(
            (str(p["name"]), str(p.get("type") or "text"), bool(p.get("required")), compiled)
        )
    budget = PatternBudget(PATTERN_BUDGET_SECONDS, PATTERN_SECONDS_PER_VALUE)
    known = [name for name, *_rest in placeholders]
    # Targets whose value is a fiscal code: shown masked beside a reason.
    masked_targets = fiscal_code_targets(spec.placeholders)
    # One reader per type for this validation (numbers.py), remembering each distinct text.
    typed = {
        kind: memoized(partial(typed_value, kind, number_format=number_format))
        for _n, kind, *_r in placeholders
    }
    due_date_of = memoized(parse_due_date)
    iso_dates: dict[datetime, str] = {}  # a list's rows usually share their due date

    def iso_date(moment: datetime) -> str:
        text = iso_dates.get(moment)
        if text is None:
            text = moment.isoformat()
            if len(iso_dates) < MEMO_SIZE:
                iso_dates[moment] = text
        return text

    cents_of = memoized(partial(read_euro_cents, number_format=number_format))
    if "euro" in typed:
        # What typed_value does for a euro placeholder, on the amount's reading: a column that
        # fills both the placeholder and the payment is read once per value.
        typed["euro"] = memoized(lambda text: format_cents(cents_of(text)))
    seen: dict[str, int] = {}
    seen_notices: dict[str, int] = {}
    seen_files: dict[str, int] = {}
    outcome = ValidationOutcome()
    line_numbers = lines or [n + 2 for n in range(len(rows))]
    no_numbers: Collection[int] = ()
    check_digit_lines: list[int] = []
    other_format_lines: list[int] = []
    # The lines of the valid rows: warnings about values ask to check rows that will be
    # sent, never rows already rejected for another reason.
    sent_lines: set[int] = set()
    # Per column and line (a column may fill the due date and a placeholder): the serial
    # numbers read as dates, as (serial, date shown).
    serial_dates: dict[str, dict[int, tuple[str, str]]] = {}
    # The first target mapped to each column position, for the cells the file could not give.
    target_at: dict[int, str] = {}
    for target, position in columns.items():
        target_at.setdefault(position, target)
    # Cells the file could not give in columns the message does not use: (reference, column).
    unused_cells: list[tuple[str, str]] = []

    def cell(row: Sequence[str], target: str) -> str:
        position = columns.get(target)
        if position is None or position >= len(row):
            return ""
        return row[position]

    numeric: Collection[int] = no_numbers

    def is_number_cell(target: str) -> bool:
        return bool(numeric) and columns.get(target, -1) in numeric

    def date_text(target: str, raw: str, line: int) -> str:
        """A serial number in a date column becomes the date Excel shows for it."""
        if not raw or date_system is None or not is_number_cell(target):
            return raw
        moment = serial_to_datetime(raw, date_system=date_system, number_format=number_format)
        if not SERIAL_DATE_YEARS[0] <= moment.year <= SERIAL_DATE_YEARS[1]:
            raise ValueProblem(
                said(
                    N_(
                        "contiene il numero %(number)s, non una data: scrivi la data come "
                        "31/12/2026 o formatta la cella come data"
                    ),
                    number=raw,
                )
            )
        midnight = moment.time() == time(0, 0)
        shown = moment.strftime("%d/%m/%Y" if midnight else "%d/%m/%Y %H:%M")
        serial_dates.setdefault(mapping[target], {})[line] = (raw, shown)
        return _serial_date_text(moment)

    for row_index, (original, line) in enumerate(zip(rows, line_numbers, strict=False)):
        row = original
        unreadable: list[tuple[Part, str, str]] = []  # (reason, target, cell reference)
        for position, reason in (cell_problems or {}).get(line, {}).items():
            reference = f"{get_column_letter(position + 1)}{line}"
            used_by = target_at.get(position)
            if used_by is None:
                unused_cells.append(
                    (reference, headers[position] if position < len(headers) else "")
                )
                continue
            unreadable.append((reason, used_by, reference))
            # Checked as empty: the cell's own reason says what it holds.
            row = [*row[:position], "", *row[position + 1 :]]
        found = RowProblems(value_of=partial(cell, row), mapping=mapping, masked=masked_targets)
        for reason, used_by, reference in unreadable:
            found.add_cell(reason, used_by, reference)
        numeric = (
            number_cells[row_index]
            if number_cells is not None and row_index < len(number_cells)
            else no_numbers
        )
        fiscal_code = normalize_fiscal_code(cell(row, FISCAL_CODE))
        fiscal_code_as_number = is_number_cell(FISCAL_CODE) and bool(fiscal_code)
        if fiscal_code_as_number:
            found.add(stored_as_number(said(N_("Il codice fiscale"))), FISCAL_CODE, shown=False)
        elif scientific_exponent(fiscal_code) is not None:
            found.add(written_in_scientific_notation(said(N_("Il codice fiscale"))), FISCAL_CODE)
            fiscal_code_as_number = True
        elif fiscal_code in seen:
            found.add(
                said(
                    N_("Codice fiscale già presente alla riga %(line)s."),
                    line=str(seen[fiscal_code]),
                ),
                FISCAL_CODE,
            )
        elif fiscal_code:
            seen[fiscal_code] = line

        variables: dict[str, str] = {}
        for name, kind, required, pattern in placeholders:
            raw = cell(row, name)
            column = found.mapping.get(name, "")
            if not raw:
                if required:
                    found.add(
                        column_problem(
                            said(N_("è obbligatorio ma è vuoto")), subject=name, column=column
                        ),
                        name,
                    )
                variables[name] = ""
                continue
            if is_number_cell(name) and _changed_by_excel(kind, raw):
                what = said(N_("Il valore")) if names_column(name, column) else f"«{name}»"
                found.add(stored_as_number(what), name, shown=False)
                continue
            if _scientific_by_excel(kind, raw):
                found.add(written_in_scientific_notation(f"«{name}»"), name)
                continue
            if isinstance(pattern, ValueProblem):
                found.add(
                    said(
                        N_("Il formato di «%(name)s» nel modello non si può usare: %(problem)s"),
                        name=name,
                        problem=pattern.part,
                    ),
                    name,
                )
                continue
            if pattern is not None:
                matched = budget.fullmatch(pattern, raw)
                if matched is None:
                    found.add(
                        said(
                            N_(
                                "Il formato di «%(name)s» nel modello richiede troppo tempo per "
                                "essere verificato: semplifica l'espressione regolare."
                            ),
                            name=name,
                        ),
                        name,
                    )
                    continue
                if not matched:
                    found.add(
                        column_problem(
                            said(N_("non rispetta il formato richiesto dal modello")),
                            subject=name,
                            column=column,
                        ),
                        name,
                    )
                    continue
            try:
                if kind == "date":
                    raw = date_text(name, raw, line)
                variables[name] = typed[kind](raw)
            except ValueProblem as problem:
                found.add(column_problem(problem, subject=name, column=column), name)
                if isinstance(problem, OtherNumberFormat):
                    other_format_lines.append(line)
                continue
            if tag := APP_BR_RE.search(variables[name]):
                # Values are sent literally, but the app turns a <br> in any text into a
                # line break: the value could not be shown as written.
                found.add(
                    column_problem(
                        said(
                            N_(
                                "contiene «%(tag)s», che l'app IO mostra come un a capo: "
                                "toglilo dal file"
                            ),
                            tag=tag.group(0),
                        ),
                        subject=name,
                        column=column,
                    ),
                    name,
                )

        due_date: datetime | None = None
        raw_due = cell(row, DUE_DATE)
        if raw_due:
            try:
                due_date = due_date_of(date_text(DUE_DATE, raw_due, line))
            except ValueProblem as problem:
                found.add(column_problem(problem), DUE_DATE)
            else:
                if due_date < now:
                    found.add(said(N_("La data di scadenza è già passata.")), DUE_DATE)
        elif spec.has_due_date:
            found.add(said(N_("La data di scadenza è obbligatoria ma è vuota.")), DUE_DATE)

        amount: int | None = None
        raw_amount, notice = cell(row, AMOUNT), normalize_notice_number(cell(row, NOTICE_NUMBER))
        notice_refused = False
        invalid_after = False
        payee = clean_identifier(cell(row, PAYEE_FISCAL_CODE))
        if raw_amount or notice or spec.has_payment:
            if not raw_amount:
                found.add(said(N_("L'importo è obbligatorio per l'avviso di pagamento.")), AMOUNT)
            elif scientific_exponent(raw_amount) is not None:
                found.add(written_in_scientific_notation(said(N_("L'importo"))), AMOUNT)
            else:
                try:
                    amount = cents_of(raw_amount)
                except ValueProblem as problem:
                    found.add(column_problem(problem), AMOUNT)
                    if isinstance(problem, OtherNumberFormat):
                        other_format_lines.append(line)
            if not notice:
                found.add(said(N_("Il codice avviso pagoPA è obbligatorio.")), NOTICE_NUMBER)
            elif is_number_cell(NOTICE_NUMBER) and (
                lost_digits(notice) or not is_notice_number(notice)
            ):
                found.add(
                    stored_as_number(said(N_("Il numero avviso"))), NOTICE_NUMBER, shown=False
                )
                notice_refused = True
            elif scientific_exponent(notice) is not None:
                found.add(
                    written_in_scientific_notation(said(N_("Il numero avviso"))), NOTICE_NUMBER
                )
                notice_refused = True
            elif not is_notice_number(notice):
                found.add({"io": io_texts.NOTICE_NUMBER_FORMAT}, NOTICE_NUMBER)
                notice_refused = True
            elif notice in seen_notices:
                found.add(
                    said(
                        N_(
                            "Codice avviso già presente alla riga %(line)s: ogni avviso va a un "
                            "solo destinatario."
                        ),
                        line=str(seen_notices[notice]),
                    ),
                    NOTICE_NUMBER,
                )
            else:
                seen_notices[notice] = line
                if not has_valid_check_digits(notice):
                    check_digit_lines.append(line)
            if (
                payee
                and is_number_cell(PAYEE_FISCAL_CODE)
                and (lost_digits(payee) or len(payee) != 11)
            ):
                found.add(
                    stored_as_number(said(N_("Il codice fiscale dell'ente creditore"))),
                    PAYEE_FISCAL_CODE,
                    shown=False,
                )
                payee = ""
            elif payee and scientific_exponent(payee) is not None:
                found.add(
                    written_in_scientific_notation(
                        said(N_("Il codice fiscale dell'ente creditore"))
                    ),
                    PAYEE_FISCAL_CODE,
                )
                payee = ""
            try:
                invalid_after = parse_bool(cell(row, INVALID_AFTER_DUE_DATE))
            except ValueProblem as problem:
                found.add(
                    said(
                        N_("Avviso non pagabile dopo la scadenza: %(problem)s."),
                        problem=problem.part,
                    ),
                    INVALID_AFTER_DUE_DATE,
                )
            if invalid_after and due_date is None:
                found.add(
                    said(N_("Un avviso non pagabile dopo la scadenza richiede una scadenza.")),
                    INVALID_AFTER_DUE_DATE,
                )

        attachment = cell(row, ATTACHMENT)
        if ATTACHMENT in columns:
            if not attachment:
                found.add(said(N_("Il nome del file allegato è vuoto.")), ATTACHMENT)
            elif (
                not SAFE_FILE_NAME_RE.fullmatch(visible_file_name(attachment)) or ".." in attachment
            ):
                found.add(
                    said(
                        N_(
                            "Il nome del file allegato non è valido: usa lettere (anche "
                            "accentate), cifre, spazi, apostrofi e . _ ( ) -, senza cartelle."
                        )
                    ),
                    ATTACHMENT,
                )
            else:
                for reason in _attachment_problems(attachment, line, spec, seen_files):
                    found.add(reason, ATTACHMENT)

        subject, markdown = fill_message(
            subject=spec.subject, markdown=spec.markdown, variables=variables, known=known
        )
        if front_matter_changed(spec.markdown, markdown):
            found.add(
                said(
                    N_(
                        "I valori della riga rendono non valida l'intestazione con i pulsanti "
                        "(CTA): l'app IO non mostrerebbe il messaggio o i pulsanti come nel "
                        "modello."
                    )
                )
            )
        message = io_message(
            fiscal_code=fiscal_code,
            subject=subject,
            markdown=markdown,
            feature_level=spec.feature_level,
            due_date=due_date,
            amount=amount,
            notice_number="" if notice_refused else notice,
            invalid_after_due_date=invalid_after,
            payee_fiscal_code=payee,
        )
        for io_problem in validate_new_message(
            message, max_allowed_payment_amount=spec.max_payment_amount
        ):
            if io_problem.field.endswith("payment_data.amount") and amount is None:
                continue
            if io_problem.field == "fiscal_code" and fiscal_code_as_number:
                continue
            found.add(field_error_parts([io_problem])[0], IO_FIELD_TARGETS.get(io_problem.field))

        if found.items:
            outcome.rejected.append(
                {
                    "line": line,
                    "reasons": [p["reason"] for p in found.items],
                    "problems": found.items,
                    "cells": list(original),
                }
            )
            continue
        if attachment:
            variables[ATTACHMENT_KEY] = attachment
        payment = message.payment_data is not None
        digest = content_sha256(message)
        outcome.content_hashes.append(digest)
        sent_lines.add(line)
        outcome.valid.append(
            {
                "line": line,
                "fiscal_code": fiscal_code,
                "variables": variables,
                "due_date": iso_date(due_date) if due_date else None,
                "amount": amount if payment else None,
                "notice_number": notice if payment else "",
                "invalid_after_due_date": invalid_after if payment else False,
                "payee_fiscal_code": payee if payment else "",
                "content_sha256": digest,
            }
        )
    outcome.warning_facts = {
        "number_format": number_format,
        "date_system": date_system,
        "other_format_lines": sorted(set(other_format_lines)),
        "check_digit_lines": [line for line in check_digit_lines if line in sent_lines],
        "serial_dates": [
            [column, [[line, *value] for line, value in dates.items() if line in sent_lines]]
            for column, dates in serial_dates.items()
        ],
        # Cells the file could not give in columns the message does not use.
        "unused_cells": [list(cell) for cell in unused_cells],
    }
    outcome.warnings = row_warnings(outcome.warning_facts)
    return outcome


def warning_facts_without(facts: Mapping[str, Any], lines: Collection[int]) -> dict[str, Any]:
    """`facts` (`ValidationOutcome.warning_facts`) once the valid rows at `lines` are no
    longer sent (left out as repeated content): the warnings stop naming them."""
    return {
        **facts,
        "check_digit_lines": [
            line for line in facts.get("check_digit_lines") or [] if line not in lines
        ],
        "serial_dates": [
            [column, [date for date in dates if date[0] not in lines]]
            for column, dates in facts.get("serial_dates") or []
        ],
    }


def row_warnings(facts: Mapping[str, Any]) -> list[Part]:
    """The sentences of a check that block nothing, stored untranslated (core.io_texts.Part),
    from its `ValidationOutcome.warning_facts` (JSON: "number_format", "date_system",
    "other_format_lines" (lines of rows rejected for a number in the other format), and about
    valid rows only, since a warning asks to verify rows that will be sent:
    "check_digit_lines" (notice numbers failing pagoPA's check digits), "serial_dates"
    ([[column, [[line, serial, date shown], ...]], ...]) and "unused_cells" ([[cell,
    header], ...]))."""
    warnings: list[Part] = []
    number_format = str(facts.get("number_format") or DEFAULT_NUMBER_FORMAT)
    date_system = facts.get("date_system")
    if lines_with_other := list(facts.get("other_format_lines") or []):
        other = number_format_part(ENGLISH if number_format == ITALIAN else ITALIAN)
        warnings.append(
            said_n(
                N_(
                    "Riga %(lines)s: numeri scritti nel formato %(other)s, scartati perché per "
                    "questo file è stato scelto il formato %(chosen)s. Se il file usa il formato "
                    "%(other)s, premi «Leggi i numeri nel formato %(other)s»: nessun numero "
                    "viene mai interpretato in un formato diverso da quello scelto."
                ),
                N_(
                    "Righe %(lines)s: numeri scritti nel formato %(other)s, scartati perché per "
                    "questo file è stato scelto il formato %(chosen)s. Se il file usa il formato "
                    "%(other)s, premi «Leggi i numeri nel formato %(other)s»: nessun numero "
                    "viene mai interpretato in un formato diverso da quello scelto."
                ),
                len(lines_with_other),
                lines=_lines_text(lines_with_other),
                other=other,
                chosen=number_format_part(number_format),
            )
        )
    if check_digit_lines := list(facts.get("check_digit_lines") or []):
        warnings.append(
            said_n(
                N_(
                    "Riga %(lines)s: il codice avviso non supera il controllo delle due cifre "
                    "finali previsto da pagoPA. Verifica che sia trascritto correttamente: con "
                    "un codice sbagliato il cittadino non riesce a pagare."
                ),
                N_(
                    "Righe %(lines)s: il codice avviso non supera il controllo delle due cifre "
                    "finali previsto da pagoPA. Verifica che sia trascritto correttamente: con "
                    "un codice sbagliato il cittadino non riesce a pagare."
                ),
                len(check_digit_lines),
                lines=_lines_text(check_digit_lines),
            )
        )
    for column, dates in facts.get("serial_dates") or []:
        if dates:
            warnings.append(_serial_dates_warning(column, dates, date_system))
    if unused := list(facts.get("unused_cells") or []):
        warnings.append(_unused_cells_warning(unused))
    return warnings


def _listed(items: Sequence[Part | str], separator: str, shown: int) -> Part | str:
    """The first `shown` of `items` joined by `separator`, then how many more ("e altre N"),
    untranslated (each item translated when shown)."""
    listed: Part | str = ""
    for item in reversed(items[:shown]):
        listed = (
            item
            if listed == ""
            else said("%(head)s" + separator + "%(tail)s", head=item, tail=listed)
        )
    if len(items) > shown:
        listed = said(N_("%(lines)s e altre %(n)s"), lines=listed, n=len(items) - shown)
    return listed


def _serial_dates_warning(
    column: str, dates: Sequence[Sequence[Any]], date_system: int | None
) -> Part:
    """The note about the numbers of a date column read as dates: every row converted
    (`dates`: [line, serial, date shown]; the first SERIAL_DATES_SHOWN with their number and
    date, then how many more)."""
    items: list[Part | str] = [
        said(N_("riga %(line)s: %(serial)s è il %(date)s"), line=str(line), serial=serial, date=day)
        for line, serial, day in dates
    ]
    return said_n(
        N_(
            "La colonna «%(column)s» contiene %(count)s data salvata come numero: è stata letta "
            "con il sistema di date del file (%(system)s), come Excel la mostra se formatti la "
            "cella come data (%(dates)s). Controlla la data nell'anteprima."
        ),
        N_(
            "La colonna «%(column)s» contiene %(count)s date salvate come numeri: sono state "
            "lette con il sistema di date del file (%(system)s), come Excel le mostra se "
            "formatti le celle come data (%(dates)s). Controlla le date nell'anteprima."
        ),
        len(dates),
        column=column,
        count=len(dates),
        system=str(date_system),
        dates=_listed(items, "; ", SERIAL_DATES_SHOWN),
    )


def _unused_cells_warning(cells: Sequence[Sequence[str]]) -> Part:
    """The note about cells the file could not give (a formula without its result, an Excel
    error, a cell too long) in columns the message does not use: their rows are kept."""
    names: list[Part | str] = [
        said(N_("%(letter)s («%(header)s»)"), letter=reference, header=header)
        if header
        else reference
        for reference, header in cells
    ]
    return said_n(
        N_(
            "La cella %(cells)s non è leggibile (una formula senza risultato salvato, un errore "
            "di Excel o un testo troppo lungo), ma è in una colonna che il messaggio non usa: la "
            "sua riga non è stata scartata."
        ),
        N_(
            "%(count)s celle non sono leggibili (%(cells)s: formule senza risultato salvato, "
            "errori di Excel o testi troppo lunghi), ma sono in colonne che il messaggio non usa: "
            "le loro righe non sono state scartate."
        ),
        len(names),
        count=len(names),
        cells=_listed(names, ", ", WARNING_LINES_SHOWN),
    )
