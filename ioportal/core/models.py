import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    LOGIN = "auth.login", _("Accesso")
    LOGOUT = "auth.logout", _("Uscita")
    LOGIN_FAILED = "auth.login_failed", _("Accesso non riuscito")
    LOCKOUT = "auth.lockout", _("Blocco per troppi tentativi")
    PASSWORD_CHANGED = "auth.password_changed", _("Password cambiata")
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested", _("Richiesta reimpostazione")
    OTP_ENROLLED = "auth.otp_enrolled", _("App di autenticazione configurata")
    OTP_FAILED = "auth.otp_failed", _("Codice di verifica errato")
    OTP_REPLACED = "auth.otp_replaced", _("App di autenticazione sostituita")
    OTP_RESET = "auth.otp_reset", _("Verifica in due passaggi azzerata")
    OTP_RECOVERY_USED = "auth.otp_recovery_used", _("Codice di recupero usato")
    OTP_RECOVERY_REGENERATED = (
        "auth.otp_recovery_regenerated",
        _("Nuovi codici di recupero generati"),
    )
    SESSION_EXPIRED = "auth.session_expired", _("Sessione scaduta")
    ORG_CREATED = "org.created", _("Ente creato")
    ORG_UPDATED = "org.updated", _("Ente modificato")
    USER_INVITED = "user.invited", _("Utente invitato")
    INVITATION_RESENT = "invitation.resent", _("Invito inviato di nuovo")
    INVITATION_WITHDRAWN = "invitation.withdrawn", _("Invito ritirato")
    INVITATION_ACCEPTED = "invitation.accepted", _("Invito accettato")
    INVITATION_REFUSED = "invitation.refused", _("Invito rifiutato")
    USER_UPDATED = "user.updated", _("Utente modificato")
    USER_DEACTIVATED = "user.deactivated", _("Utente disattivato")
    MEMBERSHIP_ADDED = "membership.added", _("Ruolo assegnato")
    MEMBERSHIP_CHANGED = "membership.changed", _("Ruolo cambiato")
    MEMBERSHIP_REMOVED = "membership.removed", _("Accesso all'ente revocato")
    IOSERVICE_CREATED = "ioservice.created", _("Servizio IO creato")
    IOSERVICE_UPDATED = "ioservice.updated", _("Servizio IO modificato")
    IOSERVICE_ACTIVE_KEY_CHANGED = "ioservice.active_key_changed", _("Chiave in uso cambiata")
    IOSERVICE_KEY_SWITCHED = (
        "ioservice.key_switched",
        _("Chiave rifiutata da IO: passaggio automatico all'altra"),
    )
    IOSERVICE_KEY_PROBLEM = "ioservice.key_problem", _("Chiavi del servizio IO rifiutate")
    IOSERVICE_KEY_RESTORED = "ioservice.key_restored", _("Chiavi del servizio IO di nuovo valide")
    IOSERVICE_CHECK_REQUESTED = "ioservice.check_requested", _("Verifica del servizio IO")
    ENCRYPTION_KEYS_ROTATED = "crypto.rotated", _("Chiavi API cifrate di nuovo")
    RC_CONFIGURATION_CREATED = (
        "remotecontent.configuration_created",
        _("Configurazione contenuti remoti registrata"),
    )
    RC_CONFIGURATION_KEY_REGENERATED = (
        "remotecontent.key_regenerated",
        _("Chiave dei contenuti remoti rigenerata"),
    )
    TEMPLATE_CREATED = "template.created", _("Modello di messaggio creato")
    TEMPLATE_UPDATED = "template.updated", _("Modello di messaggio modificato")
    RECIPIENTS_UPLOADED = "recipients.uploaded", _("Elenco di destinatari caricato")
    RECIPIENTS_REJECTED_EXPORTED = (
        "recipients.rejected_exported",
        _("Righe scartate di un elenco scaricate"),
    )
    DISPATCH_TEST_SENT = "dispatch.test_sent", _("Invio di prova")
    DISPATCH_LAUNCHED = "dispatch.launched", _("Invio avviato")
    DISPATCH_APPROVAL_REQUESTED = (
        "dispatch.approval_requested",
        _("Invio in attesa di approvazione"),
    )
    DISPATCH_APPROVED = "dispatch.approved", _("Invio approvato")
    DISPATCH_REJECTED = "dispatch.rejected", _("Invio respinto")
    APPROVAL_POLICY_CHANGED = "org.approval_policy_changed", _("Regola di approvazione cambiata")
    SEND_WINDOWS_CHANGED = "org.send_windows_changed", _("Finestre di invio cambiate")
    DISPATCH_PAUSED = "dispatch.paused", _("Invio sospeso")
    DISPATCH_AUTO_PAUSED = "dispatch.auto_paused", _("Invio sospeso automaticamente")
    DISPATCH_RESUMED = "dispatch.resumed", _("Invio ripreso")
    DISPATCH_CANCELLED = "dispatch.cancelled", _("Invio annullato")
    DISPATCH_RETRY_FAILED = "dispatch.retry_failed", _("Nuovo tentativo per i non riusciti")
    DELIVERY_MARKED_SENT = "delivery.marked_sent", _("Esito incerto segnato come inviato")
    DELIVERY_RESENT = "delivery.resent", _("Esito incerto: messaggio inviato di nuovo")
    DISPATCH_DELIVERIES_EXPORTED = (
        "dispatch.deliveries_exported",
        _("Esiti dei destinatari di un invio scaricati"),
    )


class AuditEvent(models.Model):
    """Who did what to which object, when and from where. Written only by `audit_log`."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(_("data"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("autore"),
    )
    # Kept as text too, so the trail survives the deletion of the user.
    actor_label = models.CharField(_("autore"), max_length=200, blank=True)
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="audit_events",
    )
    # No `choices`: new action codes must not need a migration; labels come from Action.
    action = models.CharField(_("azione"), max_length=64)
    target_type = models.CharField(_("tipo di oggetto"), max_length=64, blank=True)
    target_id = models.CharField(_("oggetto"), max_length=64, blank=True)
    target_label = models.CharField(_("descrizione"), max_length=200, blank=True)
    changes = models.JSONField(_("modifiche"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("indirizzo IP"), null=True, blank=True)

    class Meta:
        verbose_name = _("evento di audit")
        verbose_name_plural = _("eventi di audit")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The audit page of one organization, newest first, filtered by action.
            models.Index(fields=["organization", "-created_at"], name="audit_org_created_idx"),
            models.Index(fields=["organization", "action"], name="audit_org_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.target_label}"

    @property
    def action_label(self) -> str:
        """The action in words, or its code when it is not a known one."""
        try:
            return str(Action(self.action).label)
        except ValueError:
            return self.action


class WorkerHeartbeat(models.Model):
    """The last time each worker cluster ran a task, shown to admins on the dashboard."""

    cluster = models.CharField(max_length=100, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.cluster} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
