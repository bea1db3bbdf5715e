import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ioportal.core import crypto
from ioportal.core.io_texts import parts_text
from ioportal.ioservices.validators import (
    MAX_PAYMENT_AMOUNT_CENTS,
    validate_configuration_id,
    validate_payment_amount_cents,
    validate_service_id,
)


class IOService(models.Model):
    """An IO service an organization sends as, with its two API keys (encrypted at rest).

    Key values live only in `*_key_encrypted`; they are decrypted by `key_value()`, which only
    the code that builds the IO client calls. Pages show `*_key_last4` and the dates.
    """

    class KeySlot(models.TextChoices):
        PRIMARY = "primary", _("Chiave primaria")
        SECONDARY = "secondary", _("Chiave secondaria")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="ioservices"
    )
    service_id = models.CharField(
        _("identificativo del servizio IO"), max_length=64, validators=[validate_service_id]
    )
    name = models.CharField(_("nome"), max_length=200)
    department_name = models.CharField(_("ufficio"), max_length=200, blank=True)
    is_active = models.BooleanField(_("attivo"), default=True)

    premium_enabled = models.BooleanField(_("Premium abilitato"), default=False)
    payments_enabled = models.BooleanField(_("pagamenti consentiti"), default=False)
    # Euro cents, as IO; 0 when payments are not allowed.
    max_allowed_payment_amount = models.PositiveBigIntegerField(
        _("importo massimo (centesimi)"), default=0, validators=[validate_payment_amount_cents]
    )
    test_mode = models.BooleanField(_("in modalità di test"), default=True)
    # IO granted ApiSubscriptionsFeedRead: the pipeline syncs the feed daily and skips the
    # profile call for citizens whose consent the feed tells (sending.feed).
    feed_access = models.BooleanField(_("accesso al feed delle iscrizioni"), default=False)
    authorized_recipients = models.JSONField(_("destinatari autorizzati"), default=list, blank=True)
    remote_content_configuration_id = models.CharField(
        _("configurazione contenuti remoti"),
        max_length=26,
        blank=True,
        validators=[validate_configuration_id],
    )
    # Blank: settings.IO_API_BASE_URL. Set only by installation superusers, the demo seed or
    # the import command, to point a demo service at the simulator.
    api_base_url = models.URLField(_("indirizzo API di IO"), blank=True)

    all_operators = models.BooleanField(_("tutti gli operatori"), default=True)
    allowed_members = models.ManyToManyField(
        "accounts.Membership",
        blank=True,
        related_name="allowed_ioservices",
        verbose_name=_("operatori abilitati"),
    )

    primary_key_encrypted = models.TextField(blank=True, editable=False)
    primary_key_last4 = models.CharField(max_length=4, blank=True, editable=False)
    primary_key_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    primary_key_last_ok_at = models.DateTimeField(null=True, blank=True, editable=False)
    secondary_key_encrypted = models.TextField(blank=True, editable=False)
    secondary_key_last4 = models.CharField(max_length=4, blank=True, editable=False)
    secondary_key_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    secondary_key_last_ok_at = models.DateTimeField(null=True, blank=True, editable=False)
    active_slot = models.CharField(
        _("chiave in uso"), max_length=16, choices=KeySlot.choices, default=KeySlot.PRIMARY
    )
    # Set when IO refused both keys (or the only one); cleared by a new key or a good check.
    key_problem = models.BooleanField(_("problema con le chiavi"), default=False)
    key_problem_since = models.DateTimeField(null=True, blank=True)
    key_switched_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("servizio IO")
        verbose_name_plural = _("servizi IO")
        ordering = ["name"]
        constraints = [
            # An IO service id is an APIM subscription: one installation-wide owner.
            models.UniqueConstraint(fields=["service_id"], name="ioservice_service_id_unique"),
            models.CheckConstraint(
                name="ioservice_payment_amount_in_io_range",
                condition=models.Q(max_allowed_payment_amount__lte=MAX_PAYMENT_AMOUNT_CENTS),
            ),
            models.CheckConstraint(
                name="ioservice_payments_need_amount",
                condition=models.Q(payments_enabled=False, max_allowed_payment_amount=0)
                | models.Q(payments_enabled=True, max_allowed_payment_amount__gt=0),
            ),
            models.CheckConstraint(
                name="ioservice_active_slot_valid",
                condition=models.Q(active_slot__in=["primary", "secondary"]),
            ),
        ]
        indexes = [
            # The dashboard card: services of an organization with a key problem.
            models.Index(fields=["organization", "key_problem"], name="ioservice_org_problem_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.service_id})"

    @staticmethod
    def other_slot(slot: str) -> str:
        return (
            IOService.KeySlot.SECONDARY
            if slot == IOService.KeySlot.PRIMARY
            else IOService.KeySlot.PRIMARY
        )

    def has_key(self, slot: str) -> bool:
        return bool(getattr(self, f"{slot}_key_encrypted"))

    def key_value(self, slot: str) -> str:
        """The decrypted key of `slot`. Only the IO client builder may call this.

        Raises crypto.DecryptionError when the stored value cannot be read, LookupError when
        the slot has no key.
        """
        stored = getattr(self, f"{slot}_key_encrypted")
        if not stored:
            raise LookupError(f"service {self.pk} has no {slot} key")
        return crypto.decrypt(stored)

    def key_last4(self, slot: str) -> str:
        return str(getattr(self, f"{slot}_key_last4"))

    @property
    def effective_max_payment_amount(self) -> int:
        """Cents the workers may request per message (0: payments not allowed)."""
        return self.max_allowed_payment_amount if self.payments_enabled else 0

    @property
    def max_allowed_payment_amount_eur(self) -> Decimal:
        return Decimal(self.max_allowed_payment_amount) / 100

    @property
    def io_api_base_url(self) -> str:
        return self.api_base_url or settings.IO_API_BASE_URL

    def slots(self) -> list[dict[str, object]]:
        """What the admin page shows about each key: never the key itself."""
        return [
            {
                "slot": slot,
                "label": label,
                "is_set": self.has_key(slot),
                "last4": self.key_last4(slot),
                "changed_at": getattr(self, f"{slot}_key_changed_at"),
                "last_ok_at": getattr(self, f"{slot}_key_last_ok_at"),
                "is_active": self.active_slot == slot,
            }
            for slot, label in self.KeySlot.choices
        ]


# A key slot as an adjective of "chiave" ("la chiave primaria").
SLOT_ADJECTIVES = {"primary": _("primaria"), "secondary": _("secondaria")}


class ServiceCheck(models.Model):
    """One "check the service" run: a harmless call to IO and what it revealed."""

    class Status(models.TextChoices):
        PENDING = "pending", _("In corso")
        OK = "ok", _("Funziona")
        FAILED = "failed", _("Problema")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(IOService, on_delete=models.CASCADE, related_name="checks")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    key_slot = models.CharField(max_length=16, choices=IOService.KeySlot.choices, blank=True)
    key_works = models.BooleanField(null=True)
    other_key_works = models.BooleanField(null=True)
    test_mode_detected = models.BooleanField(null=True)
    rate_limit_remaining = models.IntegerField(null=True, blank=True)
    # What the check found, as sentences to translate when shown (`message_text`): a list of
    # {"text": Italian msgid, "params": {...}} or {"io": ioapi.messages_it template,
    # "params": {...}}; a param named "slot" or "other" is a key slot ("primary").
    message_parts = models.JSONField(default=list, blank=True)
    # Checks made before `message_parts`: the sentences as written then, in one language.
    message = models.TextField(blank=True)

    class Meta:
        verbose_name = _("verifica del servizio")
        verbose_name_plural = _("verifiche dei servizi")
        ordering = ["-requested_at", "-id"]
        indexes = [
            # The latest check of a service, on its detail page.
            models.Index(fields=["service", "-requested_at"], name="servicecheck_latest_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.requested_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def message_text(self) -> str:
        """What the check found, in the reader's language (translated now, not when stored)."""
        if not self.message_parts:
            return self.message
        return parts_text(self.message_parts, adjust=_slot_labels)


def _slot_labels(params: dict[str, Any]) -> dict[str, Any]:
    """A param named "slot" or "other" is a key slot ("primary"), shown as its adjective."""
    for name in ("slot", "other"):
        if name in params:
            params[name] = str(SLOT_ADJECTIVES.get(params[name], params[name]))
    return params


class PremiumCarnet(models.Model):
    """Premium messages an organization bought for one service and one period ("carnet").

    A service may have several carnets, never two whose periods overlap (checked by
    `ioservices.services.carnet`, which locks the service while it checks). Dates are
    inclusive and in Europe/Rome time. How many messages a carnet has used is counted from
    the deliveries by `ioportal.messaging.carnet`.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(IOService, on_delete=models.CASCADE, related_name="premium_carnets")
    starts_on = models.DateField(_("valido dal"))
    ends_on = models.DateField(_("valido fino al"))
    purchased = models.PositiveIntegerField(_("messaggi Premium acquistati"))
    note = models.CharField(_("nota"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the admins were told that 80 % / 100 % of the carnet was used (once each).
    alerted_80_at = models.DateTimeField(null=True, blank=True, editable=False)
    alerted_100_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("carnet Premium")
        verbose_name_plural = _("carnet Premium")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                name="premiumcarnet_period_ordered",
                condition=models.Q(starts_on__lte=models.F("ends_on")),
            ),
        ]
        indexes = [
            # The carnet of a service at a date, and a service's carnet list.
            models.Index(fields=["service", "starts_on", "ends_on"], name="carnet_service_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.starts_on}–{self.ends_on}: {self.purchased}"
