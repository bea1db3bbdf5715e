"""Reachability checks: creating one from an uploaded list, counting its results, and the
classification of a profile read.

Nothing here sends a message: the only IO call a check makes is the profile read
(POST /profiles), in `runs.py`, through the sending pipeline's gateway.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext
from django_q.tasks import async_task
from openpyxl.utils import get_column_letter

from ioportal.accounts.models import Organization, User
from ioportal.core.fiscalcode import protect_fiscal_code
from ioportal.core.io_texts import Part, as_is, io_error_parts, said
from ioportal.core.services import audit_log
from ioportal.ioapi import (
    IOApiError,
    KeyRejectedError,
    NotFoundError,
    PermanentError,
    Profile,
    RateLimitedError,
)
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ServiceKeyUnavailableError
from ioportal.reachability.audit import Action
from ioportal.reachability.models import ReachabilityCheck, ReachabilityRow
from ioportal.recipients.parsing import ImportChoiceNeeded, ParsedTable, header_label
from ioportal.recipients.sealing import seal, unseal
from ioportal.recipients.services import problem_part, rejected_problems
from ioportal.recipients.validation import (
    FISCAL_CODE,
    TOLD_APART_RE,
    MessageSpec,
    guess_mapping,
    validate_rows,
)

R = ReachabilityRow.Result
CHUNK = 1000
# A row whose profile read failed for a transient reason this many times ends as "error".
MAX_ATTEMPTS = 3
# The rows are checked as messages would be, with a placeholder content long enough for IO's
# limits, so the only problems found are the fiscal code's.
_SPEC = MessageSpec(
    subject="Verifica di raggiungibilità",
    markdown="Verifica di raggiungibilità senza invio di messaggi. " * 3,
)


class NoFiscalCodeColumn(ImportChoiceNeeded):
    """The fiscal-code column cannot be told from the file: the operator chooses it among
    `choices` (the headers, a repeated one told apart by its column letter) in the form's
    field `column`; the message says why."""

    def __init__(self, message: str, *, headers: Sequence[str], values: dict[str, Any]):
        named = [header for header in headers if header]
        choices = [(h, header_label(h)) for h in named]
        super().__init__(message, field="column", choices=choices, values=values)


def fiscal_code_column(headers: Sequence[str], chosen: str = "") -> str:
    """The column holding the fiscal codes: `chosen` when it is a header, else the one the
    recipients' import recognises by name ("codice_fiscale", "CF", …), else the only column.
    Several columns named like it (a repeated "codice_fiscale", "Codice fiscale" next to
    "codice_fiscale", "CF" next to "codice_fiscale") are never chosen among: the check
    starts at once, with no mapping page to correct a guess, so the operator chooses.
    Raises NoFiscalCodeColumn with an Italian sentence naming them."""
    if chosen:
        if chosen in headers:
            return chosen
        raise NoFiscalCodeColumn(
            _(
                "La colonna «%(column)s» non è nel file: scegli quella con i codici fiscali "
                "e premi %(button)s."
            ),
            headers=headers,
            values={"column": chosen},
        )
    named = [h for h in headers if h]
    # The columns recognised by name, each alone: two of them are never chosen among.
    alike = [h for h in named if guess_mapping([h], [FISCAL_CODE])]
    if len(alike) == 1:
        return alike[0]
    if len(named) == 1:
        return named[0]
    if alike:
        raise NoFiscalCodeColumn(
            _(
                "Più colonne possono contenere il codice fiscale: %(columns)s. Scegli quella "
                "con i codici fiscali e premi %(button)s."
            ),
            headers=headers,
            values={
                "columns": ", ".join(_("«%(header)s»") % {"header": header_label(h)} for h in alike)
            },
        )
    raise NoFiscalCodeColumn(
        _(
            "Non trovo la colonna del codice fiscale: scegli quella con i codici fiscali e "
            "premi %(button)s."
        ),
        headers=headers,
        values={},
    )


def reachability_check_create(
    *,
    service: IOService,
    table: ParsedTable,
    column: str,
    source_name: str,
    actor: User,
    request: HttpRequest | None = None,
) -> ReachabilityCheck:
    """Create a check of the valid fiscal codes of `table` (column `column`) for `service` and
    enqueue its run once committed. Invalid or repeated codes are kept as rejected lines with
    the import's reasons, stored untranslated (core.io_texts.Part; codes masked); the valid ones
    are kept sealed on the check until its first run stores them one row each
    (`reachability_rows_create`), so that a 100,000-row upload answers quickly. The rows are
    checked and sealed before the one short transaction that writes the check (on SQLite a
    transaction holds the database's write lock from its start). The file's warnings
    (`table.warnings`) and the column read (its name and letter) are kept on the check for
    its page. Audited. Raises nothing for bad rows."""
    outcome = validate_rows(
        headers=table.headers,
        rows=table.rows,
        lines=table.lines,
        mapping={FISCAL_CODE: column},
        spec=_SPEC,
        number_cells=table.number_cells or None,
        date_system=table.date_system,
    )
    rejected = [
        {
            "line": row["line"],
            "reasons": [problem_part(problem) for problem in rejected_problems(row)],
        }
        for row in outcome.rejected
    ]
    pending_rows = (
        seal([[row["line"], row["fiscal_code"]] for row in outcome.valid]) if outcome.valid else ""
    )
    with transaction.atomic():
        return _check_store(
            service=service,
            source_name=source_name,
            actor=actor,
            rejected=rejected,
            total=len(outcome.valid),
            pending_rows=pending_rows,
            file_warnings=table.warnings,
            column=(
                TOLD_APART_RE.sub("", column),
                get_column_letter(table.headers.index(column) + 1),
            ),
            request=request,
        )


def _check_store(
    *,
    service: IOService,
    source_name: str,
    actor: User,
    rejected: list[dict[str, Any]],
    total: int,
    pending_rows: str,
    file_warnings: list[Part],
    column: tuple[str, str],
    request: HttpRequest | None,
) -> ReachabilityCheck:
    """The writes of `reachability_check_create`, in its transaction."""
    check = ReachabilityCheck.objects.create(
        organization=service.organization,
        service=service,
        created_by=actor,
        source_name=source_name[:200],
        rejected=rejected,
        total=total,
        pending_rows=pending_rows,
        file_warnings=file_warnings,
        column_name=column[0][:255],
        column_letter=column[1],
    )
    audit_log(
        action=Action.CHECK_CREATED,
        actor=actor,
        organization=service.organization,
        target=check,
        target_label=service.name,
        changes={"rows": check.total, "rejected": len(rejected)},
        request=request,
    )
    if check.total == 0:
        check.state = ReachabilityCheck.State.DONE
        check.finished_at = timezone.now()
        check.save(update_fields=["state", "finished_at"])
    else:
        transaction.on_commit(lambda: enqueue_run(check_id=check.pk))
    return check


def reachability_checks_due(
    *, organization: Organization, cutoff: datetime
) -> QuerySet[ReachabilityCheck]:
    """The organization's checks whose rows the purge removes once `cutoff` is the end of
    their retention (finished at or before it, rows not yet deleted): what
    `reachability_checks_purge_expired` purges with that retention."""
    return ReachabilityCheck.objects.filter(
        organization=organization,
        purged_at__isnull=True,
        finished_at__isnull=False,
        finished_at__lte=cutoff,
    )


def reachability_purge_preview(*, organization: Organization, cutoff: datetime) -> list[str]:
    """For the retention page (`accounts.retention.retention_due_requested`): the checks and
    fiscal codes a purge with `cutoff` would delete, as an Italian sentence (two queries);
    empty when none."""
    due = reachability_checks_due(organization=organization, cutoff=cutoff)
    checks = due.count()
    if not checks:
        return []
    rows = ReachabilityRow.objects.filter(check_run__in=due.values("pk")).count()
    return [
        ngettext(
            "%(checks)s verifica di raggiungibilità",
            "%(checks)s verifiche di raggiungibilità",
            checks,
        )
        % {"checks": checks}
        + ", "
        + ngettext("con %(rows)s codice fiscale", "con %(rows)s codici fiscali", rows)
        % {"rows": rows}
    ]


def reachability_checks_purge_expired(*, now: datetime | None = None) -> int:
    """Delete the rows (fiscal codes and results) of checks that finished more than their
    organization's `retention_days` ago, as for dispatches; the check and its counts stay.
    One audit event per check, with the number of rows. Returns the number of checks purged.
    Idempotent."""
    now = now or timezone.now()
    purged = 0
    expired = ReachabilityCheck.objects.filter(
        purged_at__isnull=True, finished_at__isnull=False
    ).select_related("organization", "service")
    for check in expired.iterator():
        finished = check.finished_at
        if finished is None or finished + timedelta(days=check.organization.retention_days) > now:
            continue
        with transaction.atomic():
            rows, _by_model = ReachabilityRow.objects.filter(check_run=check).delete()
            ReachabilityCheck.objects.filter(pk=check.pk).update(purged_at=now)
            audit_log(
                action=Action.CHECK_PURGED,
                organization=check.organization,
                target=check,
                target_label=check.service.name,
                changes={"rows": rows},
            )
        purged += 1
    return purged


def reachability_rows_create(*, check: ReachabilityCheck) -> int:
    """Turn the check's pending rows into ReachabilityRow (fiscal code encrypted, keyed hash,
    masked), in chunks, then forget them. Idempotent: a row already stored is skipped (one
    per citizen and check), so a run killed half-way is finished by the next one. Returns
    the rows stored. Raises crypto.DecryptionError when no key reads the pending rows."""
    if not check.pending_rows:
        return 0
    pending = unseal(check.pending_rows)
    for start in range(0, len(pending), CHUNK):
        ReachabilityRow.objects.bulk_create(
            [
                ReachabilityRow(check_run=check, line=line, **protect_fiscal_code(code))
                for line, code in pending[start : start + CHUNK]
            ],
            ignore_conflicts=True,
        )
    ReachabilityCheck.objects.filter(pk=check.pk).update(pending_rows="")
    check.pending_rows = ""
    return len(pending)


def enqueue_run(*, check_id: int) -> None:
    """Start a worker task for the check (several at once are harmless: one holds the lease,
    the others return at once)."""
    async_task(
        "ioportal.reachability.tasks.run_check", check_id, task_name=f"reachability-{check_id}"
    )


def refresh_counts(check: ReachabilityCheck) -> None:
    """Store the check's counts by result (one grouped query)."""
    counts = dict(
        ReachabilityRow.objects.filter(check_run=check)
        .values_list("result")
        .annotate(n=Count("id"))
        .values_list("result", "n")
    )
    check.reachable = counts.get(R.REACHABLE, 0)
    check.not_on_io = counts.get(R.NOT_ON_IO, 0)
    check.blocked = counts.get(R.BLOCKED, 0)
    check.not_authorized = counts.get(R.NOT_AUTHORIZED, 0)
    check.errors = counts.get(R.ERROR, 0)
    ReachabilityCheck.objects.filter(pk=check.pk).update(
        reachable=check.reachable,
        not_on_io=check.not_on_io,
        blocked=check.blocked,
        not_authorized=check.not_authorized,
        errors=check.errors,
    )


KEY_PROBLEM = gettext_noop("IO ha rifiutato la chiave del servizio, o la chiave non è leggibile.")


@dataclass(frozen=True)
class Verdict:
    """What one profile read means for a row: a final `result` with its `detail`, or
    `retry` (nothing is known yet: the row stays pending), or `stop` (the service's keys do
    not work: the whole check stops with `detail`)."""

    result: str = R.PENDING
    # Sentences translated when shown (core.io_texts.Part), stored as they are.
    detail: tuple[Part, ...] = ()
    retry: bool = False
    stop: bool = False


def classify(result: Profile | None, error: Exception | None, *, attempts: int) -> Verdict:
    """The verdict of a profile read, after `attempts` reads of the row (this one included).

    Follows the pipeline's recipient check (`sending.steps.check_outcome`): a profile with
    `sender_allowed` is reachable, without it the citizen blocked the service; 404 is "not on
    IO"; 403 "recipient forbidden" is a test-mode recipient not authorised. A 429 is retried
    without counting; a transient or ambiguous failure is retried up to MAX_ATTEMPTS reads;
    any other refusal is an error with IO's reason; refused or unreadable keys stop the check.
    """
    if error is None:
        assert result is not None
        return Verdict(R.REACHABLE if result.sender_allowed else R.BLOCKED)
    if isinstance(error, NotFoundError):
        return Verdict(R.NOT_ON_IO)
    if isinstance(error, KeyRejectedError | ServiceKeyUnavailableError):
        return Verdict(
            R.ERROR,
            (
                said(
                    gettext_noop(
                        "IO ha rifiutato la chiave del servizio, o la chiave non è leggibile."
                    )
                ),
            ),
            stop=True,
        )
    if isinstance(error, PermanentError):
        if error.is_recipient_forbidden:
            return Verdict(R.NOT_AUTHORIZED)
        return Verdict(R.ERROR, tuple(io_error_parts(error)))
    if isinstance(error, RateLimitedError):
        return Verdict(retry=True)
    if attempts < MAX_ATTEMPTS:
        return Verdict(retry=True)
    detail = io_error_parts(error) if isinstance(error, IOApiError) else [as_is(str(error))]
    return Verdict(R.ERROR, tuple(detail))
