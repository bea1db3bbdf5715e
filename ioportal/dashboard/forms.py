from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ioportal.core.audit import action_choices
from ioportal.core.forms import DayField, LimitedCharField

DATE_FORMAT = "%d/%m/%Y"


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
    date_from = DayField(label=_("Dal"), required=False)
    date_to = DayField(label=_("Al"), required=False)

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
