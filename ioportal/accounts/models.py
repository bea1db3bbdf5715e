import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ioportal.core.validators import validate_organization_fiscal_code

# The code of the error a username differing only in case from another one gets.
USERNAME_TAKEN_ANY_CASE = "username_taken_any_case"


class PortalUserManager(UserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> "User":
        """The account `username` signs in to, whatever its case: a phone keyboard writes
        "Mario" for "mario". The exact spelling first (two accounts differing only in case
        may exist in a database older than the rule), else the one account spelt so in
        another case; none (DoesNotExist) when several are, rather than guessing one."""
        try:
            return self.get(username=username)
        except self.model.DoesNotExist:
            found = list(self.filter(username__iexact=username or "")[:2])
            if len(found) != 1:
                raise
            return found[0]


def sign_in_username(request: Any, credentials: dict[str, Any] | None = None) -> str:
    """The username lockouts count failures against (settings.AXES_USERNAME_CALLABLE): the
    account's own, whatever the case typed, so "Mario" and "mario" share one count; the
    name as typed when it opens no account."""
    source = credentials if credentials is not None else getattr(request, "POST", {})
    typed = str(source.get("username") or "")
    try:
        return User.objects.get_by_natural_key(typed).get_username()
    except User.DoesNotExist:
        return typed


class User(AbstractUser):
    """A person who signs in. What they may do depends on their memberships.

    Usernames are unique regardless of case (`user_username_unique_any_case`) and sign-in
    finds the account whatever the case typed (`PortalUserManager.get_by_natural_key`).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(_("indirizzo e-mail"), blank=True)
    # The organization the portal opens after sign-in: the one last chosen in the header.
    last_organization = models.ForeignKey(
        "Organization",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ultimo ente usato"),
    )

    objects = PortalUserManager()  # type: ignore[misc]

    class Meta(AbstractUser.Meta):
        verbose_name = _("utente")  # type: ignore[assignment]
        verbose_name_plural = _("utenti")  # type: ignore[assignment]
        constraints = [
            # Created by migration 0005 only where no two usernames already differ in case.
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_unique_any_case",
                violation_error_code=USERNAME_TAKEN_ANY_CASE,
                violation_error_message=_(
                    "Esiste già un utente con questo nome utente, scritto con maiuscole e "
                    "minuscole diverse."
                ),
            ),
        ]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username

    def validate_constraints(self, exclude: Any = None) -> None:
        """As Django's, with a username taken in another case the username's error (Django
        gives an expression's constraint to the whole form)."""
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict({})
            general = errors.pop(NON_FIELD_ERRORS, [])
            for error in general:
                key = "username" if error.code == USERNAME_TAKEN_ANY_CASE else NON_FIELD_ERRORS
                errors.setdefault(key, []).append(error)
            raise ValidationError(errors) from exc


# Days a dispatch's personal data are kept after it finished (Organization.retention_days):
# one year by default, long enough for reminders, hand-off and disputes about a payment
# notice; at least a month, so the hand-off after a send is always possible.
DEFAULT_RETENTION_DAYS = 365
MIN_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3650


class Organization(models.Model):
    """A public administration (ente) and its IO account."""

    class RateTier(models.IntegerChoices):
        STANDARD = 150, _("150 chiamate ogni 5 secondi")
        HIGH = 250, _("250 chiamate ogni 5 secondi")
        CUSTOM = 0, _("Valore personalizzato")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("nome"), max_length=200)
    fiscal_code = models.CharField(
        _("codice fiscale"),
        max_length=11,
        unique=True,
        validators=[validate_organization_fiscal_code],
        help_text=_("Codice fiscale dell'ente: 11 cifre."),
    )
    rate_tier = models.IntegerField(
        _("limite dell'account IO"), choices=RateTier.choices, default=RateTier.STANDARD
    )
    custom_rate_limit = models.PositiveIntegerField(
        _("limite personalizzato (chiamate ogni 5 secondi)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(10000)],
    )
    require_2fa_for_all = models.BooleanField(
        _("verifica in due passaggi per tutti"),
        default=False,
        help_text=_(
            "Se attivo, anche gli operatori devono usare un'app di autenticazione. "
            "Amministratori e supervisori la usano sempre."
        ),
    )
    retention_days = models.PositiveIntegerField(
        _("conservazione dei dati personali (giorni)"),
        default=DEFAULT_RETENTION_DAYS,
        validators=[MinValueValidator(MIN_RETENTION_DAYS), MaxValueValidator(MAX_RETENTION_DAYS)],
        help_text=_(
            "Dopo questi giorni dalla fine di un invio, i dati personali dei destinatari "
            "(codici fiscali, valori, testi, allegati) vengono cancellati; restano conteggi, "
            "esiti, statistiche e registro attività."
        ),
    )
    is_active = models.BooleanField(_("attivo"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("ente")
        verbose_name_plural = _("enti")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="organization_custom_rate_set_when_custom",
                condition=~models.Q(rate_tier=0) | models.Q(custom_rate_limit__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def rate_limit(self) -> int:
        """Calls per 5 seconds that IO allows this organization's account."""
        if self.rate_tier == self.RateTier.CUSTOM and self.custom_rate_limit:
            return self.custom_rate_limit
        return int(self.rate_tier)


class Membership(models.Model):
    """A user's role in one organization."""

    class Role(models.TextChoices):
        OPERATOR = "operator", _("Operatore")
        SUPERVISOR = "supervisor", _("Supervisore")
        ADMIN = "admin", _("Amministratore")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("ruolo"), max_length=16, choices=Role.choices)
    is_active = models.BooleanField(_("attivo"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("appartenenza")
        verbose_name_plural = _("appartenenze")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="membership_one_per_user_and_org"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.get_role_display()})"

    RANK = {Role.OPERATOR: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}

    def has_role(self, role: str) -> bool:
        """True when this membership's role is `role` or a higher one."""
        return self.RANK[self.Role(self.role)] >= self.RANK[self.Role(role)]

    @property
    def requires_2fa(self) -> bool:
        return self.role != self.Role.OPERATOR or self.organization.require_2fa_for_all


class Invitation(models.Model):
    """An offer of a role in an organization, made to one account, until it is answered.

    It grants nothing while pending: the Membership exists only once the person accepts.
    The link in the e-mail carries a random token; only its SHA-256 digest is stored, it is
    replaced at each sending and cleared once the invitation is answered or withdrawn.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("In attesa")
        ACCEPTED = "accepted", _("Accettato")
        REFUSED = "refused", _("Rifiutato")
        WITHDRAWN = "withdrawn", _("Ritirato")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    # The address as the inviter typed it: shown to the organization instead of the account.
    email = models.EmailField(_("indirizzo e-mail"))
    role = models.CharField(_("ruolo"), max_length=16, choices=Membership.Role.choices)
    status = models.CharField(
        _("stato"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    token_digest = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(_("scadenza"))
    # Null until an e-mail has left (or after a failed attempt): the list says so.
    sent_at = models.DateTimeField(_("inviato il"), null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("invito")
        verbose_name_plural = _("inviti")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_user_and_org",
            ),
        ]
        indexes = [
            # The link in the e-mail: the invitation whose token has this digest.
            models.Index(fields=["token_digest"], name="invitation_token_idx"),
            # The pending invitations of the signed-in person (banner and their page).
            models.Index(fields=["user", "status"], name="invitation_user_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email} @ {self.organization} ({self.get_status_display()})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @staticmethod
    def digest(token: str) -> str:
        """The SHA-256 hex digest stored in place of a link's token (64 characters)."""
        return hashlib.sha256(token.encode()).hexdigest()


class UserSession(models.Model):
    """The sessions a user holds, so they can be ended when the user is deactivated."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracked_sessions"
    )
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user_id}:{self.session_key[:6]}…"


class PasswordResetRequest(models.Model):
    """One accepted password-reset request, counted to limit them per address and per client
    (accounts/services.py, `password_reset_request`). The address is kept as a keyed hash.
    Rows older than the limits' window are deleted as new ones arrive."""

    email_digest = models.CharField(max_length=64)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The requests for one address in the window.
            models.Index(fields=["email_digest", "created_at"], name="pwreset_email_created_idx"),
            # The requests from one client address in the window.
            models.Index(fields=["ip_address", "created_at"], name="pwreset_ip_created_idx"),
            # The deletion of rows past the window.
            models.Index(fields=["created_at"], name="pwreset_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email_digest[:8]}… {self.ip_address} {self.created_at:%Y-%m-%d %H:%M}"
