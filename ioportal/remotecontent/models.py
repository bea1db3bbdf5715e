"""Premium attachments and the remote-content server IO calls to fetch them.

IO does not take uploads: when a citizen opens a Premium message whose `third_party_data`
says `has_attachments`, IO calls the portal (docs/remotecontent.md). Files live in the
default storage (`recipients.models.attachment_upload_to`); MEDIA_ROOT is never served.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ioportal.ioservices.validators import validate_configuration_id

# The storage rule of every PDF; named here too because this app's migrations refer to it.
from ioportal.recipients.models import attachment_upload_to


class RemoteContentConfiguration(models.Model):
    """One remote-content configuration registered with IO, and the key IO sends us.

    The key is generated here, shown once and stored only as its SHA-256: IO keeps it in
    clear in its configuration, the portal only needs to recognise it.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="remote_content_configurations",
    )
    configuration_id = models.CharField(
        _("identificativo della configurazione IO"),
        max_length=26,
        validators=[validate_configuration_id],
    )
    name = models.CharField(_("nome"), max_length=200)
    header_name = models.CharField(_("nome dell'intestazione di autenticazione"), max_length=64)
    key_sha256 = models.CharField(max_length=64, editable=False)
    key_last4 = models.CharField(max_length=4, editable=False)
    key_changed_at = models.DateTimeField(editable=False)
    is_active = models.BooleanField(_("attiva"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("configurazione contenuti remoti")
        verbose_name_plural = _("configurazioni contenuti remoti")
        ordering = ["name"]
        constraints = [
            # IO's configuration ids are global; the endpoint URL carries it.
            models.UniqueConstraint(
                fields=["configuration_id"], name="rcconfig_configuration_id_unique"
            ),
        ]
        indexes = [
            # The configuration list of an organization.
            models.Index(fields=["organization", "name"], name="rcconfig_org_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.configuration_id})"


class Attachment(models.Model):
    """A validated PDF served to IO: shared by a dispatch's deliveries, or for one delivery."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    dispatch = models.ForeignKey(
        "messaging.Dispatch",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attachments",
    )
    delivery = models.ForeignKey(
        "messaging.Delivery",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attachments",
    )
    original_name = models.CharField(_("nome del file"), max_length=255)
    file = models.FileField(upload_to=attachment_upload_to, max_length=255)
    size = models.PositiveBigIntegerField(_("dimensione (byte)"))
    sha256 = models.CharField(max_length=64)
    content_type = models.CharField(max_length=100, default="application/pdf")
    page_count = models.PositiveIntegerField(null=True, blank=True)
    pdfa_declared = models.CharField(_("PDF/A dichiarato"), max_length=16, blank=True)
    # What `recipients.pdf.validate_pdf` found that blocks nothing (no PDF/A declaration),
    # stored untranslated (core.io_texts.Part; texts for files stored before).
    warnings = models.JSONField(default=list, blank=True)
    # False while a check is pending (e.g. an antivirus scan): IO then gets 503 + Retry-After.
    validated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("allegato")
        verbose_name_plural = _("allegati")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                name="attachment_dispatch_xor_delivery",
                condition=Q(dispatch__isnull=False, delivery__isnull=True)
                | Q(dispatch__isnull=True, delivery__isnull=False),
            ),
        ]
        indexes = [
            # Retention clean-up: the oldest attachments first.
            models.Index(fields=["created_at"], name="attachment_created_idx"),
        ]

    def __str__(self) -> str:
        return self.original_name


class RemoteContentAccess(models.Model):
    """One call IO made to the remote-content endpoints, and its outcome. No fiscal code."""

    class Operation(models.TextChoices):
        DETAILS = "details", _("Apertura del messaggio")
        ATTACHMENT = "attachment", _("Scaricamento di un allegato")
        PRECONDITION = "precondition", _("Precondizione")

    class Outcome(models.TextChoices):
        OK = "ok", _("Riuscito")
        UNAUTHORIZED = "unauthorized", _("Chiave mancante o errata")
        BAD_REQUEST = "bad_request", _("Richiesta non valida")
        NOT_FOUND = "not_found", _("Messaggio non trovato")
        WRONG_RECIPIENT = "wrong_recipient", _("Codice fiscale diverso dal destinatario")
        NOT_READY = "not_ready", _("Allegato non ancora pronto")
        ERROR = "error", _("Errore")

    configuration = models.ForeignKey(
        RemoteContentConfiguration,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accesses",
    )
    delivery = models.ForeignKey(
        "messaging.Delivery",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="remote_content_accesses",
    )
    attachment = models.ForeignKey(
        Attachment, on_delete=models.SET_NULL, null=True, blank=True, related_name="accesses"
    )
    operation = models.CharField(max_length=16, choices=Operation.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField()
    # The id IO asked for, as sent (truncated): lets an unknown id be investigated.
    message_ref = models.CharField(max_length=64, blank=True)
    # Lollipop headers as received, with the user id masked and long values hashed.
    lollipop = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("accesso ai contenuti remoti")
        verbose_name_plural = _("accessi ai contenuti remoti")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The "opened / downloaded" summary of a delivery.
            models.Index(fields=["delivery", "operation", "outcome"], name="rcaccess_delivery_idx"),
            # Monitoring of refused calls per configuration, newest first.
            models.Index(
                fields=["configuration", "-created_at"], name="rcaccess_config_created_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.operation} {self.outcome}"
