from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ioportal.core.audit import action_choices


class AuditFilterForm(forms.Form):
    """The filters of the audit page, read from the query string.

    Every field is optional; an invalid one (a date that does not exist, an unknown action)
    is shown as an error and not applied, the valid ones still are.
    """

    # A callable: the actions are those the apps declare (core/audit.py), read at each form.
    action = forms.ChoiceField(
        label=_("Azione"), choices=lambda: [("", _("Tutte")), *action_choices()], required=False
    )
    actor = forms.CharField(label=_("Autore"), max_length=200, required=False)
    date_from = forms.DateField(label=_("Dal"), required=False, input_formats=["%Y-%m-%d"])
    date_to = forms.DateField(label=_("Al"), required=False, input_formats=["%Y-%m-%d"])

    def filters(self) -> dict[str, Any]:
        """The valid filters, as keyword arguments of `audit_events_for_organization`."""
        self.is_valid()
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if value not in (None, "") and name not in self.errors
        }
