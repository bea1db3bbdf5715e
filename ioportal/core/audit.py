"""The audit actions of every app, each declared by the app that records them.

An app lists its actions as a `TextChoices` named `Action` in its own `audit.py` and names it
on its AppConfig (`audit_actions = Action`); the audit trail reads them from Django's app
registry, so `core` imports no other app. Codes are "<area>.<what>", at most 64 characters
(`AuditEvent.action`), and unique across the installation: a repeated code raises
`ImproperlyConfigured`.

An app whose events hold codes as values (a reason, a criterion) may also name, as
`audit_change_values` on its AppConfig, the dotted path of a function returning
{action: {key: {code: words}}}; the audit pages show the words (`change_value_words`).
"""

from collections.abc import Mapping
from functools import cache
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.module_loading import import_string


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


@cache
def _change_values() -> dict[str, dict[str, Mapping[str, Any]]]:
    values: dict[str, dict[str, Mapping[str, Any]]] = {}
    for config in apps.get_app_configs():
        path: str | None = getattr(config, "audit_change_values", None)
        if path:
            for action, keys in import_string(path)().items():
                values.setdefault(action, {}).update(keys)
    return values


def change_value_words(action: str, key: str) -> Mapping[str, Any]:
    """{code: words} for the values of `key` in the changes of `action` (empty when its app
    declares none); the words may be lazy translations."""
    return _change_values().get(action, {}).get(key, {})
