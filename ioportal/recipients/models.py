"""Recipient lists between upload and launch.

A list keeps what the next steps need (rows, mapping, validation result), sealed with the
portal's encryption keys (`sealing.py`); the uploaded file itself is never stored. A list is
emptied when its dispatch is launched and deleted once it expires (RECIPIENTS_LIST_TTL_HOURS).
"""

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ioportal.recipients.sealing import seal, unseal


class RecipientList(models.Model):
    class State(models.TextChoices):
        UPLOADED = "uploaded", _("Caricato")
        VALIDATED = "validated", _("Controllato")
        LAUNCHED = "launched", _("Inviato")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="recipient_lists"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    template = models.ForeignKey(
        "messaging.MessageTemplate", on_delete=models.CASCADE, related_name="recipient_lists"
    )
    service = models.ForeignKey(
        "ioservices.IOService", on_delete=models.CASCADE, related_name="recipient_lists"
    )
    file_name = models.CharField(_("file"), max_length=255)
    file_format = models.CharField(max_length=8)
    encoding = models.CharField(max_length=16, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    headers = models.JSONField(default=list)
    row_count = models.PositiveIntegerField(default=0)
    file_warnings = models.JSONField(default=list, blank=True)
    # How numbers written as text are read (recipients.numbers.NUMBER_FORMATS), chosen at upload.
    number_format = models.CharField(max_length=2, default="it")
    # Sentences about the last validation that block nothing (check digits, serial dates).
    check_warnings = models.JSONField(default=list, blank=True)
    # Sealed JSON: {"rows": [[cell, ...]], "lines": [n, ...], "problems": {"n": reason}} and,
    # for XLSX, "number_cells" (per row, the positions of Number cells) and "date_system"
    # (1900 or 1904).
    rows_sealed = models.TextField(blank=True, editable=False)
    column_mapping = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.UPLOADED)
    valid_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    total_amount = models.PositiveBigIntegerField(default=0)  # euro cents
    # Sealed JSON lists: the valid rows ready to become deliveries, the rejected ones.
    valid_sealed = models.TextField(blank=True, editable=False)
    rejected_sealed = models.TextField(blank=True, editable=False)
    # One launch per list, however many clicks or tabs: it becomes Dispatch.launch_token.
    launch_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dispatch = models.OneToOneField(
        "messaging.Dispatch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recipient_list",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("elenco di destinatari")
        verbose_name_plural = _("elenchi di destinatari")
        ordering = ["-created_at"]
        indexes = [
            # The purge of expired lists.
            models.Index(fields=["expires_at"], name="recipientlist_expires_idx"),
            # An operator's recent lists on the compose page.
            models.Index(
                fields=["organization", "created_by", "-created_at"],
                name="recipientlist_org_author_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.file_name

    def set_rows(
        self,
        rows: list[list[str]],
        lines: list[int],
        problems: dict[int, str] | None = None,
        *,
        number_cells: list[list[int]] | None = None,
        date_system: int | None = None,
    ) -> None:
        """`problems`: rows the file's structure makes unreadable (line -> reason);
        `number_cells` and `date_system` as in `parsing.ParsedTable`."""
        data: dict[str, Any] = {
            "rows": rows,
            "lines": lines,
            "problems": {str(line): reason for line, reason in (problems or {}).items()},
        }
        if number_cells and any(number_cells):
            data["number_cells"] = number_cells
        if date_system is not None:
            data["date_system"] = date_system
        self.rows_sealed = seal(data)

    def _row_data(self) -> dict[str, Any]:
        # Unsealed once per instance (and sealed value): a list can hold 100,000 rows.
        cached = getattr(self, "_row_data_cache", None)
        if cached is None or cached[0] != self.rows_sealed:
            cached = (self.rows_sealed, unseal(self.rows_sealed) or {})
            self._row_data_cache = cached
        return cached[1]

    def get_rows(self) -> tuple[list[list[str]], list[int]]:
        rows, lines, _problems = self.get_rows_and_problems()
        return rows, lines

    def get_rows_and_problems(self) -> tuple[list[list[str]], list[int], dict[int, str]]:
        data = self._row_data()
        problems = {int(line): reason for line, reason in (data.get("problems") or {}).items()}
        return data.get("rows", []), data.get("lines", []), problems

    def get_cell_sources(self) -> tuple[list[list[int]], int | None]:
        """Per row, the positions of XLSX Number cells; and the workbook's date system."""
        data = self._row_data()
        return data.get("number_cells") or [], data.get("date_system")

    def get_valid(self) -> list[dict[str, Any]]:
        return list(unseal(self.valid_sealed) or [])

    def get_rejected(self) -> list[dict[str, Any]]:
        return list(unseal(self.rejected_sealed) or [])
