"""An audit event's `changes` in Italian words, for the audit pages.

`changes` is the JSON each app writes through `core.services.audit_log`: {key: value}, where
the value is a plain value, a list, a dict, `[old, new]` (from `changed_fields` or built by
hand) or a masked secret ("••••", or "changed" for a key that was replaced). `change_lines`
turns it into [(label, text)], e.g. [("Ruolo", "da Operatore a Supervisore")]:

- the label is the one for the (action, key) in `ACTION_KEY_LABELS`, else the field's
  verbose_name on the event's target model (`target_type`), else the label in `KEY_LABELS`
  (every key the code writes has one: tests/dashboard/test_audit_keys.py), else the key
  humanized ("header_name" → "Header name");
- a value whose field has choices is shown by its choice label; a code is shown by its words
  (`VALUE_WORDS`, and those the action's app declares: `core.audit.change_value_words`; a
  boolean looked up as "true" / "false");
- a percentage (`PERCENT_KEYS`) with "%", send windows ("hours") as "lunedì 08:00–20:00; …",
  public ids of dispatches and lists of the event's organization (`OBJECT_KEYS`) by name;
- on a creation or deletion, [None, x] or [x, None] (older events) is x;
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
import uuid
from collections.abc import Iterable, Mapping
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
from ioportal.core.audit import change_value_words
from ioportal.core.fiscalcode import mask_fiscal_codes_in_text
from ioportal.core.models import AuditEvent
from ioportal.core.numbers import grouped
from ioportal.core.services import MASK
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.recipients.models import RecipientList
from ioportal.recipients.numbers import ENGLISH, ITALIAN
from ioportal.sending.window_forms import WEEKDAYS

__all__ = ["KEY_LABELS", "change_lines", "format_value", "is_change_action", "object_names"]

EMPTY = "—"

# Every key an `audit_log(changes=…)` of the code writes has its words here (a test reads the
# code and fails on a key missing); a field of the event's target model with its own
# verbose_name is shown with that instead.
KEY_LABELS: dict[str, Any] = {
    "active_slot": gettext_lazy("chiave in uso"),
    "all_operators": gettext_lazy("tutti gli operatori"),
    "allowed_members": gettext_lazy("utenti abilitati"),
    "always_for_premium": gettext_lazy("approvazione sempre per i messaggi Premium"),
    "api_base_url": gettext_lazy("indirizzo API di IO"),
    "attachments": gettext_lazy("allegati"),
    "authorized_recipients": gettext_lazy("destinatari autorizzati"),
    "cancelled_deliveries": gettext_lazy("consegne annullate"),
    "cipher_id": gettext_lazy("chiave di cifratura"),
    "citizens": gettext_lazy("cittadini"),
    "codes_left": gettext_lazy("codici di recupero rimasti"),
    "configuration_id": gettext_lazy("identificativo della configurazione"),
    "criterion": gettext_lazy("criterio"),
    "custom_rate_limit": gettext_lazy("limite personalizzato (chiamate ogni 5 secondi)"),
    "daily_cap": gettext_lazy("limite giornaliero"),
    "days": gettext_lazy("giorni"),
    "default_service": gettext_lazy("servizio predefinito"),
    "deliveries": gettext_lazy("destinatari"),
    "department_name": gettext_lazy("ufficio"),
    "devices": gettext_lazy("dispositivi"),
    "dispatches": gettext_lazy("invii"),
    "email": gettext_lazy("email"),
    "enabled": gettext_lazy("attive"),
    "ends_on": gettext_lazy("valido fino al"),
    "esito": gettext_lazy("esito"),
    "excluded": gettext_lazy("cittadini esclusi"),
    "feature_level": gettext_lazy("tipo di messaggio"),
    "feed_access": gettext_lazy("accesso al feed delle iscrizioni"),
    "filters": gettext_lazy("filtri"),
    "finished_at": gettext_lazy("concluso il"),
    "fiscal_code": gettext_lazy("codice fiscale"),
    "format": gettext_lazy("formato"),
    "has_due_date": gettext_lazy("con scadenza"),
    "has_payment": gettext_lazy("con avviso di pagamento"),
    "header_name": gettext_lazy("nome dell'intestazione"),
    "hours": gettext_lazy("orari"),
    "in_clear": gettext_lazy("codici fiscali in chiaro"),
    "io_message_id": gettext_lazy("identificativo del messaggio su IO"),
    "is_active": gettext_lazy("attivo"),
    "key_problem": gettext_lazy("problema con le chiavi"),
    "kind": gettext_lazy("tipo"),
    "list": gettext_lazy("elenco di destinatari"),
    "markdown": gettext_lazy("testo (markdown)"),
    "max_allowed_payment_amount": gettext_lazy("importo massimo (centesimi)"),
    "name": gettext_lazy("nome"),
    "note": gettext_lazy("nota"),
    "number_format": gettext_lazy("formato dei numeri"),
    "origin": gettext_lazy("invio di origine"),
    "paid_by": gettext_lazy("pagato entro"),
    "payments_enabled": gettext_lazy("pagamenti consentiti"),
    "placeholders": gettext_lazy("segnaposto"),
    "premium_enabled": gettext_lazy("Premium abilitato"),
    "previous_end": gettext_lazy("invio terminato il"),
    "primary_key": gettext_lazy("chiave primaria"),
    "proofs": gettext_lazy("prove di invio"),
    "purchased": gettext_lazy("messaggi Premium acquistati"),
    "rate_tier": gettext_lazy("limite dell'account IO"),
    "reason": gettext_lazy("motivo"),
    "recipients": gettext_lazy("destinatari"),
    "reencrypted": gettext_lazy("chiavi cifrate di nuovo"),
    "rejected": gettext_lazy("righe scartate"),
    "prepared": gettext_lazy("file preparato da un processo in background"),
    "remote_content_configuration_id": gettext_lazy("configurazione contenuti remoti"),
    "repeated_excluded": gettext_lazy("esclusi perché già destinatari dello stesso contenuto"),
    "require_2fa_for_all": gettext_lazy("verifica in due passaggi per tutti"),
    "results": gettext_lazy("risultati"),
    "retention_days": gettext_lazy("conservazione dei dati personali (giorni)"),
    "role": gettext_lazy("ruolo"),
    "row": gettext_lazy("riga"),
    "rows": gettext_lazy("righe"),
    "scheduled_at": gettext_lazy("programmato per"),
    "secondary_key": gettext_lazy("chiave secondaria"),
    "send_by": gettext_lazy("da completare entro"),
    "service": gettext_lazy("servizio"),
    "service_id": gettext_lazy("identificativo del servizio IO"),
    "skip_holidays": gettext_lazy("esclusi i giorni festivi"),
    "source": gettext_lazy("origine"),
    "starts_on": gettext_lazy("valido dal"),
    "subject": gettext_lazy("oggetto"),
    "template": gettext_lazy("modello"),
    "test_mode": gettext_lazy("in modalità di test"),
    "threshold": gettext_lazy("soglia di destinatari"),
    "used": gettext_lazy("messaggi usati"),
    "version": gettext_lazy("versione"),
}

# A key whose meaning depends on the action: {(action, key): words}.
ACTION_KEY_LABELS: dict[tuple[str, str], Any] = {
    ("ioservice.carnet_alert", "threshold"): gettext_lazy("soglia"),
    ("org.send_windows_changed", "enabled"): gettext_lazy("finestre di invio"),
}

# Codes any action may hold as the value of a key: {key: {code: words}}. Codes that belong
# to one app's actions are declared by that app (`core.audit.change_value_words`).
VALUE_WORDS: dict[str, dict[str, Any]] = {
    "format": {"csv": "CSV", "xlsx": "Excel", "pdf": "PDF", "zip": "ZIP"},
    "filters": {"codice_fiscale": gettext_lazy("codice fiscale")},
    "number_format": {
        ITALIAN: gettext_lazy("italiano (1.234,56)"),
        ENGLISH: gettext_lazy("inglese (1,234.56)"),
    },
}

# Values that are percentages: {(action, key)}.
PERCENT_KEYS = {("ioservice.carnet_alert", "threshold")}

# Keys whose values are public ids of objects of the event's organization, shown by their
# name: {key: (model, field shown)}.
OBJECT_KEYS: dict[str, tuple[type[models.Model], str]] = {
    "dispatches": (Dispatch, "title"),
    "origin": (Dispatch, "title"),
    "list": (RecipientList, "file_name"),
    # The deliveries of an uncertain outcome's decision: by their row of the file
    # (`_object_name`), or their masked fiscal code when they have none.
    "deliveries": (Delivery, "row_number"),
}

# How each model of OBJECT_KEYS reaches its organization (default `organization_id`).
ORGANIZATION_LOOKUPS: dict[type[models.Model], str] = {Delivery: "dispatch__organization_id"}


def _object_rows(
    model: type[models.Model], organizations: Iterable[Any], public_ids: Iterable[uuid.UUID]
) -> list[tuple[Any, uuid.UUID, str]]:
    """(organization id, public id, name) of the objects of `model` among `public_ids` that
    belong to `organizations`; a delivery's name is "riga N" (or its masked fiscal code)."""
    organization_field = ORGANIZATION_LOOKUPS.get(model, "organization_id")
    name_field = next(field for kind, field in OBJECT_KEYS.values() if kind is model)
    rows = model._default_manager.filter(
        **{f"{organization_field}__in": set(organizations), "public_id__in": set(public_ids)}
    )
    if model is Delivery:
        return [
            (
                organization,
                one,
                _("riga %(row)s") % {"row": grouped(row)} if row else str(masked),
            )
            for organization, one, row, masked in rows.values_list(
                organization_field, "public_id", "row_number", "fiscal_code_masked"
            )
        ]
    return [
        (organization, one, str(name))
        for organization, one, name in rows.values_list(organization_field, "public_id", name_field)
    ]


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


def _label(target_type: str, key: str, action: str = "") -> str:
    if (action, key) in ACTION_KEY_LABELS:
        return capfirst(str(ACTION_KEY_LABELS[action, key]))
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


def _hours_text(value: Mapping[Any, Any]) -> str | None:
    """Send windows as stored ({"0": ["08:00", "20:00"], …}, 0 = Monday) in words:
    "lunedì 08:00–20:00; martedì …"; None for another shape."""
    parts = []
    try:
        days = sorted(value.items(), key=lambda item: int(item[0]))
        for day, hours in days:
            start, end = hours
            parts.append(f"{WEEKDAYS[int(day)]} {start}–{end}")
    except (TypeError, ValueError, IndexError):
        return None
    return "; ".join(parts) or EMPTY


# Names of the objects the events of a page name: {(model, organization id, public id): name}.
ObjectNames = dict[tuple[type[models.Model], Any, uuid.UUID], str]


def _object_ids(key: str, value: Any) -> list[uuid.UUID] | None:
    """The public ids `value` of key `key` holds, None when it holds something else."""
    if key not in OBJECT_KEYS or not value:
        return None
    wanted: list[uuid.UUID] = []
    for item in value if isinstance(value, list) else [value]:
        try:
            wanted.append(uuid.UUID(str(item)))
        except ValueError:
            return None
    return wanted or None


def object_names(events: Iterable[AuditEvent]) -> ObjectNames:
    """The names of every dispatch and list `events` name, one query per kind of object
    (a page of the activity log asks this once, not once an event)."""
    wanted: dict[type[models.Model], set[tuple[Any, uuid.UUID]]] = {}
    for event in events:
        changes = event.changes if isinstance(event.changes, Mapping) else {}
        for key, value in changes.items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                ids = _object_ids(key, item)
                if ids:
                    model = OBJECT_KEYS[key][0]
                    wanted.setdefault(model, set()).update(
                        (event.organization_id, one) for one in ids
                    )
    names: ObjectNames = {}
    for model, pairs in wanted.items():
        rows = _object_rows(
            model,
            {organization for organization, _ in pairs},
            {one for _, one in pairs},
        )
        names.update({(model, organization, one): name for organization, one, name in rows})
    return names


def _objects_text(event: AuditEvent, key: str, value: Any, names: ObjectNames | None) -> str | None:
    """Public ids of dispatches or lists of the event's organization by their names (the id's
    first characters for one that is gone); None when the value holds no id. `names`
    (`object_names`) saves the query."""
    wanted = _object_ids(key, value)
    if wanted is None:
        return None
    model = OBJECT_KEYS[key][0]
    if names is None:
        names = {
            (model, organization, one): name
            for organization, one, name in _object_rows(model, [event.organization_id], wanted)
        }
    texts = []
    for item in wanted:
        name = names.get((model, event.organization_id, item))
        texts.append(mask_fiscal_codes_in_text(name) if name is not None else f"{str(item)[:8]}…")
    return ", ".join(texts)


def _value_text(
    event: AuditEvent,
    key: str,
    value: Any,
    field: models.Field[Any, Any] | None,
    names: ObjectNames | None = None,
) -> str:
    """One value of `key` in words: its code's words, a percentage, send windows, names of
    objects, else `format_value`."""
    if isinstance(value, str) and value in SECRET_VALUES:
        return _("cambiata")
    if (
        (event.action, key) in PERCENT_KEYS
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return _("%(value)s %%") % {"value": formats.number_format(value)}
    words = {**VALUE_WORDS.get(key, {}), **change_value_words(event.action, key)}
    if words:
        if isinstance(value, bool) and json.dumps(value) in words:
            return str(words[json.dumps(value)])
        if isinstance(value, str) and value in words:
            return str(words[value])
        if (
            isinstance(value, list)
            and value
            and all(isinstance(item, str) and item in words for item in value)
        ):
            return ", ".join(str(words[item]) for item in value)
    if key == "hours" and isinstance(value, Mapping):
        text = _hours_text(value)
        if text is not None:
            return text
    if key in OBJECT_KEYS and value:
        text = _objects_text(event, key, value, names)
        if text is not None:
            return text
    return format_value(value, field)


def _is_creation_pair(action: str, value: Any) -> bool:
    """[None, value] or [value, None] on a creation or deletion (how `changed_fields` wrote
    them before these events held plain values)."""
    return (
        action.endswith(("created", "deleted"))
        and isinstance(value, list)
        and len(value) == 2
        and (value[0] is None) != (value[1] is None)
    )


def change_lines(event: AuditEvent, names: ObjectNames | None = None) -> list[tuple[str, str]]:
    """The event's changes as [(label, text)] in the order they were recorded; `names`
    (`object_names` of the page's events) saves a query per named object."""
    changes = event.changes if isinstance(event.changes, Mapping) else {}
    pairs = is_change_action(event.action)
    lines: list[tuple[str, str]] = []
    for key, value in changes.items():
        field = _field(event.target_type, key)
        if _is_creation_pair(event.action, value):
            value = value[1] if value[0] is None else value[0]
        if pairs and isinstance(value, list) and len(value) == 2:
            text = _("da %(old)s a %(new)s") % {
                "old": _value_text(event, key, value[0], field, names),
                "new": _value_text(event, key, value[1], field, names),
            }
        else:
            text = _value_text(event, key, value, field, names)
        lines.append((_label(event.target_type, key, event.action), text))
    return lines
