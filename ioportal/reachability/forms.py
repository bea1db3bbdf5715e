from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from ioportal.core.forms import LimitedCharField
from ioportal.ioservices.models import IOService
from ioportal.recipients.forms import KeptFileForm


class CheckUploadForm(KeptFileForm):
    """A list of citizens and the service to check them for."""

    field_order = (
        "service",
        "file",
        "pending_file",
        "column",
        "delimiter",
        "sheet",
        "hidden_rows",
    )
    sheet_label = _("Foglio con i cittadini")
    holds = _("i cittadini")
    submit_label = _("Avvia la verifica")
    missing_file_message = _("Seleziona il file dei cittadini.")

    service = forms.ModelChoiceField(label=_("Servizio IO"), queryset=IOService.objects.none())
    file = forms.FileField(
        label=_("File dei cittadini (CSV o Excel .xlsx)"),
        required=False,
        help_text=_(
            "La prima riga contiene i nomi delle colonne. Conta solo la colonna del codice "
            "fiscale: le altre sono ignorate."
        ),
    )
    column = LimitedCharField(
        label=_("Colonna del codice fiscale (facoltativo)"),
        required=False,
        max_length=200,
        help_text=_("Di solito si riconosce dal nome («codice_fiscale», «CF»…)."),
    )

    def __init__(self, *args: Any, services: QuerySet[IOService], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services  # type: ignore[attr-defined]
