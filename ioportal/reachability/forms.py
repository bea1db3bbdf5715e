from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from ioportal.ioservices.models import IOService
from ioportal.recipients.parsing import (
    CSV_DELIMITERS,
    HiddenRows,
    ImportChoiceNeeded,
    ReadOptions,
    delimiter_label,
    hidden_rows_choices,
)


class CheckUploadForm(forms.Form):
    """A list of citizens and the service to check them for."""

    service = forms.ModelChoiceField(label=_("Servizio IO"), queryset=IOService.objects.none())
    file = forms.FileField(
        label=_("File dei cittadini (CSV o Excel .xlsx)"),
        help_text=_(
            "La prima riga contiene i nomi delle colonne. Conta solo la colonna del codice "
            "fiscale: le altre sono ignorate."
        ),
    )
    column = forms.CharField(
        label=_("Colonna del codice fiscale (facoltativo)"),
        required=False,
        max_length=200,
        help_text=_("Di solito si riconosce dal nome («codice_fiscale», «CF»…)."),
    )
    delimiter = forms.ChoiceField(label=_("Separatore delle colonne (solo CSV)"), required=False)
    # Offered only when the workbook has several sheets (see offer()).
    sheet = forms.CharField(
        label=_("Foglio con i cittadini"), required=False, widget=forms.HiddenInput
    )
    hidden_rows = forms.ChoiceField(
        label=_("Righe nascoste del foglio (per esempio da un filtro)"),
        required=False,
        initial=HiddenRows.ASK,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args: Any, services: QuerySet[IOService], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services  # type: ignore[attr-defined]
        self.fields["delimiter"].choices = [  # type: ignore[attr-defined]
            ("", _("Riconosci da solo")),
            *((d, delimiter_label(d)) for d in CSV_DELIMITERS),
        ]
        self.fields["hidden_rows"].choices = [  # type: ignore[attr-defined]
            (HiddenRows.ASK, _("Chiedimelo")),
            *hidden_rows_choices(),
        ]

    def read_options(self) -> ReadOptions:
        return ReadOptions(
            delimiter=self.cleaned_data.get("delimiter") or "",
            sheet=self.cleaned_data.get("sheet") or "",
            hidden_rows=self.cleaned_data.get("hidden_rows") or HiddenRows.ASK,
        )

    def offer(self, needed: ImportChoiceNeeded) -> None:
        """Show the choice the file needs with its reason; the operator chooses and uploads
        the file again."""
        field = self.fields[needed.field]
        if needed.field == "sheet":
            field.widget = forms.Select(choices=[("", "—"), *needed.choices])
        elif needed.field == "hidden_rows":
            field.choices = needed.choices  # type: ignore[attr-defined]
            field.widget = forms.RadioSelect(choices=needed.choices)
        self.add_error(needed.field, str(needed))
