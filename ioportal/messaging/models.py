"""Templates, dispatches and deliveries: what is sent, to whom, and where each message is.

A Delivery's `state` is the single source of truth about whether a citizen gets a message:
the broker only carries "wake up" signals. Transitions are made by service functions in
`ioportal.sending.transitions`, each with a guard on the current state.
"""

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ioportal.core.fields import EncryptedJSONField
from ioportal.core.io_texts import parts_text
from ioportal.messaging.windows import Pacing


class FeatureLevel(models.TextChoices):
    STANDARD = "standard", _("Standard")
    ADVANCED = "advanced", _("Premium")


class MessageTemplate(models.Model):
    """Subject and markdown with typed placeholders, reused by an organization's operators.

    Versions: editing a template that a dispatch already used creates a new row with the same
    `family` and `version + 1`; the dispatch keeps pointing at the version it was sent with.
    """

    class PlaceholderType(models.TextChoices):
        TEXT = "text", _("Testo")
        INTEGER = "integer", _("Numero intero")
        DECIMAL = "decimal", _("Numero decimale")
        DATE = "date", _("Data")
        EURO = "euro", _("Importo in euro")
        NOTICE_NUMBER = "notice_number", _("Codice avviso pagoPA")
        FISCAL_CODE = "fiscal_code", _("Codice fiscale")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="message_templates"
    )
    family = models.UUIDField(default=uuid.uuid4, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    is_current = models.BooleanField(default=True, editable=False)
    name = models.CharField(_("nome"), max_length=200)
    subject = models.CharField(_("oggetto"), max_length=500)
    markdown = models.TextField(_("testo (markdown)"))
    # [{"name": "nome", "type": "text", "required": true, "pattern": ""}, ...]
    placeholders = models.JSONField(_("segnaposto"), default=list, blank=True)
    default_service = models.ForeignKey(
        "ioservices.IOService",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("servizio predefinito"),
    )
    feature_level = models.CharField(
        _("tipo di messaggio"),
        max_length=16,
        choices=FeatureLevel.choices,
        default=FeatureLevel.STANDARD,
    )
    has_due_date = models.BooleanField(_("con scadenza"), default=False)
    has_payment = models.BooleanField(_("con avviso di pagamento"), default=False)
    # The last column mapping used with this template: {"fiscal_code": "CF", "nome": "Nome"}.
    column_mapping = models.JSONField(default=dict, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    is_archived = models.BooleanField(_("archiviato"), default=False)

    class Meta:
        verbose_name = _("modello di messaggio")
        verbose_name_plural = _("modelli di messaggio")
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["family", "version"], name="template_family_version_unique"
            ),
            models.UniqueConstraint(
                fields=["family"],
                condition=Q(is_current=True),
                name="template_one_current_version",
            ),
        ]
        indexes = [
            # The template list of an organization: current versions only.
            models.Index(
                fields=["organization", "is_current", "name"], name="template_org_current_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class Dispatch(models.Model):
    """One send job ("invio"): a service, frozen content, and its deliveries."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Bozza")
        # Deliveries are being created by a worker task; nothing is sent in this state.
        PREPARING = "preparing", _("In preparazione")
        AWAITING_APPROVAL = "awaiting_approval", _("In attesa di approvazione")
        REJECTED = "rejected", _("Respinto")
        SCHEDULED = "scheduled", _("Programmato")
        RUNNING = "running", _("In corso")
        PAUSED = "paused", _("In pausa")
        CANCELLED = "cancelled", _("Annullato")
        COMPLETED = "completed", _("Completato")

    class Kind(models.TextChoices):
        LIST = "list", _("Elenco")
        SINGLE = "single", _("Singolo cittadino")
        TEST = "test", _("Invio di prova")
        API = "api", _("API")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="dispatches"
    )
    service = models.ForeignKey(
        "ioservices.IOService", on_delete=models.PROTECT, related_name="dispatches"
    )
    template = models.ForeignKey(
        MessageTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dispatches",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.LIST)
    title = models.CharField(_("titolo"), max_length=200)
    # Frozen content: placeholders are filled per delivery from Delivery.variables.
    subject = models.CharField(_("oggetto"), max_length=500)
    markdown = models.TextField(_("testo (markdown)"))
    placeholders = models.JSONField(default=list, blank=True)
    feature_level = models.CharField(
        max_length=16, choices=FeatureLevel.choices, default=FeatureLevel.STANDARD
    )
    state = models.CharField(_("stato"), max_length=24, choices=State.choices, default=State.DRAFT)
    scheduled_at = models.DateTimeField(_("invio programmato"), null=True, blank=True)
    # Pacing (ioportal.messaging.windows): every submission by `send_by` (spread evenly over
    # the days with a send window), at most `daily_cap` per day in Europe/Rome time.
    send_by = models.DateTimeField(_("da inviare entro"), null=True, blank=True)
    daily_cap = models.PositiveIntegerField(
        _("massimo di messaggi al giorno"), null=True, blank=True
    )
    source_name = models.CharField(_("file di origine"), max_length=255, blank=True)
    # Idempotency of the launch: one dispatch per confirmation form, however many clicks.
    launch_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    # Preparation (kind "list"): how many deliveries the checked list gives, how many exist,
    # how many chunks of the list were turned into deliveries, and when the last one was.
    # Whether it then waits for a supervisor was decided at launch.
    deliveries_expected = models.PositiveIntegerField(default=0, editable=False)
    deliveries_prepared = models.PositiveIntegerField(default=0, editable=False)
    prepared_chunks = models.PositiveIntegerField(default=0, editable=False)
    prepared_at = models.DateTimeField(null=True, blank=True, editable=False)
    approval_required = models.BooleanField(default=False, editable=False)
    # Set by the pipeline when it pauses a dispatch by itself (key refused, many failures):
    # sentences translated when shown (core.io_texts.Part; `pause_text`).
    pause_parts = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # The first end of sending (completed, cancelled or rejected): set once, never moved by a
    # resend or a retry that reopens the dispatch later.
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the round of a resend or a retry that reopened the finished dispatch ended
    # (completed or cancelled); None while it runs or when nothing reopened it. Earlier
    # rounds' ends are in the audit events of the reopenings (`previous_end`).
    resend_finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the retention purge removed the personal data of its deliveries (fiscal codes,
    # values, rendered content, attachments); counts and outcomes stay.
    personal_data_purged_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A follow-up ("sollecito") names the dispatch whose citizens it reminds
    # (ioportal.messaging.followups).
    origin = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_ups",
        editable=False,
    )
    # A test send ("prova", kind "test"): the recipient list whose row it sent. A list's pages
    # show only its own tests; None for other kinds and for tests recorded before this field
    # (they belong to no list for certain, so no list shows them).
    test_list = models.ForeignKey(
        "recipients.RecipientList",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="test_dispatches",
        editable=False,
        db_index=False,
    )

    class Meta:
        verbose_name = _("invio")
        verbose_name_plural = _("invii")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="dispatch_approval_not_by_author",
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("created_by")),
            ),
        ]
        indexes = [
            # The history page of an organization, newest first.
            models.Index(fields=["organization", "-created_at"], name="dispatch_org_created_idx"),
            # The sweeper: running dispatches and scheduled ones that are due.
            models.Index(fields=["state", "scheduled_at"], name="dispatch_state_sched_idx"),
            # A list's test sends on its preview page, newest first (recent_test_sends).
            models.Index(fields=["test_list", "-created_at"], name="dispatch_test_list_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def pause_text(self) -> str:
        """Why the pipeline paused the dispatch, in the reader's language ("" when it did not)."""
        return parts_text(self.pause_parts)

    @property
    def pacing(self) -> Pacing:
        return Pacing(daily_cap=self.daily_cap, send_by=self.send_by)

    @property
    def last_finished_at(self) -> datetime | None:
        """When sending last ended: the end of a resend's round, else the first end."""
        return self.resend_finished_at or self.finished_at


class Delivery(models.Model):
    """One citizen of one dispatch, and where their message is."""

    class State(models.TextChoices):
        PENDING = "pending", _("Da verificare")
        CHECKING = "checking", _("Verifica in corso")
        READY = "ready", _("Pronto all'invio")
        RETRY_WAIT = "retry_wait", _("In attesa di un nuovo tentativo")
        SUBMITTING = "submitting", _("Invio in corso")
        SUBMITTED = "submitted", _("Accettato da IO")
        PROCESSED = "processed", _("Consegnato")
        REJECTED = "rejected", _("Rifiutato da IO")
        SKIPPED = "skipped", _("Non raggiungibile")
        FAILED = "failed", _("Non riuscito")
        UNCERTAIN = "uncertain", _("Esito incerto")
        CANCELLED = "cancelled", _("Annullato")
        # An uncertain outcome a supervisor closed as received by the citizen.
        MARKED_SENT = "marked_sent", _("Segnato come inviato")

    # States in which IO has (or had) the message: an IO id exists, never submit again.
    WITH_IO_ID = ("submitted", "processed", "rejected")
    FINAL = ("processed", "rejected", "skipped", "failed", "cancelled", "marked_sent")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No index of its own: the two below that start with the dispatch serve its lookups
    # (one per citizen, counters by state), and each index costs every insert.
    dispatch = models.ForeignKey(
        Dispatch, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    row_number = models.PositiveIntegerField(_("riga"), null=True, blank=True)
    # The fiscal code: encrypted at rest, with a keyed hash for search and uniqueness and a
    # masked form for lists (ioportal.core.fiscalcode).
    fiscal_code_encrypted = models.TextField(editable=False)
    fiscal_code_hmac = models.CharField(max_length=64, editable=False)
    fiscal_code_masked = models.CharField(_("codice fiscale"), max_length=16, editable=False)
    # Every placeholder value (names, amounts, other people's fiscal codes): encrypted.
    variables = EncryptedJSONField()
    due_date = models.DateTimeField(null=True, blank=True)
    payment_amount = models.PositiveBigIntegerField(null=True, blank=True)  # euro cents
    notice_number = models.CharField(max_length=18, blank=True)
    invalid_after_due_date = models.BooleanField(default=False)
    payee_fiscal_code = models.CharField(max_length=11, blank=True)

    state = models.CharField(
        _("stato"), max_length=16, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    skip_reason = models.CharField(max_length=32, blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    # What the code does not say (IO's reason, the failing field), as sentences translated
    # when shown (core.io_texts.Part; `last_error_text`).
    last_error_parts = models.JSONField(default=list, blank=True)
    uncertain_since = models.DateTimeField(null=True, blank=True)

    # NULL, not "", so the partial unique constraint below ignores deliveries without an id.
    io_message_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    io_status = models.CharField(max_length=32, blank=True)
    read_status = models.CharField(max_length=32, blank=True)
    payment_status = models.CharField(max_length=32, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # When the portal first learned from IO that the message was read / the notice paid
    # (IO gives no time of its own): set once by the status refresh, never moved.
    read_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    polls = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # SHA-256 of the content the citizen gets (recipients.rendering.content_sha256), set when
    # the delivery is created: finds the same content sent twice to the same citizen.
    content_sha256 = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("consegna")
        verbose_name_plural = _("consegne")
        ordering = ["dispatch", "row_number", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dispatch", "fiscal_code_hmac"], name="delivery_one_per_citizen"
            ),
            models.UniqueConstraint(
                fields=["io_message_id"],
                condition=Q(io_message_id__isnull=False),
                name="delivery_io_message_id_unique",
            ),
            models.CheckConstraint(
                name="delivery_io_id_when_submitted",
                condition=~Q(state__in=("submitted", "processed", "rejected"))
                | Q(io_message_id__isnull=False),
            ),
        ]
        indexes = [
            # Claiming: due work by state and time.
            models.Index(fields=["state", "next_attempt_at"], name="delivery_state_due_idx"),
            # Status refresh: submitted deliveries whose poll is due.
            models.Index(fields=["state", "next_poll_at"], name="delivery_state_poll_idx"),
            # Outcomes of a dispatch (claims by state too): the history and dispatch pages
            # count a dispatch's deliveries from this index alone (sending.selectors).
            models.Index(
                fields=["dispatch", "state", "skip_reason", "read_status", "payment_status"],
                name="delivery_dispatch_outcome_idx",
            ),
            # Search by citizen across dispatches, and the same content to the same citizen
            # (ioportal.messaging.repeated: a citizen has few deliveries, so the content hash
            # is compared on them; a wider index would cost every insert).
            models.Index(fields=["fiscal_code_hmac"], name="delivery_cf_hmac_idx"),
            # The Premium carnet (messaging.carnet.carnet_usage): the messages IO accepted
            # per dispatch within a period, counted from this index alone.
            models.Index(
                fields=["dispatch", "submitted_at"],
                condition=Q(io_message_id__isnull=False),
                name="delivery_submitted_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fiscal_code_masked} ({self.get_state_display()})"

    @property
    def last_error_text(self) -> str:
        """The stored detail of the outcome in the reader's language ("" when none)."""
        return parts_text(self.last_error_parts)


class ApprovalPolicy(models.Model):
    """When an organization's dispatches wait for a supervisor (four-eyes approval).

    No row means no approval is required.
    """

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="approval_policy"
    )
    threshold = models.PositiveIntegerField(
        _("approvazione oltre i destinatari"),
        null=True,
        blank=True,
        help_text=_(
            "Gli invii con più destinatari di questo numero attendono l'approvazione di un "
            "supervisore. Vuoto: nessuna soglia."
        ),
    )
    always_for_premium = models.BooleanField(
        _("approvazione sempre per i messaggi Premium"), default=False
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("regola di approvazione")
        verbose_name_plural = _("regole di approvazione")

    def __str__(self) -> str:
        return f"{self.organization_id}: >{self.threshold} premium={self.always_for_premium}"

    def requires_approval(self, *, recipients: int, feature_level: str) -> bool:
        if self.always_for_premium and feature_level == FeatureLevel.ADVANCED:
            return True
        return self.threshold is not None and recipients > self.threshold


class Notification(models.Model):
    """A note for one user on their dashboard (a dispatch approved or rejected)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    dispatch = models.ForeignKey(
        Dispatch, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # What the note says, as sentences translated when shown (core.io_texts.Part; `text`), so
    # that each reader reads it in their language.
    text_parts = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The dashboard: a user's unread notifications in the current organization.
            models.Index(
                fields=["user", "organization", "read_at"], name="notification_unread_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.text[:50]

    @property
    def text(self) -> str:
        """What the note says, in the reader's language."""
        return parts_text(self.text_parts)
