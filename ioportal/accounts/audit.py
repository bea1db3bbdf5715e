"""The audit actions of `accounts`: sign-in, second factor, organizations, invitations, members.

Named on the app's AppConfig (`audit_actions`), read by `ioportal.core.audit`.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    LOGIN = "auth.login", _("Accesso")
    # The password of an account that must then give its second factor: not yet a sign-in.
    LOGIN_PASSWORD = "auth.login_password", _("Password corretta, in attesa del codice")
    LOGOUT = "auth.logout", _("Uscita")
    LOGIN_FAILED = "auth.login_failed", _("Accesso non riuscito")
    LOCKOUT = "auth.lockout", _("Blocco per troppi tentativi")
    PASSWORD_CHANGED = "auth.password_changed", _("Password cambiata")
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested", _("Richiesta reimpostazione")
    PASSWORD_RESET = "auth.password_reset", _("Password reimpostata")
    LOCKOUT_CLEARED = "auth.lockout_cleared", _("Blocco tolto con la reimpostazione della password")
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
