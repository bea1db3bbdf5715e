"""State of the sending pipeline that is not per delivery: IO calls, accounts, worker slots.

The per-delivery state machine lives on `messaging.Delivery`; this app owns the rows every
worker of an IO account shares (rate limiter, circuit breaker, worker slots) and the log of
IO calls.
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import connections, models, router
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ioportal.messaging.windows import Schedule, schedule_from_hours


class ApiCall(models.Model):
    """One HTTP call to IO. Never holds a key, a fiscal code or message text."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    service = models.ForeignKey(
        "ioservices.IOService", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    delivery = models.ForeignKey(
        "messaging.Delivery", on_delete=models.SET_NULL, null=True, related_name="api_calls"
    )
    operation = models.CharField(max_length=40)
    status_code = models.PositiveSmallIntegerField(null=True)
    duration_ms = models.PositiveIntegerField(default=0)
    # "ok" or the client's error class name (RateLimitedError, AmbiguousError, ...).
    outcome = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("chiamata a IO")
        verbose_name_plural = _("chiamate a IO")
        indexes = [
            # Calls of one account over time (utilisation, 429 counts in benchmarks and pages).
            models.Index(fields=["organization", "created_at"], name="apicall_org_created_idx"),
            # The calls of one delivery, on its detail.
            models.Index(fields=["delivery"], name="apicall_delivery_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.status_code or '-'} {self.outcome}"


# The columns `insert_api_calls` writes, in order.
API_CALL_COLUMNS = (
    "organization_id",
    "service_id",
    "delivery_id",
    "operation",
    "status_code",
    "duration_ms",
    "outcome",
    "created_at",
)


def insert_api_calls(rows: Iterable[ApiCall]) -> int:
    """Insert unsaved ApiCall `rows` in one statement (executemany), in the caller's
    transaction; their `pk` stays None. Returns how many. A row keeps the `created_at` it was
    given (the moment its answer arrived, `Gateway.api_call`: a run writes it with the
    transition it belongs to, up to a round later), else it is created now.

    The account runs write every IO call's row with the transition it belongs to, several per
    transaction: a statement written out once instead of `bulk_create`, whose query building
    per row and field was a tenth of a worker's CPU in the fairness benchmark, spent on SQLite
    while holding the database's one write lock."""
    rows = list(rows)
    if not rows:
        return 0
    db = connections[router.db_for_write(ApiCall)]
    now = timezone.now()
    table = db.ops.quote_name(ApiCall._meta.db_table)
    columns = ", ".join(db.ops.quote_name(name) for name in API_CALL_COLUMNS)
    marks = ", ".join(["%s"] * len(API_CALL_COLUMNS))
    # Names from the model, quoted; every value a parameter.
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
    with db.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                (
                    row.organization_id,
                    row.service_id,
                    row.delivery_id,
                    row.operation,
                    row.status_code,
                    row.duration_ms,
                    row.outcome,
                    db.ops.adapt_datetimefield_value(row.created_at or now),
                )
                for row in rows
            ],
        )
    return len(rows)


class AccountState(models.Model):
    """One row per IO account (organization): the shared DB rate limiter and circuit breaker.

    Times are Unix seconds (float) by the database server's clock (`clock.py`); the Redis
    limiter keeps its state in Redis, on Redis's clock.
    """

    organization = models.OneToOneField(
        "accounts.Organization",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="sending_state",
    )
    # Unused since the sliding-window limiter (kept for rolling upgrades).
    tokens = models.FloatField(default=0)
    refilled_at = models.FloatField(default=0)
    # Sliding-window limiter (limiter.py): the pacing's next due moment (GCRA theoretical
    # arrival time), the moments of the calls granted in the last window (Unix seconds,
    # ascending, possibly a few ms ahead for reserved calls), and of the 429s seen in it.
    next_call_at = models.FloatField(default=0)
    recent_calls = models.JSONField(default=list)
    recent_429s = models.JSONField(default=list)
    # After a 429 every worker of the account waits until this moment.
    paused_until = models.FloatField(default=0)
    # Share of the budget in use: lowered when IO keeps refusing calls, grows back to 1.
    rate_factor = models.FloatField(default=1)
    factor_at = models.FloatField(default=0)
    # Circuit breaker: consecutive failures; open until `breaker_open_until`.
    breaker_failures = models.PositiveIntegerField(default=0)
    breaker_open_until = models.FloatField(default=0)
    last_429_at = models.DateTimeField(null=True, blank=True)
    # Account runs enqueued and not started yet, and when the last were enqueued (Unix s):
    # `triggers.wake_up` enqueues no more than the account can use (no queue of redundant
    # runs that makes every other task wait).
    queued_runs = models.PositiveIntegerField(default=0)
    queued_runs_at = models.FloatField(default=0)

    class Meta:
        verbose_name = _("stato dell'account IO")
        verbose_name_plural = _("stati degli account IO")

    def __str__(self) -> str:
        return f"account {self.organization_id}"


class WorkerSlot(models.Model):
    """At most SENDING_WORKERS_PER_ACCOUNT account workers run at once: each holds a slot.

    A slot is taken by compare-and-set on an expired lease, so a crashed worker's slot frees
    itself when its lease passes.
    """

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    number = models.PositiveSmallIntegerField()
    holder = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "number"], name="workerslot_org_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"slot {self.number} of {self.organization_id}"


class UncertainResolution(models.Model):
    """A person's decision about an uncertain delivery (also in the audit trail)."""

    class Decision(models.TextChoices):
        MARK_SENT = "mark_sent", _("Segnato come inviato")
        RESEND = "resend", _("Inviato di nuovo")

    delivery = models.ForeignKey(
        "messaging.Delivery", on_delete=models.CASCADE, related_name="uncertain_resolutions"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The resolutions of one delivery, on its dispatch page.
            models.Index(fields=["delivery", "decided_at"], name="uncertainres_delivery_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.decision}"


class FeedSubscription(models.Model):
    """What IO's subscriptions feed last said about one citizen for one service.

    Only IO's hash of the fiscal code (SHA-256 hex), never the code. `subscribed` is the
    latest event seen (True = subscription, False = unsubscription) and `day` its feed day.
    """

    service = models.ForeignKey("ioservices.IOService", on_delete=models.CASCADE, related_name="+")
    fiscal_code_hash = models.CharField(max_length=64)
    subscribed = models.BooleanField()
    day = models.DateField()

    class Meta:
        constraints = [
            # Also the index of the recipient check's lookup (service, hash).
            models.UniqueConstraint(
                fields=["service", "fiscal_code_hash"], name="feedsub_service_hash_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.fiscal_code_hash[:8]}… {self.subscribed}"


class FeedDay(models.Model):
    """One UTC day of a service's subscriptions feed that was fetched and applied."""

    service = models.ForeignKey("ioservices.IOService", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    subscriptions = models.PositiveIntegerField(default=0)
    unsubscriptions = models.PositiveIntegerField(default=0)
    fetched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Also the index for "latest day synced" and "missing days" of a service.
            models.UniqueConstraint(fields=["service", "day"], name="feedday_service_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.day}"


class SendWindowPolicy(models.Model):
    """When an organization's messages may reach citizens (`messaging.windows`).

    No row, or `enabled` False, means at any moment. `hours` maps a weekday ("0" = Monday …
    "6" = Sunday) to ["HH:MM", "HH:MM"] in Europe/Rome time ("00:00" as end = midnight); an
    absent weekday is closed. Test sends (to the service's test recipients) ignore it.
    """

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="send_window_policy"
    )
    enabled = models.BooleanField(_("limita gli invii alle finestre"), default=False)
    hours = models.JSONField(default=dict, blank=True)
    skip_holidays = models.BooleanField(_("escludi le festività nazionali"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("finestre di invio")
        verbose_name_plural = _("finestre di invio")

    def __str__(self) -> str:
        return f"{self.organization_id}: {'on' if self.enabled else 'off'}"

    def schedule(self) -> Schedule | None:
        """The windows as a `messaging.windows.Schedule`, or None when not enabled."""
        if not self.enabled:
            return None
        return schedule_from_hours(self.hours, skip_holidays=self.skip_holidays)
