from django import forms
from django.utils.translation import gettext_lazy as _

from ioportal.core.forms import IdentifierField, LimitedCharField
from ioportal.ioservices.validators import normalize_ulid, validate_configuration_id

DEFAULT_HEADER_NAME = "X-Ioportal-Key"


class RemoteContentConfigurationForm(forms.Form):
    configuration_id = IdentifierField(
        label=_("Identificativo della configurazione IO (configuration_id)"),
        max_length=26,
        help_text=_(
            "Il ULID restituito da IO quando la configurazione è stata registrata con l'API "
            "dei contenuti remoti."
        ),
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
        value = normalize_ulid(self.cleaned_data["configuration_id"])
        validate_configuration_id(value)
        return value
