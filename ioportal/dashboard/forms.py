from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ioportal.core.audit import action_choices
from ioportal.core.forms import LimitedCharField

# Italian format first (gg/mm/aaaa); ISO (aaaa-mm-gg) is still read, for links made before.
DATE_FORMAT = "%d/%m/%Y"
DATE_INPUT_FORMATS = [DATE_FORMAT, "%d/%m/%y", "%Y-%m-%d"]
DATE_ERROR = _("Inserisci una data esistente nel formato gg/mm/aaaa, per esempio 31/01/2026.")


class AuditFilterForm(forms.Form):
    """The filters of the audit page, read from the query string.

    Every field is optional; an invalid one (a date that does not exist, an unknown action)
    is shown as an error and not applied, the valid ones still are.
    """

    # A callable: the actions are those the apps declare (core/audit.py), read at each form.
    action = forms.ChoiceField(
        label=_("Azione"), choices=lambda: [("", _("Tutte")), *action_choices()], required=False
    )
    actor = LimitedCharField(label=_("Autore"), max_length=200, required=False)
    date_from = forms.DateField(
        label=_("Dal"),
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        error_messages={"invalid": DATE_ERROR},
    )
    date_to = forms.DateField(
        label=_("Al"),
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        error_messages={"invalid": DATE_ERROR},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("La data finale viene prima di quella iniziale."))
        return cleaned

    def shown(self) -> dict[str, str]:
        """The filters as the page shows them back: valid dates as gg/mm/aaaa, anything else
        as typed."""
        self.is_valid()
        shown: dict[str, str] = {}
        for name in self.fields:
            value = self.cleaned_data.get(name) if name not in self.errors else None
            if isinstance(value, date):
                shown[name] = value.strftime(DATE_FORMAT)
            else:
                shown[name] = str(self[name].value() or "")
        return shown

    def filters(self) -> dict[str, Any]:
        """The valid filters, as keyword arguments of `audit_events_for_organization`."""
        self.is_valid()
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if value not in (None, "") and name not in self.errors
        }
