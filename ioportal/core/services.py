"""The audit trail: one function writes every AuditEvent."""

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.http import HttpRequest

from ioportal.core.models import AuditEvent

__all__ = ["audit_log", "changed_fields", "mask_changes"]

SECRET_MARKERS = ("password", "secret", "token", "key", "otp")
MASK = "••••"
# Names that hold a marker but no secret: whether IO refused a service's keys (a boolean).
NOT_SECRET = frozenset({"key_problem"})


def mask_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the values of secret-looking fields so the trail never holds a secret."""
    masked: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in NOT_SECRET and any(marker in field.lower() for marker in SECRET_MARKERS):
            masked[field] = MASK
        elif isinstance(value, Mapping):
            masked[field] = mask_changes(value)
        else:
            masked[field] = value
    return masked


def client_ip(request: HttpRequest | None) -> str | None:
    """The client address as seen by Django (REMOTE_ADDR, set by the proxy configuration)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_log(
    *,
    action: str,
    actor: Any = None,
    organization: Any = None,
    target: models.Model | None = None,
    target_label: str = "",
    changes: Mapping[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Record one audit event. Secret values in `changes` are masked before writing."""
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        action=action,
        actor=user,
        actor_label=str(user) if user else (str(actor) if actor else ""),
        organization=organization,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(getattr(target, "public_id", None) or getattr(target, "pk", "") or ""),
        target_label=(target_label or str(target or ""))[:200],
        changes=mask_changes(changes or {}),
        ip_address=client_ip(request),
    )


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The fields whose value differs, as {field: [old, new]}, ready for `audit_log`."""
    return {
        field: [_plain(before.get(field)), _plain(value)]
        for field, value in after.items()
        if before.get(field) != value
    }


def _plain(value: Any) -> Any:
    """`value` as JSON keeps it: lists and dicts element by element, anything else not a JSON
    scalar (a date, a UUID, a Decimal) as its text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return str(value)
