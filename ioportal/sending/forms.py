"""Filters of the dispatch history and of a dispatch's deliveries, and the fiscal-code search.

Every field is optional and validated: bad input gives an Italian message on the form, never
a 500.
"""

from typing import Any, cast

from django import forms
from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _

from ioportal.accounts.models import Membership, User
from ioportal.core.forms import DayField, IdentifierField, LimitedCharField
from ioportal.ioapi import normalize_fiscal_code
from ioportal.ioapi.fiscalcode import is_valid_fiscal_code
from ioportal.ioservices.models import IOService
from ioportal.messaging.models import Delivery, Dispatch
from ioportal.sending import selectors

SORTS = {
    "recenti": ("-created_at", _("Creati di recente")),
    "meno-recenti": ("created_at", _("Creati meno di recente")),
    "avvio": ("-started_at", _("Avviati di recente")),
    "fine": ("-finished_at", _("Conclusi di recente")),
    "titolo": ("title", _("Titolo (A-Z)")),
}


# The history's states as its rows say them: a COMPLETED dispatch whose outcomes are still
# coming reads "Inviato, esiti in arrivo" (pages.dispatch_state_text), "Completato" once all
# are in; the filter offers both, each one condition of the same rule. Those of either with
# uncertain outcomes say they wait for a decision: a choice of their own finds them.
AWAITING_OUTCOMES = "awaiting_outcomes"
UNCERTAIN_TO_DECIDE = "uncertain_to_decide"
STATE_CHOICES: list[tuple[str, Any]] = [("", _("Tutti"))]
for _value, _label in Dispatch.State.choices:
    if _value == Dispatch.State.COMPLETED:
        STATE_CHOICES.append((AWAITING_OUTCOMES, _("Inviato, esiti in arrivo")))
    STATE_CHOICES.append((_value, _label))
    if _value == Dispatch.State.COMPLETED:
        STATE_CHOICES.append((UNCERTAIN_TO_DECIDE, _("Con esiti incerti da decidere")))


class HistoryFilterForm(forms.Form):
    """GET filters of the dispatch history: service, author, state, kind, period, title."""

    q = LimitedCharField(label=_("Titolo contiene"), required=False, max_length=200)
    servizio = forms.ChoiceField(label=_("Servizio"), required=False)
    autore = forms.ChoiceField(label=_("Autore"), required=False)
    stato = forms.ChoiceField(
        label=_("Stato"),
        required=False,
        choices=STATE_CHOICES,
    )
    tipo = forms.ChoiceField(
        label=_("Tipo"),
        required=False,
        choices=[("", _("Tutti"))] + list(Dispatch.Kind.choices),
    )
    dal = DayField(
        label=_("Creati dal"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    al = DayField(
        label=_("Creati fino al"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    ordine = forms.ChoiceField(
        label=_("Ordina per"),
        required=False,
        choices=[(key, label) for key, (_field, label) in SORTS.items()],
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        services = IOService.objects.filter(organization_id=membership.organization_id).order_by(
            "name"
        )
        cast(forms.ChoiceField, self.fields["servizio"]).choices = [("", _("Tutti"))] + [
            (str(s.public_id), s.name) for s in services
        ]
        if not membership.has_role(Membership.Role.SUPERVISOR):
            # An operator sees only their own dispatches (dispatch_access): no author to
            # choose among.
            del self.fields["autore"]
            return
        authors = User.objects.filter(
            memberships__organization_id=membership.organization_id
        ).order_by("username")
        cast(forms.ChoiceField, self.fields["autore"]).choices = [("", _("Tutti"))] + [
            (str(u.public_id), str(u)) for u in authors
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("dal") and data.get("al") and data["dal"] > data["al"]:
            raise forms.ValidationError(_("La data iniziale è successiva a quella finale."))
        return data

    def apply(self, dispatches: QuerySet[Dispatch]) -> QuerySet[Dispatch]:
        """The dispatches filtered and sorted; unfiltered when the form is not valid."""
        if not self.is_valid():
            return dispatches.order_by("-created_at", "-id")
        data = self.cleaned_data
        if data["q"]:
            dispatches = dispatches.filter(title__icontains=data["q"])
        if data["servizio"]:
            dispatches = dispatches.filter(service__public_id=data["servizio"])
        if data.get("autore"):
            dispatches = dispatches.filter(created_by__public_id=data["autore"])
        if data["stato"] == AWAITING_OUTCOMES:
            dispatches = dispatches.filter(selectors.awaiting_outcomes_q())
        elif data["stato"] == UNCERTAIN_TO_DECIDE:
            dispatches = dispatches.filter(selectors.uncertain_to_decide_q())
        elif data["stato"] == Dispatch.State.COMPLETED:
            dispatches = dispatches.filter(selectors.completed_with_all_outcomes_q())
        elif data["stato"]:
            dispatches = dispatches.filter(state=data["stato"])
        if data["tipo"]:
            dispatches = dispatches.filter(kind=data["tipo"])
        if data["dal"]:
            dispatches = dispatches.filter(created_at__date__gte=data["dal"])
        if data["al"]:
            dispatches = dispatches.filter(created_at__date__lte=data["al"])
        field = SORTS.get(data["ordine"] or "recenti", SORTS["recenti"])[0]
        name = field.lstrip("-")
        # Dispatches without the date (not started, not finished) last on every database.
        order = F(name).desc(nulls_last=True) if field.startswith("-") else F(name).asc()
        return dispatches.order_by(order, "-id")


GROUP_LABELS = {
    "delivered": _("Consegnati"),
    "marked_sent": _("Segnati come inviati da una persona"),
    "accepted": _("Accettati da IO, in consegna"),
    "unreachable": _("Non raggiungibili"),
    "failed": _("Non riusciti"),
    "uncertain": _("Esito incerto"),
    "cancelled": _("Annullati"),
    "waiting": _("In attesa o in corso"),
}


class DeliveryFilterForm(forms.Form):
    """GET filter of a dispatch's deliveries by outcome group."""

    esito = forms.ChoiceField(
        label=_("Esito"),
        required=False,
        choices=[("", _("Tutti"))]
        + [(key, GROUP_LABELS[key]) for key, _s in selectors.OUTCOME_GROUPS],
    )

    def apply(self, deliveries: QuerySet[Delivery]) -> QuerySet[Delivery]:
        if self.is_valid() and self.cleaned_data["esito"]:
            states = dict(selectors.OUTCOME_GROUPS)[self.cleaned_data["esito"]]
            deliveries = deliveries.filter(state__in=states)
        return deliveries


class CancelConfirmForm(forms.Form):
    """The confirmation a cancel needs: it cannot be undone."""

    confirm = forms.BooleanField(
        label=_(
            "Ho capito: i messaggi non ancora partiti non saranno inviati e l'invio non potrà "
            "essere ripreso."
        ),
        required=True,
        error_messages={"required": _("Spunta la casella per confermare l'annullamento.")},
    )


class MarkSentConfirmForm(forms.Form):
    """The confirmation marking uncertain deliveries as sent needs: nothing more is ever
    sent to those citizens for this dispatch."""

    confirm_mark_sent = forms.BooleanField(
        label=_(
            "Ho verificato che i cittadini scelti hanno ricevuto il messaggio: non sarà "
            "inviato loro di nuovo."
        ),
        required=True,
        error_messages={"required": _("Spunta la casella per confermare.")},
    )


class FiscalCodeSearchForm(forms.Form):
    """One citizen's fiscal code, checked (check character included) before the search."""

    codice_fiscale = IdentifierField(label=_("Codice fiscale"), max_length=32)

    def clean_codice_fiscale(self) -> str:
        code = normalize_fiscal_code(self.cleaned_data["codice_fiscale"])
        if not is_valid_fiscal_code(code):
            raise forms.ValidationError(
                _("Il codice fiscale non è valido: controlla i 16 caratteri.")
            )
        return code


def has_filters(data: Any) -> bool:
    return any(data.get(name) for name in ("q", "servizio", "autore", "stato", "tipo", "dal", "al"))
