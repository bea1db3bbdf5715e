"""A prepared export: an XLSX too large to be written while the browser waits (more than
`EXPORT_XLSX_INLINE_MAX_ROWS` rows) is written by a worker into an encrypted file, which its
requester downloads from a page that follows the preparation (docs/reports.md)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class PreparedExport(models.Model):
    class Kind(models.TextChoices):
        DISPATCH = "dispatch", _("Consegne di un invio")
        SEARCH = "search", _("Risultati della ricerca per codice fiscale")

    class State(models.TextChoices):
        PENDING = "pending", _("In coda")
        RUNNING = "running", _("In preparazione")
        READY = "ready", _("Pronto")
        FAILED = "failed", _("Non riuscito")
        EXPIRED = "expired", _("Non più disponibile")

    ACTIVE = (State.PENDING, State.RUNNING)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The exported dispatch (kind DISPATCH); None for a search.
    dispatch = models.ForeignKey(
        "messaging.Dispatch", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # What the export applies: {"esito": group} or {"fiscal_code_hmac": keyed hash} (never
    # the fiscal code itself), with the requester's "language" and "time_zone".
    parameters = models.JSONField(default=dict, blank=True)
    # sha256 of the kind, dispatch and filters: the same request while one is being prepared
    # joins it (a double click starts nothing new).
    fingerprint = models.CharField(max_length=64)
    # The audit event's target label and base name of the file (masked code, dispatch title).
    target_label = models.CharField(max_length=200, blank=True)
    filename = models.CharField(max_length=120)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    # Why it failed (state FAILED): an Italian msgid, translated when shown (`failure_text`).
    failure_reason = models.CharField(max_length=300, blank=True)
    rows = models.PositiveIntegerField(default=0)
    # The encrypted file in the default storage (core.crypto.encrypt_file): named when the
    # preparation starts, before it is written; "" before, after a failure and once deleted.
    file_name = models.CharField(max_length=200, blank=True)
    # Bytes of the XLSX (decrypted): the download's Content-Length.
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the file is deleted (set when it is ready).
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "fingerprint"],
                condition=Q(state__in=["pending", "running"]),
                name="reports_prepared_export_one_active",
            )
        ]
        indexes = [
            # The purge: ready exports past their expiry, stale pending/running ones.
            models.Index(fields=["state", "expires_at"], name="reports_prepared_state_exp"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_state_display()})"

    @property
    def failure_text(self) -> str:
        """Why it failed, in the reader's language ("" when it did not)."""
        return gettext(self.failure_reason) if self.failure_reason else ""
