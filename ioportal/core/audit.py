"""The audit actions of every app, each declared by the app that records them.

An app lists its actions as a `TextChoices` named `Action` in its own `audit.py` and names it
on its AppConfig (`audit_actions = Action`); the audit trail reads them from Django's app
registry, so `core` imports no other app. Codes are "<area>.<what>", at most 64 characters
(`AuditEvent.action`), and unique across the installation: a repeated code raises
`ImproperlyConfigured`.
"""

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def action_choices() -> list[tuple[str, str]]:
    """Every app's actions as (code, label) pairs, in the order of INSTALLED_APPS."""
    choices: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for config in apps.get_app_configs():
        actions: type[models.TextChoices] | None = getattr(config, "audit_actions", None)
        if actions is None:
            continue
        for code, label in actions.choices:
            if code in seen:
                raise ImproperlyConfigured(
                    f"Audit action {code!r} declared by both {seen[code]} and {config.name}."
                )
            seen[code] = config.name
            choices.append((code, label))
    return choices


def action_label(code: str) -> str | None:
    """The words for an action code, or None when no app declares it."""
    for value, label in action_choices():
        if value == code:
            return str(label)
    return None
