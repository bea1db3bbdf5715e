"""Checking every row of a recipient list before anything is queued.

Each row is turned into the message its citizen would get and checked with IO's own rules
(`ioportal.ioapi.validate_new_message`: fiscal code with check character and omocodia, subject
and markdown lengths after the placeholders are filled, amount range and service maximum,
notice number, payee), plus what only the file can tell: duplicates, placeholder types, required
values, patterns, dates. Every problem gets an Italian sentence; a row with at least one is
rejected with its line number. Pure functions: no database, no side effects.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from ioportal.ioapi import (
    FeatureLevel,
    NewMessage,
    PaymentData,
    mask_fiscal_code,
    normalize_fiscal_code,
    validate_fiscal_code,
    validate_new_message,
)
from ioportal.ioapi import messages_it as io_texts
from ioportal.ioapi.payloads import NOTICE_NUMBER_RE
from ioportal.messaging.rendering import render

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
# Where the attachment file name travels in Delivery.variables until Premium attachments
# are resolved by ioportal.remotecontent.
ATTACHMENT_KEY = "__attachment__"

# The IO rule a message breaks → the target whose cell it comes from.
IO_FIELD_TARGETS = {
    "fiscal_code": FISCAL_CODE,
    "content.due_date": DUE_DATE,
    "content.payment_data.amount": AMOUNT,
    "content.payment_data.notice_number": NOTICE_NUMBER,
    "content.payment_data.payee.fiscal_code": PAYEE_FISCAL_CODE,
}

SAFE_FILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()\-]{0,199}$")
TRUE_WORDS = frozenset({"1", "si", "sì", "s", "true", "vero", "x", "yes", "y"})
FALSE_WORDS = frozenset({"", "0", "no", "n", "false", "falso"})
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y")
DATETIME_FORMATS = ("%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S")
INTEGER_RE = re.compile(r"^[+-]?\d{1,15}$")
# Distinct texts a validation remembers per parser (see `memoized`).
MEMO_SIZE = 10_000
T = TypeVar("T")


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
    # Files of the uploaded ZIP: {casefolded name: reasons it was refused, empty if valid},
    # empty when no ZIP was uploaded; None when files are not checked (the cell's format
    # still is). Compare with `attachment_key`.
    attachments: Mapping[str, Sequence[str]] | None = None


@dataclass
class ValidationOutcome:
    valid: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total_amount(self) -> int:
        return sum(row.get("amount") or 0 for row in self.valid)


class ValueProblem(ValueError):
    """A cell that cannot be read as its type; the message is the Italian reason."""


# --- value parsers ------------------------------------------------------------------------


def parse_integer(value: str) -> int:
    cleaned = value.replace(".", "").replace(" ", "") if "," not in value else value
    if not INTEGER_RE.match(cleaned):
        raise ValueProblem(_("non è un numero intero"))
    return int(cleaned)


def parse_decimal(value: str) -> Decimal:
    """A number written the Italian way (1.234,5) or the English way (1234.5)."""
    cleaned = value.replace(" ", "").replace("€", "")
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif cleaned.count(".") > 1:
        cleaned = cleaned.replace(".", "")
    try:
        number = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueProblem(_("non è un numero")) from exc
    if not number.is_finite() or abs(number) >= Decimal(10) ** 15:
        raise ValueProblem(_("non è un numero"))
    return number


def parse_euro_cents(value: str) -> int:
    """An amount in euro ("1.234,56", "1234.56", "€ 12") as integer cents."""
    try:
        number = parse_decimal(value)
    except ValueProblem as exc:
        raise ValueProblem(_("non è un importo in euro (esempio: 1234,56)")) from exc
    if number != number.quantize(Decimal("0.01")):
        raise ValueProblem(_("ha più di due decimali"))
    return int((number * 100).to_integral_value(rounding=ROUND_HALF_UP))


def parse_date(value: str) -> date:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueProblem(_("non è una data valida (esempio: 31/12/2026)"))


def parse_due_date(value: str) -> datetime:
    """A due date, aware: a date alone means the end of that day in Italy."""
    tz = ZoneInfo(settings.TIME_ZONE)
    for fmt in DATETIME_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    day = parse_date(value)
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


def parse_bool(value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueProblem(_("deve essere sì o no"))


def format_decimal(number: Decimal, places: int | None = None) -> str:
    """Italian notation: thousands with a dot, decimals with a comma."""
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if number < 0 else ""
    text = f"{abs(number):f}"
    whole, _sep, fraction = text.partition(".")
    groups = f"{int(whole):,}".replace(",", ".")
    return f"{sign}{groups},{fraction}" if fraction else f"{sign}{groups}"


def format_cents(cents: int) -> str:
    return format_decimal(Decimal(cents) / 100, 2)


def typed_value(kind: str, value: str) -> str:
    """The text that replaces a placeholder of type `kind`, or ValueProblem."""
    if kind == "integer":
        return str(parse_integer(value))
    if kind == "decimal":
        return format_decimal(parse_decimal(value))
    if kind == "date":
        return parse_date(value).strftime("%d/%m/%Y")
    if kind == "euro":
        return format_cents(parse_euro_cents(value))
    if kind == "notice_number":
        if not NOTICE_NUMBER_RE.match(value):
            raise ValueProblem(_("non è un codice avviso pagoPA (18 cifre, inizia con 0-3)"))
        return value
    if kind == "fiscal_code":
        code = normalize_fiscal_code(value)
        if validate_fiscal_code(code):
            raise ValueProblem(_("non è un codice fiscale valido"))
        return code
    return value


def memoized(parse: Callable[[str], T]) -> Callable[[str], T]:
    """`parse` remembering its answer for each text (the value, or the ValueProblem it
    raised), for one validation: a column of due dates or amounts repeats its values."""
    seen: dict[str, T | ValueProblem] = {}

    def cached(value: str) -> T:
        outcome = seen.get(value)
        if outcome is None:
            try:
                outcome = parse(value)
            except ValueProblem as problem:
                outcome = problem
            if len(seen) < MEMO_SIZE:
                seen[value] = outcome
        if isinstance(outcome, ValueProblem):
            raise ValueProblem(*outcome.args)
        return outcome

    return cached


# --- mapping ------------------------------------------------------------------------------


def guess_mapping(headers: Sequence[str], targets: Sequence[str]) -> dict[str, str]:
    """A first guess of the mapping: a column whose simplified name equals the target's."""
    aliases = {
        FISCAL_CODE: {"codicefiscale", "cf", "fiscalcode", "taxcode", "codfiscale"},
        DUE_DATE: {"scadenza", "datascadenza", "duedate"},
        AMOUNT: {"importo", "amount", "importoeuro"},
        NOTICE_NUMBER: {"codiceavviso", "numeroavviso", "noticenumber", "avviso"},
        INVALID_AFTER_DUE_DATE: {"invalidafterduedate", "nonpagabiledoposcadenza"},
        PAYEE_FISCAL_CODE: {"payeefiscalcode", "cfente", "codicefiscaleente", "payeetaxcode"},
        ATTACHMENT: {"allegato", "attachment", "file", "nomefile"},
    }

    def simple(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", text.lower())

    by_name = {simple(h): h for h in headers if h}
    guess: dict[str, str] = {}
    for target in targets:
        names = [simple(target), *sorted(aliases.get(target, set()))]
        for name in names:
            # A column goes to the first target that claims it (placeholders before the
            # special fields), so "Importo" of a placeholder is not also a payment amount.
            if name in by_name and by_name[name] not in guess.values():
                guess[target] = by_name[name]
                break
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


def attachment_key(name: str) -> str:
    """How a file-name cell is compared with the ZIP's files: casefolded."""
    return name.strip().casefold()


def _attachment_problems(
    name: str, line: int, spec: MessageSpec, seen_files: dict[str, int]
) -> list[str]:
    key = attachment_key(name)
    if key in seen_files:
        # A per-recipient file is personal: two citizens never get the same one.
        return [
            _("Il file allegato «%(name)s» è già assegnato alla riga %(line)s.")
            % {"name": name, "line": seen_files[key]}
        ]
    seen_files[key] = line
    if spec.attachments is None:
        return []
    if not spec.attachments:
        return [_("Il file allegato «%(name)s» non è disponibile: carica lo ZIP.") % {"name": name}]
    if key not in spec.attachments:
        return [_("Il file allegato «%(name)s» non è nello ZIP.") % {"name": name}]
    problems = spec.attachments[key]
    if problems:
        return [
            _("Il file allegato «%(name)s» è stato rifiutato: %(problems)s")
            % {"name": name, "problems": " ".join(problems)}
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
        self.items: list[dict[str, str]] = []
        self.reported: set[str] = set()

    def add(self, reason: str, target: str | None = None) -> None:
        column = self.mapping.get(target, "") if target else ""
        if column and column in self.reported:
            return
        if column:
            self.reported.add(column)
        value = self.value_of(target) if target else ""
        if target in self.masked:
            value = mask_fiscal_code(value)
        self.items.append({"column": column, "value": value, "reason": reason})


def validate_rows(
    *,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    lines: Sequence[int] | None = None,
    mapping: Mapping[str, str],
    spec: MessageSpec,
    now: datetime | None = None,
) -> ValidationOutcome:
    """Check every row; return the valid ones ready to become deliveries and the rejected ones
    with their line number and reasons. No side effects.

    A rejected row is {"line", "cells", "reasons": [text], "problems": [{"column", "value",
    "reason"}]}: each problem names the column and the value as typed (fiscal codes masked,
    ioapi.mask_fiscal_code), at most one per cell; a problem of the whole message (its
    length) has no column.

    A valid row is {"line", "fiscal_code", "variables", "due_date" (ISO or None), "amount"
    (cents or None), "notice_number", "invalid_after_due_date", "payee_fiscal_code"}.
    """
    now = now or timezone.now()
    index = {header: position for position, header in enumerate(headers)}
    columns = {target: index[column] for target, column in mapping.items() if column in index}
    level = FeatureLevel.ADVANCED if spec.feature_level == "advanced" else FeatureLevel.STANDARD
    placeholders = [
        (
            str(p["name"]),
            str(p.get("type") or "text"),
            bool(p.get("required")),
            re.compile(p["pattern"]) if p.get("pattern") else None,
        )
        for p in spec.placeholders
    ]
    known = [name for name, *_rest in placeholders]
    # Targets whose value is a fiscal code: shown masked beside a reason.
    masked_targets = {FISCAL_CODE, PAYEE_FISCAL_CODE} | {
        name for name, kind, *_rest in placeholders if kind == "fiscal_code"
    }
    typed = {kind: memoized(partial(typed_value, kind)) for _n, kind, *_r in placeholders}
    due_date_of, cents_of = memoized(parse_due_date), memoized(parse_euro_cents)
    seen: dict[str, int] = {}
    seen_files: dict[str, int] = {}
    outcome = ValidationOutcome()
    line_numbers = lines or [n + 2 for n in range(len(rows))]

    def cell(row: Sequence[str], target: str) -> str:
        position = columns.get(target)
        if position is None or position >= len(row):
            return ""
        return row[position]

    for row, line in zip(rows, line_numbers, strict=False):
        found = RowProblems(
            value_of=partial(cell, row),
            mapping=mapping,
            masked=masked_targets,
        )
        fiscal_code = normalize_fiscal_code(cell(row, FISCAL_CODE))
        if fiscal_code in seen:
            found.add(
                _("Codice fiscale già presente alla riga %(line)s.") % {"line": seen[fiscal_code]},
                FISCAL_CODE,
            )
        elif fiscal_code:
            seen[fiscal_code] = line

        variables: dict[str, str] = {}
        for name, kind, required, pattern in placeholders:
            raw = cell(row, name)
            if not raw:
                if required:
                    found.add(_("«%(name)s» è obbligatorio ma è vuoto.") % {"name": name}, name)
                variables[name] = ""
                continue
            if pattern is not None and not pattern.fullmatch(raw):
                found.add(
                    _("«%(name)s» non rispetta il formato richiesto dal modello.") % {"name": name},
                    name,
                )
                continue
            try:
                variables[name] = typed[kind](raw)
            except ValueProblem as wrong:
                found.add(_("«%(name)s» %(problem)s.") % {"name": name, "problem": wrong}, name)

        due_date: datetime | None = None
        raw_due = cell(row, DUE_DATE)
        if raw_due:
            try:
                due_date = due_date_of(raw_due)
            except ValueProblem as wrong:
                found.add(_("Data di scadenza: %(problem)s.") % {"problem": wrong}, DUE_DATE)
            else:
                if due_date < now:
                    found.add(_("La data di scadenza è già passata."), DUE_DATE)
        elif spec.has_due_date:
            found.add(_("La data di scadenza è obbligatoria ma è vuota."), DUE_DATE)

        payment: PaymentData | None = None
        amount: int | None = None
        raw_amount, notice = cell(row, AMOUNT), cell(row, NOTICE_NUMBER).replace(" ", "")
        invalid_after = False
        payee = cell(row, PAYEE_FISCAL_CODE)
        if raw_amount or notice or spec.has_payment:
            if not raw_amount:
                found.add(_("L'importo è obbligatorio per l'avviso di pagamento."), AMOUNT)
            else:
                try:
                    amount = cents_of(raw_amount)
                except ValueProblem as wrong:
                    found.add(_("Importo: %(problem)s.") % {"problem": wrong}, AMOUNT)
            if not notice:
                found.add(_("Il codice avviso pagoPA è obbligatorio."), NOTICE_NUMBER)
            elif amount is None and not NOTICE_NUMBER_RE.match(notice):
                found.add(io_texts.NOTICE_NUMBER_FORMAT, NOTICE_NUMBER)
            try:
                invalid_after = parse_bool(cell(row, INVALID_AFTER_DUE_DATE))
            except ValueProblem as wrong:
                found.add(
                    _("Avviso non pagabile dopo la scadenza: %(problem)s.") % {"problem": wrong},
                    INVALID_AFTER_DUE_DATE,
                )
            if amount is not None and notice:
                payment = PaymentData(
                    amount=amount,
                    notice_number=notice,
                    invalid_after_due_date=invalid_after,
                    payee_fiscal_code=payee or None,
                )
            if invalid_after and due_date is None:
                found.add(
                    _("Un avviso non pagabile dopo la scadenza richiede una scadenza."),
                    INVALID_AFTER_DUE_DATE,
                )

        attachment = cell(row, ATTACHMENT)
        if ATTACHMENT in columns:
            if not attachment:
                found.add(_("Il nome del file allegato è vuoto."), ATTACHMENT)
            elif not SAFE_FILE_NAME_RE.match(attachment) or ".." in attachment:
                found.add(
                    _(
                        "Il nome del file allegato non è valido: usa lettere, cifre, spazi e "
                        ". _ ( ) -, senza cartelle."
                    ),
                    ATTACHMENT,
                )
            else:
                for text in _attachment_problems(attachment, line, spec, seen_files):
                    found.add(text, ATTACHMENT)

        message = NewMessage(
            fiscal_code=fiscal_code,
            subject=render(spec.subject, variables, known),
            markdown=render(spec.markdown, variables, known),
            feature_level_type=level,
            due_date=due_date,
            payment_data=payment,
        )
        for io_problem in validate_new_message(
            message, max_allowed_payment_amount=spec.max_payment_amount
        ):
            if io_problem.field.endswith("payment_data.amount") and amount is None:
                continue
            found.add(io_problem.message, IO_FIELD_TARGETS.get(io_problem.field))

        if found.items:
            outcome.rejected.append(
                {
                    "line": line,
                    "reasons": [p["reason"] for p in found.items],
                    "problems": found.items,
                    "cells": list(row),
                }
            )
            continue
        if attachment:
            variables[ATTACHMENT_KEY] = attachment
        outcome.valid.append(
            {
                "line": line,
                "fiscal_code": fiscal_code,
                "variables": variables,
                "due_date": due_date.isoformat() if due_date else None,
                "amount": amount if payment else None,
                "notice_number": notice if payment else "",
                "invalid_after_due_date": invalid_after if payment else False,
                "payee_fiscal_code": payee if payment else "",
            }
        )
    return outcome
