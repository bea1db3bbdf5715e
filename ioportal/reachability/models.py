"""A reachability check: a list of citizens whose IO profile is read for one service, without
sending anything. Its rows keep the fiscal code as `Delivery` does (encrypted, keyed hash,
masked) and the result of the check."""

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ioportal.core.io_texts import parts_text, reason_text


class ReachabilityCheck(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("In coda")
        RUNNING = "running", _("In corso")
        DONE = "done", _("Completata")
        FAILED = "failed", _("Interrotta")

    ACTIVE = (State.QUEUED, State.RUNNING)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    service = models.ForeignKey(
        "ioservices.IOService",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("servizio IO"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    source_name = models.CharField(_("file"), max_length=200, blank=True)
    state = models.CharField(_("stato"), max_length=10, choices=State.choices, default=State.QUEUED)
    # Why the check stopped before the end (state FAILED), as sentences translated when
    # shown (core.io_texts.Part; `failure_text`).
    failure_parts = models.JSONField(default=list, blank=True)
    # Rows of the file refused before any check: [{"line", "reasons": [part]}], codes masked,
    # each reason stored untranslated (core.io_texts.Part; a text for checks made before),
    # shown by `rejected_rows`.
    rejected = models.JSONField(default=list, blank=True)
    # What reading the file found (`ParsedTable.warnings`: the sheet read, hidden rows and
    # columns, repeated and look-alike column names), stored untranslated
    # (core.io_texts.Part; texts for checks made before), shown by `file_warnings_text`.
    file_warnings = models.JSONField(default=list, blank=True)
    # The column of the file read as fiscal codes: its name as the file writes it (without
    # the letter that tells a repeated name apart) and its letter; blank for checks made
    # before they were kept.
    column_name = models.CharField(max_length=255, blank=True)
    column_letter = models.CharField(max_length=3, blank=True)
    # The valid rows as the upload left them, [[line, fiscal code]] sealed (recipients.sealing),
    # until the first run turns them into ReachabilityRow; then empty.
    pending_rows = models.TextField(blank=True, editable=False)
    # Counts of the rows by result, refreshed as the workers go (`ReachabilityRow.Result`).
    total = models.PositiveIntegerField(default=0)
    reachable = models.PositiveIntegerField(default=0)
    not_on_io = models.PositiveIntegerField(default=0)
    blocked = models.PositiveIntegerField(default=0)
    not_authorized = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    # The run working on the check and until when (a run renews it; a lapsed one is dead).
    runner = models.UUIDField(null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the rows (fiscal codes) were deleted at the end of the retention period; the
    # counts stay.
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("verifica di raggiungibilità")
        verbose_name_plural = _("verifiche di raggiungibilità")
        indexes = [
            # The list of an organization's checks, newest first.
            models.Index(fields=["organization", "-created_at"], name="reach_org_created_idx"),
            # The sweeper: checks not finished.
            models.Index(fields=["state"], name="reach_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.created_at:%Y-%m-%d %H:%M}" if self.created_at else "-"

    @property
    def checked(self) -> int:
        return self.reachable + self.not_on_io + self.blocked + self.not_authorized + self.errors

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE

    @property
    def rejected_rows(self) -> list[dict[str, Any]]:
        """The rows refused before any check, {"line", "reasons": [text]}, in the reader's
        language."""
        return [
            {**row, "reasons": [reason_text(reason) for reason in row.get("reasons", [])]}
            for row in self.rejected
        ]

    @property
    def file_warnings_text(self) -> list[str]:
        """What reading the file found, in the reader's language."""
        return [reason_text(warning) for warning in self.file_warnings]

    @property
    def failure_text(self) -> str:
        """Why the check stopped, in the reader's language ("" when it did not)."""
        return parts_text(self.failure_parts)


class ReachabilityRow(models.Model):
    class Result(models.TextChoices):
        PENDING = "pending", _("Da verificare")
        REACHABLE = "reachable", _("Raggiungibile")
        NOT_ON_IO = "not_on_io", _("Non è su IO")
        BLOCKED = "blocked", _("Ha bloccato il servizio")
        NOT_AUTHORIZED = "not_authorized", _("Non autorizzato (servizio in prova)")
        ERROR = "error", _("Errore della verifica")

    class Source(models.TextChoices):
        PROFILE = "profile", _("profilo IO")
        FEED = "feed", _("feed delle iscrizioni")
        TEST_MODE = "test_mode", _("servizio in prova")

    check_run = models.ForeignKey(ReachabilityCheck, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField()
    fiscal_code_encrypted = models.TextField(editable=False)
    fiscal_code_hmac = models.CharField(max_length=64, editable=False)
    fiscal_code_masked = models.CharField(_("codice fiscale"), max_length=16, editable=False)
    result = models.CharField(max_length=16, choices=Result.choices, default=Result.PENDING)
    source = models.CharField(max_length=10, choices=Source.choices, blank=True)
    # What the result does not say (an error's reason), as sentences translated when shown
    # (core.io_texts.Part; `detail_text`).
    detail_parts = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("cittadino da verificare")
        verbose_name_plural = _("cittadini da verificare")
        indexes = [
            # The workers' next rows (result pending) and the counts by result.
            models.Index(fields=["check_run", "result"], name="reachrow_check_result_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["check_run", "fiscal_code_hmac"], name="reachrow_one_per_citizen"
            )
        ]

    def __str__(self) -> str:
        return f"{self.fiscal_code_masked} {self.result}"

    @property
    def detail_text(self) -> str:
        """What the result does not say, in the reader's language ("" for most rows)."""
        return parts_text(self.detail_parts)
