"""The form fields every upload of a list shares: the choices about the file's structure
(separator, sheet, hidden rows) that `recipients.parsing` asks for when a file needs them."""

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ioportal.core.io_texts import Part, reason_text
from ioportal.recipients.parsing import (
    CSV_DELIMITERS,
    HiddenRows,
    ImportChoiceNeeded,
    ReadOptions,
    delimiter_label,
    hidden_rows_choices,
)
from ioportal.recipients.services import (
    pending_upload_get,
    pending_upload_read,
    pending_upload_store,
)


class FileStructureForm(forms.Form):
    """Base of the upload forms: the separator, the sheet and the hidden rows. A subclass
    names its own fields' order in `field_order` and may say what the sheet holds."""

    sheet_label = _("Foglio con i destinatari")
    # What the file's rows are, in the questions about it ("scegli quello con i destinatari").
    holds = _("i destinatari")
    # The label of the button that sends the form: the page shows it, and the questions about
    # the file's structure name it (offer()).
    submit_label = _("Carica e prosegui")

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
        # The question offer() asks about the file, "" when none: the page shows it as a
        # question, not as an upload error.
        self.question = ""
        # The label of the field the question is under (the page's notice points to it).
        self.question_label = ""
        # What reading the file found that the operator must know while answering
        # (`ParsedTable.warnings`: repeated and look-alike column names, hidden columns...),
        # in the reader's language.
        self.file_warnings: list[str] = []
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

    def offer(self, needed: ImportChoiceNeeded, warnings: Sequence[Part] = ()) -> None:
        """Show the choice the file needs (a sheet, hidden rows, a separator, or a field of
        the subclass such as a column) with its reason as the field's error, and the file's
        `warnings` when it could be read (`ParsedTable.warnings`); the operator picks and
        sends the form again. A text field is offered as a list of `needed.choices`."""
        field = self.fields[needed.field]
        if needed.field == "hidden_rows":
            field.choices = needed.choices  # type: ignore[attr-defined]
            field.widget = forms.RadioSelect(choices=needed.choices)
        elif needed.choices and not isinstance(field, forms.ChoiceField):
            field.widget = forms.Select(choices=[("", "—"), *needed.choices])
        self.file_warnings = [reason_text(warning) for warning in warnings]
        self.question = needed.text(str(self.submit_label), str(self.holds))
        self.question_label = str(field.label or "")
        self.add_error(needed.field, self.question)

    def has_upload_errors(self) -> bool:
        """Whether the form has errors besides the question about the file (offer()): only
        those mean the upload failed."""
        return any(
            str(error) != self.question for errors in self.errors.values() for error in errors
        )


class KeptFileForm(FileStructureForm):
    """An upload form whose file is kept (`recipients.models.PendingUpload`) while the operator
    answers a question about it: the next submission reads the kept file unless another one
    is selected. A subclass declares `file` as a FileField with required=False."""

    missing_file_message = _("Seleziona il file.")

    # The public id of the file kept while the operator makes a choice (keep_file()).
    pending_file = forms.CharField(required=False, widget=forms.HiddenInput)

    def submitted_file(self, *, organization: Any, actor: Any) -> tuple[str, bytes, Any] | None:
        """(file name, content, kept PendingUpload or None) of a valid submission: the file
        selected now, else the one kept for a question. None, with the reason on the form,
        when the kept file has expired."""
        upload = self.cleaned_data["file"]
        pending = None
        if self.cleaned_data.get("pending_file"):
            pending = pending_upload_get(
                organization=organization, actor=actor, public_id=self.cleaned_data["pending_file"]
            )
        if upload:
            return upload.name, upload.read(), pending
        if pending is not None:
            return pending.file_name, pending_upload_read(pending), pending
        self.add_error(
            "file",
            _("Il file caricato prima non è più disponibile (è scaduto): selezionalo di nuovo."),
        )
        return None

    def keep_for_question(
        self, *, organization: Any, actor: Any, file_name: str, data: bytes, pending: Any
    ) -> Any:
        """Keep the file read by this submission for the answer to a question (a file selected
        now replaces the kept one) and say so on the form. Returns the PendingUpload.
        Raises ImportFileError over RECIPIENTS_MAX_UPLOAD_MB (`pending_upload_store`)."""
        if self.cleaned_data["file"] or pending is None:
            pending = pending_upload_store(
                organization=organization,
                actor=actor,
                file_name=file_name,
                data=data,
                replaces=pending,
            )
        self.keep_file(pending)
        return pending

    def keep_file(self, pending: Any) -> None:
        """Say that the file `pending` (a PendingUpload) is kept for the next submission."""
        data = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict
        data["pending_file"] = str(pending.public_id)
        self.data = data
        self.fields["file"].help_text = self["file"].help_text = _(
            "Il file «%(name)s» è già caricato: fai la scelta richiesta e premi «%(button)s», "
            "senza selezionarlo di nuovo. Seleziona un file solo per sostituirlo."
        ) % {"name": pending.file_name, "button": self.submit_label}

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload:
            if not self.data.get("pending_file"):
                raise ValidationError(self.missing_file_message)
            return None
        return upload
