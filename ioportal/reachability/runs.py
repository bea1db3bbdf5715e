"""The worker's run of a reachability check: reads each pending citizen's IO profile for the
check's service, through the account's gateway, and writes the result.

Priority: a check uses the IO account's rate budget only when sending leaves it free. Every
profile read takes a *low-priority* token from the account's shared limiter (as status polls
and the subscriptions feed do: a submission waiting for a token always gets it first), and a
run does not start, or stops, while any dispatch of the account has deliveries due to be
checked or submitted (`sending.claims.work_queryset`: running dispatches, inside their send
window and daily quota). The sweeper starts it again a minute later. So a check never slows
a dispatch down; a dispatch can hold a check back for as long as it sends.

Reads first, calls last: a service in test mode is never asked about a citizen it is not
authorised for (IO would answer 403), and where the service's subscriptions feed is synced
and recent its answer replaces the call (`sending.feed.known_consent`).

Crash safety: one run at a time holds the check (a lease renewed as it goes). A killed run's
lease lapses and the sweeper enqueues a new run, which reads again every row still pending,
including the ones the dead run was reading: nothing is sent, so reading a profile twice is
harmless (one more call in the budget, no effect for the citizen).
"""

import logging
import time
import uuid
from collections import Counter
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop as _

from ioportal.core import crypto
from ioportal.core.fiscalcode import reveal_fiscal_code
from ioportal.core.io_texts import said
from ioportal.ioapi import IOApiError, Profile
from ioportal.ioservices.models import IOService
from ioportal.ioservices.services import ServiceKeyUnavailableError
from ioportal.reachability import services
from ioportal.reachability.models import ReachabilityCheck, ReachabilityRow
from ioportal.reachability.services import (
    Verdict,
    classify,
    enqueue_run,
    refresh_counts,
)
from ioportal.recipients import testmode
from ioportal.sending import claims, feed, limiter
from ioportal.sending.conf import sending_settings
from ioportal.sending.gateway import Gateway, OutOfTime, get_profile

logger = logging.getLogger(__name__)
R = ReachabilityRow.Result
S = ReachabilityCheck.State
BATCH = 20
# Seconds a profile read waits for a low-priority token before the run looks again whether
# sending needs the account.
TOKEN_WAIT = 5.0
# Seconds between two looks at the account's sending work.
BUSY_EVERY = 1.0
# Rows whose read must be repeated are left to the next run once this many are waiting.
MAX_DEFERRED = 500


def sending_needs_account(*, organization_id: int) -> bool:
    """True while a dispatch of the account has deliveries due for a check or a submission."""
    return claims.work_queryset(organization_id=organization_id).exists()


def claim_check(*, check_id: int, runner: uuid.UUID, lease: float) -> bool:
    """Take the check for `runner` (compare-and-set): unfinished and not held by a live run."""
    now = timezone.now()
    return bool(
        ReachabilityCheck.objects.filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now),
            pk=check_id,
            state__in=ReachabilityCheck.ACTIVE,
        ).update(state=S.RUNNING, runner=runner, lease_until=now + timedelta(seconds=lease))
    )


class CheckRun:
    """One worker's run on one check, for at most `budget` seconds."""

    def __init__(self, check_id: int, *, budget: float | None = None) -> None:
        conf = sending_settings()
        self.check_id = check_id
        self.runner = uuid.uuid4()
        self.lease = conf.lease_seconds
        self.deadline = time.monotonic() + (conf.task_budget if budget is None else budget)
        self.stats: Counter[str] = Counter()
        self.deferred: set[int] = set()
        self.next_renewal = 0.0
        self.next_busy_look = 0.0

    def run(self) -> dict[str, int]:
        """Work on the check; returns counters ("busy" when another run holds it). Enqueues
        the next run when the budget ends with rows left and nothing else held it back."""
        if not claim_check(check_id=self.check_id, runner=self.runner, lease=self.lease):
            return {"busy": 1}
        check = ReachabilityCheck.objects.select_related("service", "organization").get(
            pk=self.check_id
        )
        self.next_renewal = time.monotonic() + self.lease / 4
        again = False
        try:
            again = self.loop(check)
        except Exception:
            logger.exception("reachability check %s: run failed", self.check_id)
            self.stats["error"] += 1
        finally:
            refresh_counts(check)
            self.release()
        if again:
            enqueue_run(check_id=self.check_id)
        return dict(self.stats)

    def loop(self, check: ReachabilityCheck) -> bool:
        """True when the run stopped only for its budget (the next run follows at once)."""
        try:
            services.reachability_rows_create(check=check)
        except crypto.DecryptionError:
            reason = (said(_("L'elenco non è leggibile (chiave di cifratura errata).")),)
            self.fail(check, Verdict(R.ERROR, reason))
            return False
        service = check.service
        if not service.is_active:
            reason = (said(_("Il servizio IO è disattivato: la verifica è stata interrotta.")),)
            self.fail(check, Verdict(R.ERROR, reason))
            return False
        gateway = Gateway(check.organization)
        service = gateway.service(service)
        while True:
            if time.monotonic() >= self.deadline:
                return True
            if self.yields(check):
                return False
            rows = list(
                ReachabilityRow.objects.filter(check_run=check, result=R.PENDING)
                .exclude(pk__in=self.deferred)
                .order_by("id")[:BATCH]
            )
            if not rows:
                # Rows to read again wait for the next run (the sweeper's, a minute later).
                if not self.deferred:
                    self.finish(check)
                return False
            for row in rows:
                verdict = self.check_row(gateway, service, row)
                if verdict is None:  # no token in time: look at the account again
                    break
                if verdict.stop:
                    self.fail(check, verdict)
                    return False
                if not self.renew():
                    self.stats["lease_lost"] += 1
                    return False
                if time.monotonic() >= self.deadline or self.yields(check):
                    break
            refresh_counts(check)
            if len(self.deferred) >= MAX_DEFERRED:
                return False

    def yields(self, check: ReachabilityCheck) -> bool:
        """True when sending needs the account now or its circuit breaker is open."""
        now = time.monotonic()
        if now < self.next_busy_look:
            return False
        self.next_busy_look = now + BUSY_EVERY
        if sending_needs_account(organization_id=check.organization_id):
            self.stats["yielded"] += 1
            return True
        allowed, _probe = limiter.breaker_allows(organization_id=check.organization_id)
        if not allowed:
            self.stats["breaker_open"] += 1
            return True
        return False

    def check_row(
        self, gateway: Gateway, service: IOService, row: ReachabilityRow
    ) -> Verdict | None:
        """Find and write one row's result. None when no token came in time (row untouched)."""
        try:
            fiscal_code = reveal_fiscal_code(row.fiscal_code_encrypted)
        except crypto.DecryptionError:
            reason = (said(_("Il codice fiscale non è leggibile (chiave di cifratura errata).")),)
            verdict = Verdict(R.ERROR, reason)
            self.write(row, verdict, source="")
            return verdict
        if testmode.skipped_in_test_mode(service, fiscal_code):
            verdict = Verdict(R.NOT_AUTHORIZED)
            self.write(row, verdict, source=ReachabilityRow.Source.TEST_MODE)
            self.stats["test_mode"] += 1
            return verdict
        known = feed.known_consent(service=service, fiscal_code=fiscal_code)
        if known is not None:
            verdict = Verdict(R.REACHABLE if known else R.BLOCKED)
            self.write(row, verdict, source=ReachabilityRow.Source.FEED)
            self.stats["feed"] += 1
            return verdict
        result: Profile | None = None
        error: Exception | None = None
        try:
            result = gateway.call(
                service, get_profile(fiscal_code), low_priority=True, max_wait=TOKEN_WAIT
            )
        except OutOfTime:
            self.stats["no_token"] += 1
            return None
        except (IOApiError, ServiceKeyUnavailableError) as exc:
            error = exc
        self.stats["calls"] += 1
        attempts = row.attempts + 1
        verdict = classify(result, error, attempts=attempts)
        if verdict.retry:
            ReachabilityRow.objects.filter(pk=row.pk).update(attempts=attempts)
            self.deferred.add(row.pk)
            self.stats["retry"] += 1
            return verdict
        self.write(row, verdict, source=ReachabilityRow.Source.PROFILE, attempts=attempts)
        return verdict

    def write(
        self, row: ReachabilityRow, verdict: Verdict, *, source: str, attempts: int | None = None
    ) -> None:
        # Another run may have written the same row after this one's lease lapsed: both
        # read the same profile, so the first result stays.
        ReachabilityRow.objects.filter(pk=row.pk, result=R.PENDING).update(
            result=verdict.result,
            detail_parts=list(verdict.detail),
            source=source,
            attempts=row.attempts if attempts is None else attempts,
            checked_at=timezone.now(),
        )
        self.stats[verdict.result] += 1

    def renew(self) -> bool:
        """Extend the lease when due; False when another run holds the check now."""
        now = time.monotonic()
        if now < self.next_renewal:
            return True
        self.next_renewal = now + self.lease / 4
        return bool(
            ReachabilityCheck.objects.filter(pk=self.check_id, runner=self.runner).update(
                lease_until=timezone.now() + timedelta(seconds=self.lease)
            )
        )

    def release(self) -> None:
        ReachabilityCheck.objects.filter(pk=self.check_id, runner=self.runner).update(
            runner=None, lease_until=None
        )

    def finish(self, check: ReachabilityCheck) -> None:
        refresh_counts(check)
        ReachabilityCheck.objects.filter(pk=check.pk, runner=self.runner).update(
            state=S.DONE, finished_at=timezone.now()
        )

    def fail(self, check: ReachabilityCheck, verdict: Verdict) -> None:
        """Stop the check: every row still pending ends as an error with the reason."""
        now = timezone.now()
        ReachabilityRow.objects.filter(check_run=check, result=R.PENDING).update(
            result=R.ERROR, detail_parts=list(verdict.detail), checked_at=now
        )
        refresh_counts(check)
        ReachabilityCheck.objects.filter(pk=check.pk, runner=self.runner).update(
            state=S.FAILED, failure_parts=list(verdict.detail), finished_at=now
        )


def run_check(*, check_id: int, budget: float | None = None) -> dict[str, int]:
    """Read the profiles of a check's pending rows for up to `budget` seconds (default:
    the pipeline's task budget). Side effects: IO profile calls (never a submission),
    ApiCall rows, row results, the check's counts and state. Safe to run any number of
    times, concurrently and after a crash (see the module's docstring)."""
    return CheckRun(check_id, budget=budget).run()


def sweep() -> int:
    """Enqueue a run for every unfinished check no live run holds. Returns how many."""
    now = timezone.now()
    ids = list(
        ReachabilityCheck.objects.filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now),
            state__in=ReachabilityCheck.ACTIVE,
        ).values_list("pk", flat=True)
    )
    for check_id in ids:
        enqueue_run(check_id=check_id)
    return len(ids)
