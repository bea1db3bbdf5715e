"""The form fields every upload of a list shares: the choices about the file's structure
(separator, sheet, hidden rows) that `recipients.parsing` asks for when a file needs them."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ioportal.recipients.parsing import (
    CSV_DELIMITERS,
    HiddenRows,
    ImportChoiceNeeded,
    ReadOptions,
    delimiter_label,
    hidden_rows_choices,
)


class FileStructureForm(forms.Form):
    """Base of the upload forms: the separator, the sheet and the hidden rows. A subclass
    names its own fields' order in `field_order` and may say what the sheet holds."""

    sheet_label = _("Foglio con i destinatari")

    delimiter = forms.ChoiceField(
        label=_("Separatore delle colonne (solo CSV)"),
        required=False,
        help_text=_(
            "Di solito si riconosce da solo: è quello con cui ogni riga ha le colonne "
            "dell'intestazione. Sceglilo se il file usa un separatore diverso."
        ),
    )
    # Offered only when the workbook has several sheets (see offer()).
    sheet = forms.CharField(required=False, widget=forms.HiddenInput)
    hidden_rows = forms.ChoiceField(
        label=_("Righe nascoste del foglio (per esempio da un filtro)"),
        required=False,
        initial=HiddenRows.ASK,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sheet"].label = self.sheet_label
        self.fields["delimiter"].choices = [  # type: ignore[attr-defined]
            ("", _("Riconosci da solo")),
            *((d, delimiter_label(d)) for d in CSV_DELIMITERS),
        ]
        self.fields["hidden_rows"].choices = [  # type: ignore[attr-defined]
            (HiddenRows.ASK, _("Chiedimelo")),
            *hidden_rows_choices(),
        ]

    def read_options(self) -> ReadOptions:
        """The operator's choices about the file's structure, from a valid form."""
        return ReadOptions(
            delimiter=self.cleaned_data.get("delimiter") or "",
            sheet=self.cleaned_data.get("sheet") or "",
            hidden_rows=self.cleaned_data.get("hidden_rows") or HiddenRows.ASK,
        )

    def offer(self, needed: ImportChoiceNeeded) -> None:
        """Show the choice the file needs (a sheet, hidden rows, a separator) with its reason
        as the field's error; the operator picks and sends the form again."""
        field = self.fields[needed.field]
        if needed.field == "sheet":
            field.widget = forms.Select(choices=[("", "—"), *needed.choices])
        elif needed.field == "hidden_rows":
            field.choices = needed.choices  # type: ignore[attr-defined]
            field.widget = forms.RadioSelect(choices=needed.choices)
        self.add_error(needed.field, str(needed))
