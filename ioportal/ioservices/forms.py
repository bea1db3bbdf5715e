from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ioportal.accounts.models import Membership, Organization, User
from ioportal.core.forms import (
    DayField,
    EuroAmountField,
    IdentifierField,
    LimitedCharField,
    WholeNumberField,
)
from ioportal.ioservices.models import IOService, PremiumCarnet
from ioportal.ioservices.services import ioservice_problems
from ioportal.ioservices.services.carnet import premium_carnet_check_period
from ioportal.ioservices.validators import (
    DEFAULT_AUTHORIZED_RECIPIENTS,
    MAX_PAYMENT_AMOUNT_CENTS,
    normalize_service_id,
    normalize_ulid,
    parse_authorized_recipients,
)

# Errors raised by the service functions, by model field, shown next to these form fields.
SERVICE_TO_FORM_FIELD = {"max_allowed_payment_amount": "max_payment_eur"}


def _key_field(label: Any, help_text: Any) -> forms.CharField:
    # render_value=False: a key typed into a form that fails validation is not sent back.
    return LimitedCharField(
        label=label,
        required=False,
        strip=True,
        max_length=200,
        help_text=help_text,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"}
        ),
    )


class IOServiceForm(forms.Form):
    """An IO service's settings and keys, for organization admins.

    Only parses what was typed; the rules (formats, duplicates, IO's bounds) are checked by
    the service functions, whose errors `add_service_errors` puts next to the fields.
    """

    service_id = IdentifierField(
        label=_("Identificativo del servizio IO"),
        max_length=64,
        help_text=_("Dal Back Office di IO: di solito 26 caratteri (ULID)."),
    )
    name = LimitedCharField(label=_("Nome del servizio"), max_length=200)
    department_name = LimitedCharField(label=_("Ufficio"), max_length=200, required=False)
    is_active = forms.BooleanField(
        label=_("Servizio attivo"),
        required=False,
        initial=True,
        help_text=_("Un servizio disattivato non può essere usato per nuovi invii."),
    )
    premium_enabled = forms.BooleanField(
        label=_("Premium abilitato"),
        required=False,
        help_text=_("Il servizio può inviare messaggi Premium (ADVANCED)."),
    )
    payments_enabled = forms.BooleanField(
        label=_("Pagamenti consentiti"),
        required=False,
        help_text=_("I messaggi possono contenere un avviso di pagamento pagoPA."),
    )
    # Read as the list import reads amounts ("1.500" is 1.500,00 euro); the value is in cents.
    max_payment_eur = EuroAmountField(
        label=_("Importo massimo per messaggio (euro)"),
        required=False,
        min_cents=0,
        max_cents=MAX_PAYMENT_AMOUNT_CENTS,
        help_text=_("Lo stesso valore configurato in IO (massimo 99.999.999,99 euro)."),
        error_messages={
            "min_value": _("L'importo massimo non può essere negativo."),
            "max_value": _("L'importo massimo consentito da IO è 99.999.999,99 euro."),
        },
    )
    feed_access = forms.BooleanField(
        label=_("Accesso al feed delle iscrizioni"),
        required=False,
        help_text=_(
            "IO ha concesso al servizio la lettura del feed giornaliero delle iscrizioni: "
            "per i cittadini di cui il feed indica il consenso non serve la verifica del "
            "profilo prima dell'invio."
        ),
    )
    test_mode = forms.BooleanField(
        label=_("In modalità di test"),
        required=False,
        help_text=_("IO consente l'invio solo ai destinatari autorizzati."),
    )
    authorized_recipients = forms.CharField(
        label=_("Destinatari autorizzati"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=_(
            "Codici fiscali, uno per riga. AAAAAA00A00A000A è il codice di prova di IO: "
            "i messaggi arrivano all'indirizzo e-mail del referente del servizio."
        ),
    )
    remote_content_configuration_id = IdentifierField(
        label=_("Configurazione dei contenuti remoti"),
        required=False,
        max_length=64,
        help_text=_(
            "Per gli allegati dei messaggi Premium: l'identificativo (ULID) della "
            "configurazione registrata in IO."
        ),
    )
    api_base_url = forms.URLField(
        label=_("Indirizzo API di IO"),
        required=False,
        assume_scheme="https",
        help_text=_(
            "Solo per prove e dimostrazioni (ad esempio il simulatore). Vuoto: l'indirizzo "
            "configurato per l'installazione."
        ),
    )
    all_operators = forms.BooleanField(
        label=_("Tutti gli operatori possono usarlo"),
        required=False,
        initial=True,
    )
    allowed_members = forms.ModelMultipleChoiceField(
        label=_("Operatori abilitati"),
        required=False,
        queryset=Membership.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Usato solo se il servizio non è aperto a tutti gli operatori."),
    )
    primary_key = _key_field(
        _("Chiave primaria"),
        _("32 caratteri, dal Back Office di IO. Lascia vuoto per non cambiarla."),
    )
    secondary_key = _key_field(
        _("Chiave secondaria"),
        _("32 caratteri, dal Back Office di IO. Lascia vuoto per non cambiarla."),
    )
    active_slot = forms.ChoiceField(
        label=_("Chiave usata per gli invii"),
        choices=[
            (IOService.KeySlot.PRIMARY, _("La primaria")),
            (IOService.KeySlot.SECONDARY, _("La secondaria")),
        ],
        initial=IOService.KeySlot.PRIMARY,
        widget=forms.RadioSelect,
    )

    def __init__(
        self,
        *args: Any,
        organization: Organization,
        user: User,
        instance: IOService | None = None,
        **kwargs: Any,
    ) -> None:
        self.instance = instance
        self.organization = organization
        if instance is not None:
            kwargs.setdefault("initial", self.initial_from(instance))
        super().__init__(*args, **kwargs)
        if not self.is_bound and instance is None:
            self.fields["authorized_recipients"].initial = "\n".join(DEFAULT_AUTHORIZED_RECIPIENTS)
            self.fields["test_mode"].initial = True
        members = self.fields["allowed_members"]
        assert isinstance(members, forms.ModelMultipleChoiceField)
        members.queryset = (
            Membership.objects.filter(
                organization=organization, is_active=True, role=Membership.Role.OPERATOR
            )
            .select_related("user")
            .order_by("user__last_name", "user__username")
        )
        members.label_from_instance = lambda obj: str(obj.user)  # type: ignore[method-assign]
        if instance is None:
            del self.fields["is_active"]
            self.fields["primary_key"].required = True
            self.fields["primary_key"].help_text = _("32 caratteri, dal Back Office di IO.")
            self.fields["secondary_key"].help_text = _(
                "32 caratteri, dal Back Office di IO. Facoltativa, ma serve per cambiare le "
                "chiavi senza interrompere gli invii."
            )
        if not user.is_superuser:
            # Pointing a service elsewhere is an installation decision (simulator, tests).
            del self.fields["api_base_url"]

    @staticmethod
    def initial_from(service: IOService) -> dict[str, Any]:
        return {
            "service_id": service.service_id,
            "name": service.name,
            "department_name": service.department_name,
            "is_active": service.is_active,
            "premium_enabled": service.premium_enabled,
            "payments_enabled": service.payments_enabled,
            "max_payment_eur": (
                service.max_allowed_payment_amount if service.payments_enabled else None
            ),
            "test_mode": service.test_mode,
            "feed_access": service.feed_access,
            "authorized_recipients": "\n".join(service.authorized_recipients),
            "remote_content_configuration_id": service.remote_content_configuration_id,
            "api_base_url": service.api_base_url,
            "all_operators": service.all_operators,
            "allowed_members": list(service.allowed_members.all()),
            "active_slot": service.active_slot,
        }

    def clean_service_id(self) -> str:
        return normalize_service_id(self.cleaned_data["service_id"])

    def clean_remote_content_configuration_id(self) -> str:
        return normalize_ulid(self.cleaned_data["remote_content_configuration_id"])

    def clean_authorized_recipients(self) -> list[str]:
        # Parsed here too, so that an invalid code is reported by its line in the box.
        return parse_authorized_recipients(self.cleaned_data["authorized_recipients"].splitlines())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        amount_missing = data.get("payments_enabled") and not data.get("max_payment_eur")
        if amount_missing and "max_payment_eur" not in self.errors:
            self.add_error(
                "max_payment_eur",
                _("Indica l'importo massimo che il servizio può chiedere ai cittadini."),
            )
        self._add_rule_errors()
        return data

    def _add_rule_errors(self) -> None:
        """The service functions' rules (`ioservice_problems`: the id's format, a duplicate
        id, the keys...) checked with the fields' own errors, so that the page shows every
        problem at once: a field with an error of its own is not judged again, and a field
        that could not be read stands in with a value that passes (`_checked_kwargs`)."""
        problems = ioservice_problems(
            organization=self.organization,
            service=self.instance,
            **self._checked_kwargs(),
        )
        for field, messages in problems.items():
            name = SERVICE_TO_FORM_FIELD.get(field, field)
            if name in self.errors:
                continue
            self.add_error(name if name in self.fields else None, messages)

    # A key of the right form, standing in for one whose field has an error of its own.
    STAND_IN_KEY = "0" * 32

    def _checked_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        stand_ins: dict[str, Any] = {
            "service_id": "",
            "name": "",
            "department_name": "",
            "max_payment_eur": 0,
            "authorized_recipients": [],
            "remote_content_configuration_id": "",
            "api_base_url": "",
            "allowed_members": [],
            "active_slot": IOService.KeySlot.PRIMARY,
            "primary_key": self.STAND_IN_KEY,
            "secondary_key": "",
        }
        for name in self.fields:
            if name in self.errors or name not in data:
                data[name] = stand_ins.get(name, False)
        return self.service_kwargs(data)

    def service_kwargs(self, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Keyword arguments for ioservice_create / ioservice_update, from `data` (by default
        the cleaned data)."""
        data = self.cleaned_data if data is None else data
        kwargs: dict[str, Any] = {
            "service_id": data["service_id"],
            "name": data["name"],
            "department_name": data["department_name"],
            "premium_enabled": data["premium_enabled"],
            "payments_enabled": data["payments_enabled"],
            "max_allowed_payment_amount": (
                (data.get("max_payment_eur") or 0) if data["payments_enabled"] else 0
            ),
            "test_mode": data["test_mode"],
            "feed_access": data["feed_access"],
            "authorized_recipients": data["authorized_recipients"],
            "remote_content_configuration_id": data["remote_content_configuration_id"],
            "all_operators": data["all_operators"],
            "allowed_members": list(data["allowed_members"]),
            "active_slot": data["active_slot"],
            "primary_key": data["primary_key"],
            "secondary_key": data["secondary_key"],
        }
        if "is_active" in self.fields:
            kwargs["is_active"] = data["is_active"]
        if "api_base_url" in self.fields:
            kwargs["api_base_url"] = data["api_base_url"]
        return kwargs

    def add_service_errors(self, error: ValidationError) -> None:
        """Show the errors of a service function next to the matching fields."""
        for field, messages in error.message_dict.items():
            name = SERVICE_TO_FORM_FIELD.get(field, field)
            self.add_error(name if name in self.fields else None, messages)


class ActiveSlotForm(forms.Form):
    active_slot = forms.ChoiceField(choices=IOService.KeySlot.choices)


# The years a carnet's period may fall in.
CARNET_FIRST_YEAR, CARNET_LAST_YEAR = 2000, 2100


class PremiumCarnetForm(forms.Form):
    """A carnet's period and count. With `service` (and `carnet`, the one being changed), an
    overlap with the service's other carnets is told with the other fields' errors
    (`premium_carnet_check_period`, which the service functions check again when saving)."""

    starts_on = DayField(
        label=_("Valido dal"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    ends_on = DayField(
        label=_("Valido fino al (compreso)"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    purchased = WholeNumberField(
        label=_("Messaggi Premium acquistati"),
        min_value=1,
        max_value=100_000_000,
        error_messages={
            "min_value": _("Indica quanti messaggi Premium sono stati acquistati: almeno 1.")
        },
    )
    note = LimitedCharField(
        label=_("Nota"),
        required=False,
        max_length=500,
        help_text=_("Per esempio il riferimento dell'ordine."),
    )

    def __init__(
        self,
        *args: Any,
        service: IOService | None = None,
        carnet: PremiumCarnet | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.service, self.carnet = service, carnet

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        for name, day in (("starts_on", starts_on), ("ends_on", ends_on)):
            if day and not CARNET_FIRST_YEAR <= day.year <= CARNET_LAST_YEAR:
                self.add_error(
                    name,
                    _("Indica una data tra il %(first)s e il %(last)s.")
                    % {"first": f"01/01/{CARNET_FIRST_YEAR}", "last": f"31/12/{CARNET_LAST_YEAR}"},
                )
                starts_on = ends_on = None
        if starts_on and ends_on and starts_on > ends_on:
            self.add_error("ends_on", _("La data di fine non può precedere quella di inizio."))
        elif starts_on and ends_on and self.service is not None:
            try:
                premium_carnet_check_period(
                    service=self.service,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    exclude=self.carnet.pk if self.carnet else None,
                )
            except ValidationError as error:
                self.add_error(None, error)
        return data
