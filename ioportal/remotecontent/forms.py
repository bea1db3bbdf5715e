from django import forms
from django.utils.translation import gettext_lazy as _

from ioportal.core.forms import LimitedCharField
from ioportal.ioservices.validators import validate_configuration_id

DEFAULT_HEADER_NAME = "X-Ioportal-Key"


class RemoteContentConfigurationForm(forms.Form):
    configuration_id = LimitedCharField(
        label=_("Identificativo della configurazione IO (configuration_id)"),
        max_length=26,
        help_text=_(
            "Il ULID restituito da IO quando la configurazione è stata registrata con l'API "
            "dei contenuti remoti."
        ),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    name = LimitedCharField(label=_("Nome"), max_length=200)
    header_name = LimitedCharField(
        label=_("Nome dell'intestazione di autenticazione"),
        max_length=64,
        initial=DEFAULT_HEADER_NAME,
        help_text=_(
            "IO invierà la chiave in questa intestazione HTTP (header_key_name nella "
            "configurazione IO). Solo lettere, cifre e trattini."
        ),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )

    def clean_configuration_id(self) -> str:
        value = self.cleaned_data["configuration_id"].strip().upper()
        validate_configuration_id(value)
        return value
