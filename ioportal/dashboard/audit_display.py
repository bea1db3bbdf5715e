"""An audit event's `changes` in Italian words, for the audit pages.

`changes` is the JSON each app writes through `core.services.audit_log`: {key: value}, where
the value is a plain value, a list, a dict, `[old, new]` (from `changed_fields` or built by
hand) or a masked secret ("••••", or "changed" for a key that was replaced). `change_lines`
turns it into [(label, text)], e.g. [("Ruolo", "da Operatore a Supervisore")]:

- the label is the field's verbose_name on the event's target model (`target_type`), else
  the label in `KEY_LABELS`, else the key humanized ("header_name" → "Header name");
- a value whose field has choices is shown by its choice label;
- booleans are "Sì"/"No", None and "" are "—", lists are joined with ", ";
- a dict {"old": x, "new": y} and, on actions that record a change (`is_change_action`), a
  pair [old, new] are "da x a y";
- a secret ("••••" or "changed") is "cambiata", never a value;
- ISO dates and date-times are shown in the Italian format, in the current time zone;
- any text that holds a fiscal code is masked (`core.fiscalcode.mask_fiscal_codes_in_text`).

Nothing here raises on an unexpected shape: an unknown value is shown as JSON text, not
as a Python repr.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any, cast

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ioportal.accounts.models import Membership
from ioportal.core.fiscalcode import mask_fiscal_codes_in_text
from ioportal.core.models import AuditEvent
from ioportal.core.services import MASK

__all__ = ["KEY_LABELS", "change_lines", "format_value", "is_change_action"]

EMPTY = "—"

# Keys that are not a field of the event's target model.
KEY_LABELS: dict[str, Any] = {
    "always_for_premium": gettext_lazy("approvazione sempre per i messaggi Premium"),
    "enabled": gettext_lazy("attive"),
    "hours": gettext_lazy("orari"),
    "skip_holidays": gettext_lazy("esclusi i giorni festivi"),
    "threshold": gettext_lazy("soglia di destinatari"),
    "allowed_members": gettext_lazy("utenti abilitati"),
    "attachments": gettext_lazy("allegati"),
    "cancelled_deliveries": gettext_lazy("consegne annullate"),
    "cipher_id": gettext_lazy("chiave di cifratura"),
    "codes_left": gettext_lazy("codici di recupero rimasti"),
    "configuration_id": gettext_lazy("identificativo della configurazione"),
    "daily_cap": gettext_lazy("limite giornaliero"),
    "deliveries": gettext_lazy("destinatari"),
    "devices": gettext_lazy("dispositivi"),
    "email": gettext_lazy("email"),
    "header_name": gettext_lazy("nome dell'intestazione"),
    "kind": gettext_lazy("tipo"),
    "number_format": gettext_lazy("formato dei numeri"),
    "primary_key": gettext_lazy("chiave primaria"),
    "reason": gettext_lazy("motivo"),
    "recipients": gettext_lazy("destinatari"),
    "reencrypted": gettext_lazy("chiavi cifrate di nuovo"),
    "results": gettext_lazy("risultati"),
    "role": gettext_lazy("ruolo"),
    "row": gettext_lazy("riga"),
    "rows": gettext_lazy("righe"),
    "scheduled_at": gettext_lazy("programmato per"),
    "secondary_key": gettext_lazy("chiave secondaria"),
    "send_by": gettext_lazy("da completare entro"),
    "service": gettext_lazy("servizio"),
    "source": gettext_lazy("origine"),
    "template": gettext_lazy("modello"),
    "version": gettext_lazy("versione"),
}

# Keys whose values are the choices of a field of another model than the target.
CHOICE_FIELDS: dict[str, models.Field[Any, Any]] = {
    "role": cast("models.Field[Any, Any]", Membership._meta.get_field("role")),
}

# Values that stand for a secret that changed: the trail never holds the secret itself.
SECRET_VALUES = (MASK, "changed")

# "2026-01-31", or a date-time as `str(datetime)` or ISO 8601 writes it.
ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)


def is_change_action(action: str) -> bool:
    """Whether the action records changes as [old, new] pairs ("….updated", "….changed",
    "ioservice.key_problem"/"key_restored"/"key_switched")."""
    return action.endswith(("updated", "changed")) or action in {
        "ioservice.key_problem",
        "ioservice.key_restored",
        "ioservice.key_switched",
    }


@cache
def _model_for(target_type: str) -> type[models.Model] | None:
    """The model whose `model_name` is `target_type` (as `audit_log` writes it), or None."""
    if not target_type:
        return None
    for model in apps.get_models():
        if model._meta.model_name == target_type:
            return model
    return None


def _model_field(target_type: str, key: str) -> models.Field[Any, Any] | None:
    """The field `key` of the target's model, when there is one."""
    model = _model_for(target_type)
    if model is None:
        return None
    try:
        field = model._meta.get_field(key)
    except FieldDoesNotExist:
        return None
    return field if isinstance(field, models.Field) else None


def _field(target_type: str, key: str) -> models.Field[Any, Any] | None:
    return _model_field(target_type, key) or CHOICE_FIELDS.get(key)


def _label(target_type: str, key: str) -> str:
    field = _model_field(target_type, key)
    verbose = field.verbose_name if field is not None else None
    if verbose and str(verbose) != key.replace("_", " "):
        return capfirst(str(verbose))
    if key in KEY_LABELS:
        return capfirst(str(KEY_LABELS[key]))
    return capfirst(key.replace("_", " ").strip()) or key


def _date_text(text: str) -> str | None:
    if not ISO_DATE.match(text):
        return None
    try:
        if len(text) == 10:
            day = parse_date(text)
            return formats.date_format(day, "SHORT_DATE_FORMAT") if day else None
        moment = parse_datetime(text)
    except ValueError:
        return None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def format_value(value: Any, field: models.Field[Any, Any] | None = None) -> str:
    """One value in words (see the module's docstring); never raises."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return _("Sì") if value else _("No")
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    if isinstance(value, int | float):
        return formats.number_format(value, force_grouping=True)
    if isinstance(value, str):
        if value in SECRET_VALUES:
            return _("cambiata")
        if field is not None and field.choices:
            for choice, label in field.flatchoices:
                if str(choice) == value:
                    return str(label)
        return _date_text(value) or mask_fiscal_codes_in_text(value)
    if isinstance(value, list | tuple):
        return ", ".join(format_value(item, field) for item in value)
    if isinstance(value, Mapping):
        if set(value) == {"old", "new"}:
            return _pair(value["old"], value["new"], field)
        return "; ".join(
            f"{capfirst(str(key).replace('_', ' '))}: {format_value(item)}"
            for key, item in value.items()
        )
    return mask_fiscal_codes_in_text(json.dumps(value, default=str, ensure_ascii=False))


def _pair(old: Any, new: Any, field: models.Field[Any, Any] | None) -> str:
    return _("da %(old)s a %(new)s") % {
        "old": format_value(old, field),
        "new": format_value(new, field),
    }


def change_lines(event: AuditEvent) -> list[tuple[str, str]]:
    """The event's changes as [(label, text)] in the order they were recorded."""
    changes = event.changes if isinstance(event.changes, Mapping) else {}
    pairs = is_change_action(event.action)
    lines: list[tuple[str, str]] = []
    for key, value in changes.items():
        field = _field(event.target_type, key)
        if isinstance(value, str) and value in SECRET_VALUES:
            text = _("cambiata")
        elif pairs and isinstance(value, list) and len(value) == 2:
            text = _pair(value[0], value[1], field)
        else:
            text = format_value(value, field)
        lines.append((_label(event.target_type, key), text))
    return lines
