"""Recipient lists between upload and launch.

A list keeps what the next steps need (rows, mapping, validation result), sealed with the
portal's encryption keys (`sealing.py`) in chunks of CHUNK_ROWS rows, so a page that shows
one row or a worker that creates deliveries decrypts one chunk, never the whole list; counts
are stored on the list. The uploaded file itself is not part of a list. A list is emptied
once its dispatch's deliveries exist and deleted once it expires (RECIPIENTS_LIST_TTL_HOURS).

A file that needs the operator's choice before it can be read (sheet, hidden rows, separator)
is kept, sealed the same way, as a `PendingUpload` until the choice is made (PENDING_UPLOAD_TTL
at most), so choosing does not mean selecting the file again.
"""

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from typing import Any, overload

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ioportal.core.io_texts import reason_text
from ioportal.recipients.parsing import header_label
from ioportal.recipients.sealing import seal, unseal

# Rows sealed together: one preview page or one worker step decrypts one chunk.
CHUNK_ROWS = 1000


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
    # What reading the file found (`parsing.ParsedTable.warnings`), stored untranslated
    # (core.io_texts.Part; texts for lists uploaded before; shown by `file_warnings_text`).
    file_warnings = models.JSONField(default=list, blank=True)
    # How numbers written as text are read (recipients.numbers.NUMBER_FORMATS), chosen at upload.
    number_format = models.CharField(max_length=2, default="it")
    # An XLSX workbook's date system (1900 or 1904) for its serial dates; None for CSV.
    date_system = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    # Sentences about the last validation that block nothing (check digits, serial dates),
    # stored untranslated (core.io_texts.Part; texts for lists checked before; shown by
    # `check_warnings_text`).
    check_warnings = models.JSONField(default=list, blank=True)
    # What those sentences are made of (validation.ValidationOutcome.warning_facts), to say
    # them again when rows are left out after the check; {} for lists checked before it.
    check_warning_facts = models.JSONField(default=dict, blank=True, editable=False)
    column_mapping = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.UPLOADED)
    valid_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    total_amount = models.PositiveBigIntegerField(default=0)  # euro cents
    # Valid rows a service in test mode will skip (not among its authorised recipients),
    # counted at the check so the list pages never decrypt every row; None before a check.
    test_mode_skips = models.PositiveIntegerField(null=True, blank=True)
    # Which authorised recipients that count was made against (`testmode.authorized_key`):
    # when the service's list changes before the launch, the pages count again.
    test_mode_skips_key = models.CharField(max_length=64, blank=True, editable=False)
    # One launch per list, however many clicks or tabs: it becomes Dispatch.launch_token.
    launch_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dispatch = models.OneToOneField(
        "messaging.Dispatch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recipient_list",
    )
    # A list built from a dispatch's deliveries for a follow-up: the dispatch it reminds,
    # handed to the follow-up dispatch at launch.
    origin = models.ForeignKey(
        "messaging.Dispatch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    # Valid rows left out because their citizens already received the same content
    # (messaging.repeated); 0 after every check, which restores them.
    repeated_excluded = models.PositiveIntegerField(default=0, editable=False)
    # What the content hashes of the valid rows were computed with at the check (texts,
    # placeholder names, feature level: messaging.repeated.content_fingerprint): the worker
    # copies each row's hash when the dispatch's frozen texts give the same; "" before a check.
    content_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    # When the rows were last checked (a new mapping or number format gives new messages):
    # the test sends made before it tried other content, and the list's pages leave them out.
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)
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

    @property
    def header_labels(self) -> list[str]:
        """The file's column names as pages show them (`parsing.header_label`)."""
        return [header_label(header) for header in self.headers]

    @property
    def file_warnings_text(self) -> list[str]:
        """What reading the file found, in the reader's language."""
        return [reason_text(warning) for warning in self.file_warnings]

    @property
    def check_warnings_text(self) -> list[str]:
        """The check's warnings in the reader's language."""
        return [reason_text(warning) for warning in self.check_warnings]

    def set_rows(
        self,
        rows: list[list[str]],
        lines: list[int],
        problems: dict[int, Any] | None = None,
        *,
        number_cells: list[list[int]] | None = None,
        date_system: int | None = None,
        shown_cells: list[dict[int, str]] | None = None,
        cell_problems: dict[int, dict[int, Any]] | None = None,
    ) -> None:
        """Store the file's rows (the list must be saved), each with its line number.

        `problems`: rows the file's structure makes unreadable (line -> reason, a
        core.io_texts.Part; a text in lists stored before);
        `cell_problems`: cells that cannot be read (line -> 0-based column -> reason, a Part;
        `parsing.ParsedTable.cell_problems`), stored in the problem's place as
        {"cells": {column: reason}};
        `number_cells` (per row, the positions of XLSX Number cells; empty for CSV) and
        `date_system` as in `parsing.ParsedTable`. Each row is sealed with its line, its
        problem ("" when none) and its Number cells, so one chunk is all a page needs; the
        date system, one per workbook, is saved on the list. `shown_cells` (the first rows'
        cells as Excel shows them, `ParsedTable.shown_cells`) follow their row, for the preview
        (`row_cells`).
        """
        problems = problems or {}
        cells = cell_problems or {}
        number_cells = number_cells or []
        shown_cells = shown_cells or []
        self.store(
            RecipientChunk.Kind.ROWS,
            (
                [
                    line,
                    row,
                    problems.get(line)
                    or (
                        {"cells": {str(column): reason for column, reason in cells[line].items()}}
                        if cells.get(line)
                        else ""
                    ),
                    number_cells[index] if index < len(number_cells) else [],
                    *([shown_cells[index]] if index < len(shown_cells) else []),
                ]
                for index, (line, row) in enumerate(zip(lines, rows, strict=True))
            ),
        )
        if self.date_system != date_system:
            self.date_system = date_system
            self.save(update_fields=["date_system"])

    def read_rows(self) -> "StoredRows":
        """Every row of the file with its line, structure problem and Number cells (decrypts
        the whole list once per instance: the validation needs all of it)."""
        cached: StoredRows | None = getattr(self, "_rows_cache", None)
        if cached is None:
            cached = StoredRows()
            for item in self.iter_items(RecipientChunk.Kind.ROWS):
                cached.add(item)
            self._rows_cache = cached
        return cached

    def get_rows(self) -> tuple[list[list[str]], list[int]]:
        """Every row of the file and its line number (decrypts the whole list)."""
        stored = self.read_rows()
        return stored.rows, stored.lines

    def get_rows_and_problems(self) -> tuple[list[list[str]], list[int], dict[int, Any]]:
        """The rows, their lines and the structure problems (line -> reason)."""
        stored = self.read_rows()
        return stored.rows, stored.lines, stored.problems

    def get_cell_sources(self) -> tuple[list[list[int]], int | None]:
        """Per row, the positions of XLSX Number cells (empty when there is none); and the
        workbook's date system."""
        stored = self.read_rows()
        return (stored.number_cells if any(stored.number_cells) else []), self.date_system

    def get_valid(self) -> list[dict[str, Any]]:
        return list(self.iter_items(RecipientChunk.Kind.VALID))

    def get_rejected(self) -> list[dict[str, Any]]:
        return list(self.iter_items(RecipientChunk.Kind.REJECTED))

    def store(self, kind: str, items: Iterable[Any]) -> int:
        """Replace the list's items of `kind` with `items` (JSON-serialisable), sealed in
        chunks of CHUNK_ROWS. Returns the number of chunks written."""
        if kind == RecipientChunk.Kind.ROWS:
            self.__dict__.pop("_rows_cache", None)
        RecipientChunk.objects.filter(recipient_list=self, kind=kind).delete()
        iterator = iter(items)
        index = 0
        while batch := list(islice(iterator, CHUNK_ROWS)):
            RecipientChunk.objects.create(
                recipient_list=self, kind=kind, index=index, size=len(batch), sealed=seal(batch)
            )
            index += 1
        return index

    def chunk(self, kind: str, index: int) -> list[Any]:
        """The items of one chunk (empty when there is no such chunk)."""
        stored = (
            RecipientChunk.objects.filter(recipient_list=self, kind=kind, index=index)
            .values_list("sealed", flat=True)
            .first()
        )
        return list(unseal(stored) or []) if stored else []

    def iter_items(self, kind: str) -> Iterator[Any]:
        """Every item of `kind` in order, decrypting one chunk at a time."""
        indexes = RecipientChunk.objects.filter(recipient_list=self, kind=kind).order_by("index")
        for index in indexes.values_list("index", flat=True):
            yield from self.chunk(kind, index)

    def items(self, kind: str, start: int, stop: int) -> list[Any]:
        """Items `start` to `stop` (0-based, stop excluded), decrypting only their chunks."""
        found: list[Any] = []
        if stop <= start:
            return found
        for index in range(max(start, 0) // CHUNK_ROWS, (max(stop, 1) - 1) // CHUNK_ROWS + 1):
            items = self.chunk(kind, index)
            base = index * CHUNK_ROWS
            found += items[max(start - base, 0) : max(stop - base, 0)]
        return found

    def erase(self, *kinds: str) -> None:
        """Delete the stored items of `kinds` (all of them when none is given)."""
        if not kinds or RecipientChunk.Kind.ROWS in kinds:
            self.__dict__.pop("_rows_cache", None)
        if not kinds or RecipientChunk.Kind.VALID in kinds:
            RecipientContentKey.objects.filter(recipient_list=self).delete()
        chunks = RecipientChunk.objects.filter(recipient_list=self)
        (chunks.filter(kind__in=kinds) if kinds else chunks).delete()


@dataclass
class StoredRows:
    """A list's file rows as the validation reads them: parallel lists, and the structure
    problems by line."""

    rows: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: dict[int, Any] = field(default_factory=dict)
    # Unreadable cells: line -> 0-based column -> reason (a core.io_texts.Part).
    cell_problems: dict[int, dict[int, Any]] = field(default_factory=dict)
    number_cells: list[list[int]] = field(default_factory=list)
    # The first rows' cells as Excel shows them (position -> text), for the preview.
    shown_cells: list[dict[int, str]] = field(default_factory=list)

    def add(self, item: Sequence[Any]) -> None:
        """One stored row: [line, cells, problem, Number cell positions, and for the first
        rows the cells as Excel shows them] (`set_rows`)."""
        line, row, *extra = item
        self.lines.append(line)
        self.rows.append(row)
        problem = extra[0] if extra else ""
        if isinstance(problem, dict) and "cells" in problem:
            self.cell_problems[line] = {int(k): v for k, v in problem["cells"].items()}
        elif problem:
            self.problems[line] = problem  # a Part, or a text in lists stored before
        self.number_cells.append(list(extra[1]) if len(extra) > 1 else [])
        if len(extra) > 2:
            self.shown_cells.append({int(k): v for k, v in extra[2].items()})


def row_cells(item: Sequence[Any]) -> list[str]:
    """The cells of one stored file row (`RecipientList.set_rows`) as the person sees them
    in the spreadsheet: dates and Number cells of the first rows as Excel shows them."""
    cells = list(item[1])
    for position, text in (item[4] if len(item) > 4 else {}).items():
        if int(position) < len(cells):
            cells[int(position)] = text
    return cells


class StoredItems(Sequence[Any]):
    """A list's items of one kind as a read-only sequence for a Paginator: its length is the
    stored count and a slice decrypts only the chunks it needs."""

    def __init__(self, recipient_list: RecipientList, kind: str, count: int) -> None:
        self.recipient_list, self.kind, self.length = recipient_list, kind, count

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, key: int) -> Any: ...

    @overload
    def __getitem__(self, key: slice) -> list[Any]: ...

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            start, stop, _step = key.indices(self.length)
            return self.recipient_list.items(self.kind, start, stop)
        if not -self.length <= key < self.length:
            raise IndexError(key)
        position = key % self.length
        return self.recipient_list.items(self.kind, position, position + 1)[0]


class RecipientChunk(models.Model):
    """Up to CHUNK_ROWS items of a list, sealed together: the file's rows (`[line, cells,
    structure problem, Number cell positions]`, `RecipientList.set_rows`), the valid rows
    (what deliveries are made of) or the rejected ones (line, cells, reasons, problems)."""

    class Kind(models.TextChoices):
        ROWS = "rows", _("Righe del file")
        VALID = "valid", _("Righe valide")
        REJECTED = "rejected", _("Righe scartate")

    recipient_list = models.ForeignKey(
        RecipientList, on_delete=models.CASCADE, related_name="chunks"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    index = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    sealed = models.TextField(editable=False)

    class Meta:
        constraints = [
            # Also the index of every read: one chunk of a list by kind and position.
            models.UniqueConstraint(
                fields=["recipient_list", "kind", "index"], name="recipientchunk_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_list_id}/{self.kind}/{self.index}"


class RecipientContentKey(models.Model):
    """One valid row of a checked list as the search for repeated content needs it: the
    citizen's fiscal-code hash and the hash of the content they would get, the same two
    values a delivery keeps (`Delivery.fiscal_code_hmac`, `Delivery.content_sha256`), so the
    confirmation page compares a whole list with earlier deliveries in SQL, without
    decrypting it (messaging.repeated). Written by the check, gone with the valid rows."""

    recipient_list = models.ForeignKey(
        RecipientList, on_delete=models.CASCADE, related_name="content_keys"
    )
    line = models.PositiveIntegerField()
    fiscal_code_hmac = models.CharField(max_length=64)
    content_sha256 = models.CharField(max_length=64)

    class Meta:
        indexes = [
            models.Index(
                fields=["recipient_list", "fiscal_code_hmac"], name="recipientkey_list_cf_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_list_id}/{self.line}"


# How long an uploaded file waits for the operator's choice (sheet, hidden rows, separator).
PENDING_UPLOAD_TTL = timedelta(hours=1)


class PendingUpload(models.Model):
    """A recipients file waiting for a choice about its structure (or an attachment selected
    with it: the shared PDF, the ZIP), so that the choice re-reads it without a new upload.
    Private: sealed in the database (never on disk or under
    MEDIA_ROOT), within RECIPIENTS_MAX_UPLOAD_MB, reachable only by its author in its
    organization, deleted once read into a list, replaced or refused, and after
    PENDING_UPLOAD_TTL (`recipients.services.pending_upload_*`)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    file_name = models.CharField(_("file"), max_length=255)
    size = models.PositiveIntegerField()  # bytes of the file as uploaded
    sealed = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("file in attesa di una scelta")
        verbose_name_plural = _("file in attesa di una scelta")
        indexes = [models.Index(fields=["expires_at"], name="pendingupload_expires_idx")]

    def __str__(self) -> str:
        return self.file_name


def attachment_upload_to(_instance: models.Model, _filename: str) -> str:
    """Where a PDF is stored in the default storage, for the files uploaded with a list and
    for Premium attachments alike: `attachments/<random>.pdf`. Never derived from the uploaded
    name: no traversal, no guessing (ASVS 5.3.1/5.3.2). MEDIA_ROOT is never served directly."""
    return f"attachments/{uuid.uuid4().hex}.pdf"


class ListAttachment(models.Model):
    """A file uploaded with a recipient list, before launch: the shared PDF or one ZIP entry.

    A refused entry keeps its name and `problems` (its reasons, no file) so that the rows
    naming it are rejected with the reason. At launch the files become Premium attachments of
    the dispatch (the stored file is handed over, not copied) and these rows are deleted.
    """

    recipient_list = models.ForeignKey(
        RecipientList, on_delete=models.CASCADE, related_name="list_attachments"
    )
    shared = models.BooleanField(default=False)
    original_name = models.CharField(max_length=255)
    # `filenames.attachment_key` of the name: what the list's file-name column is matched with
    match_name = models.CharField(max_length=255)
    file = models.FileField(upload_to=attachment_upload_to, max_length=255, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    pdfa_declared = models.CharField(max_length=16, blank=True)
    # What the file's check found (`pdf.validate_pdf`): warnings that block nothing and the
    # reasons it is refused, stored untranslated (core.io_texts.Part; texts for files stored
    # before), the reasons shown by `problem_texts`.
    warnings = models.JSONField(default=list, blank=True)
    problems = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient_list", "shared", "match_name"],
                name="listattachment_list_name_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def problem_texts(self) -> list[str]:
        """Why the file is refused, in the reader's language."""
        return [reason_text(problem) for problem in self.problems]
