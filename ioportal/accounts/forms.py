from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ioportal.accounts.models import (
    Membership,
    Organization,
)
from ioportal.core.forms import (
    IdentifierField,
    LimitedCharField,
    LimitedEmailField,
    portal_formfield,
)


class OrganizationForm(forms.ModelForm):
    """Installation superusers: every field of an organization."""

    class Meta:
        formfield_callback = portal_formfield
        model = Organization
        fields = ["name", "fiscal_code", "rate_tier", "custom_rate_limit", "require_2fa_for_all"]
        # Typed or pasted by hand: read as the list import reads the payee's fiscal code.
        field_classes = {"fiscal_code": IdentifierField}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("rate_tier") == Organization.RateTier.CUSTOM and not data.get(
            "custom_rate_limit"
        ):
            self.add_error(
                "custom_rate_limit",
                _("Indica il limite concordato con PagoPA (chiamate ogni 5 secondi)."),
            )
        return data


class OrganizationSettingsForm(forms.ModelForm):
    """Organization admins: what they may change themselves."""

    class Meta:
        formfield_callback = portal_formfield
        model = Organization
        fields = ["name", "require_2fa_for_all"]


class InviteForm(forms.Form):
    email = LimitedEmailField(label=_("E-mail"))
    first_name = LimitedCharField(label=_("Nome"), max_length=150, required=False)
    last_name = LimitedCharField(label=_("Cognome"), max_length=150, required=False)
    username = LimitedCharField(
        label=_("Nome utente"),
        max_length=150,
        required=False,
        help_text=_("Se vuoto si usa l'indirizzo e-mail."),
    )
    role = forms.ChoiceField(label=_("Ruolo"), choices=Membership.Role.choices)


class AdminInviteForm(InviteForm):
    """Installation superusers: invite an organization's admin (the role is fixed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["role"]


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Ruolo"), choices=Membership.Role.choices)


class TokenForm(forms.Form):
    # Authenticator apps show the code in two groups ("123 456"): read without spaces.
    token = IdentifierField(
        label=_("Codice a 6 cifre"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_token(self) -> str:
        token: str = self.cleaned_data["token"]
        if not token.isdigit():
            raise forms.ValidationError(_("Il codice è composto da 6 cifre."))
        return token


class RecoveryCodeForm(forms.Form):
    """One of the recovery codes given at enrolment: 8 letters and digits, any case or spacing."""

    code = LimitedCharField(
        label=_("Codice di recupero"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split()).replace("-", "").lower()
        if len(code) != 8 or not code.isalnum() or not code.isascii():
            raise forms.ValidationError(_("Il codice di recupero è composto da 8 lettere e cifre."))
        return code
