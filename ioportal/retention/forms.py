from typing import Any

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ioportal.accounts.models import DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS
from ioportal.core.forms import WholeNumberField


def _out_of_range() -> str:
    """The range sentence in the active language, filled when shown (not at import)."""
    return gettext("Indica un numero di giorni da %(min)s a %(max)s.") % {
        "min": MIN_RETENTION_DAYS,
        "max": MAX_RETENTION_DAYS,
    }


OUT_OF_RANGE = lazy(_out_of_range, str)()


class RetentionForm(forms.Form):
    """The days an organization keeps its dispatches' personal data. One Italian message for
    any value out of MIN_RETENTION_DAYS..MAX_RETENTION_DAYS (accounts.models) or missing;
    anything not a whole number gets WholeNumberField's own message."""

    retention_days = WholeNumberField(
        label=_("Giorni di conservazione dei dati personali"),
        min_value=MIN_RETENTION_DAYS,
        max_value=MAX_RETENTION_DAYS,
        error_messages={
            "min_value": OUT_OF_RANGE,
            "max_value": OUT_OF_RANGE,
            "required": OUT_OF_RANGE,
        },
    )
    # Set by the confirmation page: the admin saw what a shorter retention purges.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["retention_days"].help_text = _(
            "Dopo questi giorni dalla fine di un invio, i dati personali dei destinatari "
            "(codici fiscali, valori, testi, allegati) vengono cancellati; restano conteggi, "
            "esiti, statistiche e registro attività. Predefinito: %(default)s giorni; "
            "da %(min)s a %(max)s."
        ) % {
            "default": DEFAULT_RETENTION_DAYS,
            "min": MIN_RETENTION_DAYS,
            "max": MAX_RETENTION_DAYS,
        }
