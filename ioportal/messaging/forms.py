"""Forms of the compose flow. They parse input; rules about IO live in ioapi and services."""

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ioportal.core.fiscalcode import normalize_fiscal_code
from ioportal.core.forms import (
    DayField,
    EuroAmountField,
    IdentifierField,
    LimitedCharField,
    LocalDateTimeField,
    WholeNumberField,
    portal_formfield,
)
from ioportal.core.io_texts import field_error_text, reason_text
from ioportal.core.sizes import MEGABYTE, size_text
from ioportal.ioapi import validate_new_message
from ioportal.ioapi.payloads import MARKDOWN_MAX, MARKDOWN_MIN, SUBJECT_MAX, SUBJECT_MIN
from ioportal.ioservices.models import IOService
from ioportal.messaging.models import FeatureLevel, MessageTemplate
from ioportal.messaging.preview import cta_check
from ioportal.messaging.send_conditions import send_conditions, shortfall
from ioportal.messaging.windows import Pacing, describe_moment
from ioportal.recipients.forms import KeptFileForm
from ioportal.recipients.numbers import (
    DEFAULT_NUMBER_FORMAT,
    NUMBER_FORMAT_CHOICES,
)
from ioportal.recipients.parsing import header_label
from ioportal.recipients.rendering import PLACEHOLDER_NAME_RE, io_message, placeholder_names
from ioportal.recipients.validation import (
    AMOUNT,
    DUE_DATE,
    NOTICE_NUMBER,
    SPECIAL_FIELDS,
    ValueProblem,
    column_problem,
    guess_mapping,
    parse_due_date,
    pattern_problem,
    special_field_labels,
)

MAX_SCHEDULE_DAYS = 30
# A deadline at most this many days after the start of the dispatch.
MAX_PACING_DAYS = 60
# The largest daily cap: more than any organization sends in a day, so a cap above it is a
# typing error (an empty field means no cap).
DAILY_CAP_MAX = 1_000_000
ZIP_MAX_UPLOAD_BYTES = 200 * MEGABYTE
UPLOAD_EXTENSIONS = (".csv", ".txt", ".xlsx")


def _counted(widget: forms.Widget, minimum: int, limit: int) -> forms.Widget:
    """Mark a field for the live character counter of static/js/compose.js (its words come
    from the page: templates/messaging/_counter.html)."""
    widget.attrs.update({"data-io-min": str(minimum), "data-io-limit": str(limit)})
    return widget


class TemplateForm(forms.ModelForm):
    class Meta:
        formfield_callback = portal_formfield
        model = MessageTemplate
        fields = [
            "name",
            "subject",
            "markdown",
            "default_service",
            "feature_level",
            "has_due_date",
            "has_payment",
        ]
        widgets = {
            "subject": _counted(forms.TextInput(), SUBJECT_MIN, SUBJECT_MAX),
            "markdown": _counted(forms.Textarea(attrs={"rows": 12}), MARKDOWN_MIN, MARKDOWN_MAX),
        }
        help_texts = {
            "subject": _(
                "Da 10 a 120 caratteri, senza dati personali. Per i segnaposto scrivi {{ nome }}."
            ),
            "markdown": _(
                "Da 80 a 10.000 caratteri. Titoli (#), **grassetto**, *corsivo*, elenchi e link. "
                "Segnaposto: {{ nome }}."
            ),
        }

    def __init__(self, *args: Any, services: QuerySet[IOService], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_service"].queryset = services  # type: ignore[attr-defined]

    def clean_markdown(self) -> str:
        """Refuse CTA front matter with which the IO app shows no button at all, or an error
        instead of the message; the other CTA problems are warnings on the edit page."""
        markdown = str(self.cleaned_data.get("markdown") or "")
        errors = cta_check(markdown).errors
        if errors:
            raise ValidationError(errors)
        return markdown


class PlaceholderForm(forms.Form):
    name = LimitedCharField(label=_("Nome"), max_length=40, required=False)
    type = forms.ChoiceField(
        label=_("Tipo"), choices=MessageTemplate.PlaceholderType.choices, required=False
    )
    required = forms.BooleanField(label=_("Obbligatorio"), required=False, initial=True)
    pattern = LimitedCharField(
        label=_("Formato (espressione regolare)"), max_length=200, required=False
    )

    def clean_name(self) -> str:
        name = str(self.cleaned_data.get("name") or "").strip()
        if name and not PLACEHOLDER_NAME_RE.match(name):
            raise ValidationError(
                _("Usa lettere minuscole, cifre e _ (massimo 40), iniziando con una lettera.")
            )
        return name

    def clean_pattern(self) -> str:
        pattern = str(self.cleaned_data.get("pattern") or "")
        if pattern and (problem := pattern_problem(pattern)):
            raise ValidationError(problem)
        return pattern


# A bound on the placeholder rows a request may ask for: the management form is client input,
# and Django would otherwise build (and render) up to 1000 more forms than declared.
MAX_PLACEHOLDERS = 50
PlaceholderFormSet = forms.formset_factory(
    PlaceholderForm,
    extra=2,
    can_delete=True,
    max_num=MAX_PLACEHOLDERS,
    validate_max=True,
    absolute_max=MAX_PLACEHOLDERS,
)


def placeholders_from(formset: Any, subject: str, markdown: str) -> tuple[list[dict], list[str]]:
    """The declared placeholders, plus those used in the texts but not declared (added as
    required text). Returns (placeholders, names added)."""
    declared: list[dict[str, Any]] = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE") or not data.get("name"):
            continue
        if any(p["name"] == data["name"] for p in declared):
            continue
        declared.append(
            {
                "name": data["name"],
                "type": data.get("type") or "text",
                "required": bool(data.get("required")),
                "pattern": data.get("pattern") or "",
            }
        )
    added = []
    for name in placeholder_names(subject, markdown):
        if not any(p["name"] == name for p in declared):
            declared.append({"name": name, "type": "text", "required": True, "pattern": ""})
            added.append(name)
    return declared, added


# The upload's attachment fields (Premium): a PDF for everyone, a ZIP of one PDF each.
ATTACHMENT_FIELDS = ("shared_pdf", "attachments_zip")


class UploadForm(KeptFileForm):
    missing_file_message = _("Seleziona il file dei destinatari.")
    field_order = (
        "template",
        "service",
        "file",
        "pending_file",
        "number_format",
        "delimiter",
        "sheet",
        "hidden_rows",
        "shared_pdf",
        "pending_shared_pdf",
        "drop_shared_pdf",
        "attachments_zip",
        "pending_attachments_zip",
        "drop_attachments_zip",
    )

    template = forms.ModelChoiceField(label=_("Modello"), queryset=MessageTemplate.objects.none())
    service = forms.ModelChoiceField(label=_("Servizio IO"), queryset=IOService.objects.none())
    file = forms.FileField(
        label=_("File dei destinatari (CSV o Excel .xlsx)"),
        required=False,
        help_text=_(
            "La prima riga contiene i nomi delle colonne. CSV con qualsiasi separatore, in "
            "UTF-8 o Windows-1252."
        ),
    )
    number_format = forms.ChoiceField(
        label=_("Come sono scritti i numeri nel file"),
        choices=NUMBER_FORMAT_CHOICES,
        initial=DEFAULT_NUMBER_FORMAT,
        required=False,
        widget=forms.RadioSelect,
        help_text=_(
            "Vale per importi e numeri scritti come testo. Un valore che non rispetta il formato "
            "scelto viene scartato con il motivo, mai interpretato in un altro modo."
        ),
    )
    shared_pdf = forms.FileField(
        label=_("Allegato PDF per tutti i destinatari (facoltativo, solo Premium)"),
        required=False,
        help_text=_("Un PDF, preferibilmente PDF/A, che ogni cittadino riceve con il messaggio."),
    )
    attachments_zip = forms.FileField(
        label=_("ZIP di PDF, uno per destinatario (facoltativo, solo Premium)"),
        required=False,
        help_text=_(
            "Ogni file è abbinato alla riga che ne riporta il nome nella colonna «nome del file "
            "allegato». Le righe il cui file manca o non è valido vengono scartate."
        ),
    )

    # The attachments kept while the operator makes a choice about the recipients file
    # (keep_attachment()), and a box to leave a kept one out.
    pending_shared_pdf = forms.CharField(required=False, widget=forms.HiddenInput)
    drop_shared_pdf = forms.BooleanField(required=False, widget=forms.HiddenInput)
    pending_attachments_zip = forms.CharField(required=False, widget=forms.HiddenInput)
    drop_attachments_zip = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        templates: QuerySet[MessageTemplate],
        services: QuerySet[IOService],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates  # type: ignore[attr-defined]
        self.fields["service"].queryset = services  # type: ignore[attr-defined]

    def kept_attachment_id(self, name: str) -> str:
        """The public id of the kept file of attachment field `name` ("shared_pdf",
        "attachments_zip"), "" when none is kept or the operator chose to leave it out."""
        if self.cleaned_data.get(f"drop_{name}"):
            return ""
        return str(self.cleaned_data.get(f"pending_{name}") or "")

    def keep_attachment(self, name: str, pending: Any) -> None:
        """Say that the file `pending` (a PendingUpload) of attachment field `name` is kept:
        the next submission attaches it unless another file is selected or it is left out."""
        data = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict
        data[f"pending_{name}"] = str(pending.public_id)
        data.pop(f"drop_{name}", None)
        self.data = data
        self.fields[name].help_text = self[name].help_text = _(
            "«%(name)s» è già caricato e resta allegato: non serve selezionarlo di nuovo. "
            "Seleziona un file solo per sostituirlo."
        ) % {"name": pending.file_name}
        drop = self.fields[f"drop_{name}"]
        drop.widget = forms.CheckboxInput()
        drop.label = self[f"drop_{name}"].label = _("Non allegare «%(name)s»") % {
            "name": pending.file_name
        }

    def forget_attachment(self, name: str) -> None:
        """No file of attachment field `name` is kept any more."""
        data = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict
        data.pop(f"pending_{name}", None)
        data.pop(f"drop_{name}", None)
        self.data = data

    def clean_file(self) -> Any:
        upload = super().clean_file()
        if upload and not upload.name.lower().endswith(UPLOAD_EXTENSIONS):
            raise ValidationError(_("Carica un file .csv o .xlsx."))
        return upload

    def clean_number_format(self) -> str:
        return str(self.cleaned_data.get("number_format") or DEFAULT_NUMBER_FORMAT)

    def clean_attachments_zip(self) -> Any:
        upload = self.cleaned_data.get("attachments_zip")
        if upload and not upload.name.lower().endswith(".zip"):
            raise ValidationError(_("Carica un archivio .zip."))
        if upload and upload.size > ZIP_MAX_UPLOAD_BYTES:
            raise ValidationError(
                _("Lo ZIP supera %(size)s.") % {"size": size_text(ZIP_MAX_UPLOAD_BYTES)}
            )
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        template, service = data.get("template"), data.get("service")
        if template and service:
            check_service_for(template.feature_level, template.has_payment, service, self)
        if template and template.feature_level != FeatureLevel.ADVANCED:
            for name in ATTACHMENT_FIELDS:
                if data.get(name) or self.kept_attachment_id(name):
                    self.add_error(
                        name,
                        _(
                            "Gli allegati sono disponibili solo per i messaggi Premium: scegli "
                            "un modello Premium."
                        ),
                    )
        return data


def check_service_for(
    feature_level: str, has_payment: bool, service: IOService, form: forms.Form
) -> None:
    if feature_level == FeatureLevel.ADVANCED and not service.premium_enabled:
        form.add_error("service", _("Questo servizio non è abilitato ai messaggi Premium."))
    if has_payment and not service.payments_enabled:
        form.add_error("service", _("Questo servizio non è abilitato ai pagamenti."))


class MappingForm(forms.Form):
    """One select per target (fiscal code, each placeholder, special fields): which column."""

    def __init__(
        self,
        *args: Any,
        headers: list[str],
        template: MessageTemplate,
        saved: dict[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("— nessuna colonna —")), *((h, header_label(h)) for h in headers if h)]
        labels = special_field_labels()
        self.placeholder_targets = [str(p["name"]) for p in template.placeholders or []]
        targets = ["fiscal_code", *self.placeholder_targets] + [
            t for t in SPECIAL_FIELDS if t != "fiscal_code"
        ]
        guess = guess_mapping(
            headers,
            targets,
            placeholders=template.placeholders or [],
            has_payment=template.has_payment,
            has_due_date=template.has_due_date,
        )
        for target in targets:
            initial = saved.get(target) if saved.get(target) in headers else guess.get(target, "")
            label = (
                labels[target]
                if target in labels
                else _("Segnaposto «%(name)s»") % {"name": target}
            )
            self.fields[f"map_{target}"] = forms.ChoiceField(
                label=label, choices=choices, required=False, initial=initial
            )
        # What the template does not ask for is never guessed (`guess_mapping`): say why.
        if not template.has_payment:
            for target in (AMOUNT, NOTICE_NUMBER):
                self.fields[f"map_{target}"].help_text = _(
                    "Il modello non prevede un avviso di pagamento: scegli una colonna solo "
                    "per aggiungerlo ai messaggi."
                )
        if not template.has_due_date:
            self.fields[f"map_{DUE_DATE}"].help_text = _(
                "Il modello non prevede una scadenza: scegli una colonna solo per aggiungerla "
                "ai messaggi."
            )

    def mapping(self) -> dict[str, str]:
        return {
            name.removeprefix("map_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("map_") and value
        }

    def placeholder_fields(self) -> list[forms.BoundField]:
        return [self[f"map_{t}"] for t in self.placeholder_targets]

    def special_fields(self) -> list[forms.BoundField]:
        return [self[f"map_{t}"] for t in SPECIAL_FIELDS if t != "fiscal_code"]


class ScheduleForm(forms.Form):
    """When a list's dispatch starts and how it is spread (`ioportal.messaging.windows`).

    With `organization` and `recipients`, a deadline the daily cap, the account's rate and
    the organization's send windows cannot meet is refused, saying when the last message
    would go.
    """

    when = forms.ChoiceField(
        label=_("Quando inviare"),
        choices=[("now", _("Subito")), ("later", _("Più tardi, alla data e ora indicate"))],
        initial="now",
        widget=forms.RadioSelect,
    )
    scheduled_at = LocalDateTimeField(
        label=_("Data e ora dell'invio"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    send_by = LocalDateTimeField(
        label=_("Da inviare entro (facoltativo)"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_(
            "I messaggi si distribuiscono in parti uguali sui giorni fino a questa data (solo "
            "quelli con una finestra di invio, se l'ente ne ha impostate), così l'ufficio non "
            "riceve tutte le richieste insieme. Se l'ente non ha finestre di invio, partono "
            "solo di giorno, dalle 8 alle 20."
        ),
    )
    daily_cap = WholeNumberField(
        label=_("Al massimo, messaggi al giorno (facoltativo)"),
        required=False,
        min_value=1,
        max_value=DAILY_CAP_MAX,
        help_text=_(
            "Conta i messaggi inviati in ogni giorno di calendario, ora italiana. Se l'ente non "
            "ha finestre di invio, partono solo di giorno, dalle 8 alle 20."
        ),
        error_messages={
            "max_value": _(
                "Il massimo giornaliero può essere al più %(limit_value)s messaggi: per non "
                "porre un limite, lascia vuoto il campo."
            ),
            "min_value": _("Il massimo giornaliero deve essere almeno %(limit_value)s messaggio."),
        },
    )

    def __init__(
        self,
        *args: Any,
        organization: Any = None,
        recipients: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.recipients = recipients

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("when") != "later" and "scheduled_at" in self.errors:
            # Sending now ignores the time typed for "later", even one that is not valid.
            del self.errors["scheduled_at"]
        if data.get("when") == "later":
            when: datetime | None = data.get("scheduled_at")
            if "scheduled_at" in self.errors:
                pass  # unreadable: its own error says so, not a second one
            elif when is None:
                self.add_error("scheduled_at", _("Indica data e ora dell'invio."))
            elif when <= timezone.now():
                self.add_error("scheduled_at", _("Data e ora devono essere nel futuro."))
            elif when > timezone.now() + timedelta(days=MAX_SCHEDULE_DAYS):
                self.add_error(
                    "scheduled_at",
                    _("Si può programmare al massimo %(days)s giorni avanti.")
                    % {"days": MAX_SCHEDULE_DAYS},
                )
        else:
            data["scheduled_at"] = None
        self._clean_pacing(data)
        return data

    def _clean_pacing(self, data: dict[str, Any]) -> None:
        """The deadline's checks, shown with the other fields' errors: only a check that
        needs a value with an error of its own (the start, the daily cap) is left out."""
        send_by: datetime | None = data.get("send_by")
        if send_by is None:
            return
        if "scheduled_at" in self.errors:
            # The start is not known: the deadline can still be judged against now.
            if send_by <= timezone.now():
                self.add_error("send_by", _("La scadenza deve essere nel futuro."))
            return
        start = data.get("scheduled_at") or timezone.now()
        if send_by <= start:
            self.add_error(
                "send_by",
                _("La scadenza deve venire dopo l'inizio dell'invio (%(start)s).")
                % {"start": _when(start)},
            )
            return
        if send_by > start + timedelta(days=MAX_PACING_DAYS):
            self.add_error(
                "send_by",
                _("La scadenza può essere al massimo %(days)s giorni dopo l'inizio dell'invio.")
                % {"days": MAX_PACING_DAYS},
            )
            return
        if self.organization is None or not self.recipients or "daily_cap" in self.errors:
            return
        cap = data.get("daily_cap")
        last = shortfall(
            organization=self.organization,
            count=self.recipients,
            start=start,
            pacing=Pacing(daily_cap=cap, send_by=send_by),
        )
        if last is None:
            return
        daytime = send_conditions().schedule_for(self.organization.pk) is None
        if daytime and cap:
            reason = ngettext(
                "Con al massimo %(cap)s messaggio al giorno, il limite dell'account IO e "
                "l'invio solo di giorno (dalle 8 alle 20, l'ente non ha finestre di invio), "
                "l'ultimo messaggio (di %(n)s) partirebbe %(last)s, dopo la scadenza (%(by)s). "
                "Aumenta il massimo giornaliero o sposta la scadenza.",
                "Con al massimo %(cap)s messaggi al giorno, il limite dell'account IO e "
                "l'invio solo di giorno (dalle 8 alle 20, l'ente non ha finestre di invio), "
                "l'ultimo messaggio (di %(n)s) partirebbe %(last)s, dopo la scadenza (%(by)s). "
                "Aumenta il massimo giornaliero o sposta la scadenza.",
                cap,
            )
        elif daytime:
            reason = str(
                _(
                    "Con il limite dell'account IO e l'invio solo di giorno (dalle 8 alle 20, "
                    "l'ente non ha finestre di invio), l'ultimo messaggio (di %(n)s) partirebbe "
                    "%(last)s, dopo la scadenza (%(by)s). Sposta la scadenza."
                )
            )
        elif cap:
            reason = ngettext(
                "Con al massimo %(cap)s messaggio al giorno, il limite dell'account IO e le "
                "finestre di invio dell'ente, l'ultimo messaggio (di %(n)s) partirebbe "
                "%(last)s, dopo la scadenza (%(by)s). Aumenta il massimo giornaliero o sposta "
                "la scadenza.",
                "Con al massimo %(cap)s messaggi al giorno, il limite dell'account IO e le "
                "finestre di invio dell'ente, l'ultimo messaggio (di %(n)s) partirebbe "
                "%(last)s, dopo la scadenza (%(by)s). Aumenta il massimo giornaliero o sposta "
                "la scadenza.",
                cap,
            )
        else:
            reason = str(
                _(
                    "Con il limite dell'account IO e le finestre di invio dell'ente, l'ultimo "
                    "messaggio (di %(n)s) partirebbe %(last)s, dopo la scadenza (%(by)s). Sposta "
                    "la scadenza."
                )
            )
        self.add_error(
            "send_by",
            reason
            % {
                "cap": number_format(cap or 0, force_grouping=True),
                "n": number_format(self.recipients, force_grouping=True),
                "last": _when(last),
                "by": _when(send_by),
            },
        )


def _when(moment: datetime) -> str:
    """A moment as read in a sentence: "venerdì 11 dicembre 2026, 20:00"."""
    return describe_moment(moment)


class RejectForm(forms.Form):
    reason = LimitedCharField(
        label=_("Motivo del rifiuto"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("L'autore dell'invio lo leggerà sulla sua scrivania."),
    )


# More recipients than any list or day of sending holds: a threshold above it asks nothing.
MAX_APPROVAL_THRESHOLD = 10_000_000


class ApprovalPolicyForm(forms.Form):
    threshold = WholeNumberField(
        label=_("Approvazione per gli invii con più destinatari di"),
        min_value=0,
        max_value=MAX_APPROVAL_THRESHOLD,
        required=False,
        help_text=_("Lascia vuoto per non chiedere approvazioni in base al numero."),
    )
    always_for_premium = forms.BooleanField(
        label=_("Approvazione sempre per i messaggi Premium"), required=False
    )


# The key salt of the digest that ties a single message's confirmation to its preview.
CONFIRMATION_SALT = "ioportal.messaging.single-message-confirmation"


class SingleMessageForm(forms.Form):
    """A message to one citizen, for the front office. The text is sent as written."""

    service = forms.ModelChoiceField(label=_("Servizio IO"), queryset=IOService.objects.none())
    feature_level = forms.ChoiceField(
        label=_("Tipo di messaggio"), choices=FeatureLevel.choices, initial=FeatureLevel.STANDARD
    )
    fiscal_code = IdentifierField(
        label=_("Codice fiscale del cittadino"),
        # 16 characters once read; a longer code gets IO's own message.
        max_length=40,
    )
    subject = LimitedCharField(
        label=_("Oggetto"),
        max_length=SUBJECT_MAX,
        widget=_counted(forms.TextInput(), SUBJECT_MIN, SUBJECT_MAX),
        help_text=_("Da 10 a 120 caratteri, senza dati personali."),
    )
    markdown = forms.CharField(
        label=_("Testo"),
        strip=False,
        widget=_counted(forms.Textarea(attrs={"rows": 8}), MARKDOWN_MIN, MARKDOWN_MAX),
        help_text=_("Da 80 a 10.000 caratteri."),
    )
    due_date = forms.CharField(
        label=_("Scadenza (facoltativa)"),
        required=False,
        help_text=_("Esempio: 31/12/2026 oppure 31/12/2026 12:00."),
    )
    # In cents, read as the list import reads amounts ("1.500" is 1.500,00 euro).
    amount = EuroAmountField(
        label=_("Importo in euro (facoltativo)"),
        required=False,
        help_text=_("Con il codice avviso, il messaggio include un avviso di pagamento pagoPA."),
    )
    # Read as the list import reads it: "3020 0010 0000 0110 23", as notices print it, is one.
    notice_number = IdentifierField(label=_("Codice avviso pagoPA"), max_length=18, required=False)
    invalid_after_due_date = forms.BooleanField(
        label=_("Non pagabile dopo la scadenza"), required=False
    )
    launch_token = forms.UUIDField(widget=forms.HiddenInput)

    IO_FIELDS = {
        "fiscal_code": "fiscal_code",
        "content.subject": "subject",
        "content.markdown": "markdown",
        "content.due_date": "due_date",
        "content.payment_data.amount": "amount",
        "content.payment_data.notice_number": "notice_number",
    }

    def __init__(self, *args: Any, services: QuerySet[IOService], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("launch_token", uuid.uuid4())
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services  # type: ignore[attr-defined]

    def clean_fiscal_code(self) -> str:
        return normalize_fiscal_code(self.cleaned_data["fiscal_code"])

    def clean_markdown(self) -> str:
        """Refuse, as the template form does, CTA front matter with which the IO app shows no
        button at all or an error instead of the message (`preview.cta_check`)."""
        markdown = str(self.cleaned_data.get("markdown") or "")
        errors = cta_check(markdown).errors
        if errors:
            raise ValidationError(errors)
        return markdown

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        service: IOService | None = data.get("service")
        amount: int | None = data.get("amount")
        amount_typed = amount is not None or "amount" in self.errors
        if service:
            check_service_for(data.get("feature_level", ""), amount_typed, service, self)
        due = None
        if data.get("due_date"):
            try:
                due = parse_due_date(data["due_date"])
            except ValueProblem as problem:
                self.add_error("due_date", reason_text(column_problem(problem)))
            else:
                if due < timezone.now():
                    self.add_error("due_date", _("La data di scadenza è già passata."))
        if amount_typed:
            if not data.get("notice_number") and "notice_number" not in self.errors:
                self.add_error("notice_number", _("Indica il codice avviso per l'importo."))
        elif data.get("notice_number"):
            self.add_error("amount", _("Indica l'importo dell'avviso."))
        if data.get("invalid_after_due_date") and due is None:
            self.add_error("due_date", _("Un avviso non pagabile dopo la scadenza la richiede."))
        data["due"] = due
        data["amount_cents"] = amount
        self._add_io_errors(data, due, amount, service)
        return data

    # A notice number of the right form, for checking an amount given without one.
    STAND_IN_NOTICE_NUMBER = "0" * 18

    def _add_io_errors(
        self, data: dict[str, Any], due: Any, amount: int | None, service: IOService | None
    ) -> None:
        """IO's own rules (fiscal code, lengths, notice number, amount range), checked with the
        other errors so that the page shows every problem at once: a field with an error of
        its own is not judged again. Without an amount that could be read, the notice number
        is still checked (with a stand-in amount whose own problems are not reported), and
        without a notice number the amount still is (with a stand-in notice number: the missing
        one has its own error)."""
        notice = data.get("notice_number", "")
        message = io_message(
            fiscal_code=data.get("fiscal_code", ""),
            subject=data.get("subject", ""),
            markdown=data.get("markdown", ""),
            feature_level=data.get("feature_level", ""),
            due_date=due,
            amount=amount if amount is not None or not notice else 1,
            notice_number=notice or (self.STAND_IN_NOTICE_NUMBER if amount is not None else ""),
            invalid_after_due_date=bool(data.get("invalid_after_due_date")),
        )
        maximum = service.effective_max_payment_amount if service else None
        for io_problem in validate_new_message(message, max_allowed_payment_amount=maximum):
            field = self.IO_FIELDS.get(io_problem.field)
            if field in self.errors or (field == "amount" and amount is None):
                continue
            self.add_error(field, field_error_text(io_problem))

    def confirmation_digest(self, *, organization_id: int, user_id: int) -> str:
        """A keyed digest of the validated message, its launch token, organization and
        operator: the confirmation page carries it with the fields as hidden inputs, so the
        message confirmed is the one its preview showed (a field changed on the way, or a
        page of another organization or operator, no longer matches). No side effects; call
        after `is_valid()`."""
        data = self.cleaned_data
        due = data.get("due")
        content = {
            "organization": organization_id,
            "user": user_id,
            "service": data["service"].pk,
            "feature_level": data["feature_level"],
            "fiscal_code": data["fiscal_code"],
            "subject": data["subject"],
            # Browsers send a text's line breaks as CRLF, a page's hidden input may hold LF.
            "markdown": data["markdown"].replace("\r\n", "\n"),
            "due": due.isoformat() if due else None,
            "amount": data.get("amount_cents"),
            "notice_number": data.get("notice_number") or "",
            "invalid_after_due_date": bool(data.get("invalid_after_due_date")),
            "launch_token": str(data["launch_token"]),
        }
        return salted_hmac(
            CONFIRMATION_SALT, json.dumps(content, sort_keys=True), algorithm="sha256"
        ).hexdigest()

    def confirmation_matches(self, digest: str, *, organization_id: int, user_id: int) -> bool:
        """Whether `digest` (from the confirmation page) is this message's."""
        expected = self.confirmation_digest(organization_id=organization_id, user_id=user_id)
        return constant_time_compare(expected, digest)


def euro(cents: int) -> Decimal:
    return Decimal(cents) / 100


class CriterionField(forms.ChoiceField):
    """The criteria offered; a criterion not offered for this dispatch is refused with the
    reason why (`unavailable`: value -> Italian text), any other value as not valid."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.unavailable: dict[str, str] = {}

    def validate(self, value: Any) -> None:
        if value in self.unavailable:
            raise ValidationError(self.unavailable[value], code="unavailable")
        super().validate(value)


class FollowUpForm(forms.Form):
    """Who gets a follow-up of a dispatch (`messaging.followups.audience`), and with which
    template and service."""

    criterion = CriterionField(label=_("A chi inviare il sollecito"), widget=forms.RadioSelect)
    days = WholeNumberField(
        label=_("Giorni dall'invio senza lettura"),
        min_value=1,
        max_value=3650,
        initial=7,
        required=False,
        help_text=_(
            "Solo per «non hanno letto»: giorni trascorsi da quando IO ha accettato il messaggio."
        ),
    )
    paid_by = DayField(
        label=_("Non pagato entro il giorno"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Solo per «non hanno pagato»: oggi o un giorno passato."),
    )
    template = forms.ModelChoiceField(label=_("Modello"), queryset=MessageTemplate.objects.none())
    service = forms.ModelChoiceField(label=_("Servizio IO"), queryset=IOService.objects.none())

    def __init__(
        self,
        *args: Any,
        criteria: list[tuple[str, Any]],
        templates: QuerySet[MessageTemplate],
        services: QuerySet[IOService],
        unavailable: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        criterion = cast(CriterionField, self.fields["criterion"])
        criterion.choices = criteria
        criterion.unavailable = unavailable or {}
        self.fields["template"].queryset = templates  # type: ignore[attr-defined]
        self.fields["service"].queryset = services  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        criterion = data.get("criterion")
        if criterion == "not_read" and data.get("days") is None and "days" not in self.errors:
            self.add_error("days", _("Indica dopo quanti giorni."))
        if criterion == "not_paid":
            paid_by = data.get("paid_by")
            if paid_by is None and "paid_by" not in self.errors:
                self.add_error("paid_by", _("Indica il giorno."))
            elif paid_by is not None and paid_by > timezone.localdate():
                self.add_error(
                    "paid_by", _("Il giorno non può essere nel futuro: il pagamento non è noto.")
                )
        return data
