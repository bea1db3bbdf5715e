import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ioportal.core.audit import action_label


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
    # No `choices`: new action codes must not need a migration; labels come from each app's
    # `audit_actions` (core/audit.py).
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
        return action_label(self.action) or self.action


class WorkerHeartbeat(models.Model):
    """The last time each worker cluster ran a task, shown to admins on the dashboard."""

    cluster = models.CharField(max_length=100, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.cluster} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"
