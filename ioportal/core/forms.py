"""Form fields shared by the apps.

Numbers, amounts and identifiers typed in a form are read by the list import's reader
(`ioportal.core.reading`), in the page's convention (`form_number_format`: Italian "1.000",
"1.234,56"; English "1,000", "1,234.56"), so a value means the same in a form and in a file.

`WholeNumberField` is the one integer field of the portal's forms. Django's IntegerField
drops a trailing ".000" as decimals (its `re_decimal`), so an Italian who types "1.000" — the
way the portal itself prints a thousand — saves 1. This field reads thousands (with the
convention's separator or spaces, "1 000") and refuses everything else that is not plain
digits ("1,5", "1.5", "1.00", "1.000,00", "1,000") with a message: a number a person types is
never silently read as another one (`reading.read_typed_integer`).

`EuroAmountField` is the one amount field: "1.500" is 1.500,00 euro, "1.500,5" 1.500,50,
"1,000.00" is refused with the reason (`reading.read_typed_euro_cents`); its value is in cents.

`IdentifierField` is the one field for identifiers typed or pasted by hand (fiscal codes,
notice numbers, service ids): spaces of every kind and invisible characters are removed
(`reading.clean_identifier`, what the import does), and the value shown back is that one.

ModelForms get them for their model fields by declaring `formfield_callback = portal_formfield`
in their Meta (tests/core/test_whole_numbers.py checks every form of the portal).
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from ioportal.core.numbers import grouped
from ioportal.core.reading import (
    OtherDigits,
    TooLarge,
    ValueProblem,
    clean_identifier,
    form_number_format,
    format_typed_cents,
    read_typed_euro_cents,
    read_typed_integer,
    reason_sentence,
)

INVALID = _("Scrivi un numero intero, senza decimali: per esempio %(plain)s oppure %(grouped)s.")
NOT_ASCII = _("Scrivi il numero con le cifre da 0 a 9.")
TOO_LARGE = _("Il numero ha troppe cifre.")


class TooManyDigits(ValueError):
    """A whole number with more digits than any the portal stores; `negative` tells its sign."""

    def __init__(self, negative: bool) -> None:
        super().__init__("too many digits")
        self.negative = negative


def parse_whole_number(text: str) -> int | None:
    """The integer `text` writes in the page's convention (`reading.read_typed_integer`), or
    None if it is not one: plain digits, or digits grouped by three with the convention's
    thousands separator or a space. Decimals, a group of other than three digits or any other
    character make it None (ambiguous, never guessed). Raises TooManyDigits for more than 15
    digits."""
    try:
        return read_typed_integer(text, form_number_format())
    except TooLarge as too_large:
        raise TooManyDigits(negative=text.strip().startswith("-")) from too_large
    except ValueProblem:
        return None


class WholeNumberField(forms.IntegerField):
    """An integer typed by a person; see the module docstring.

    Rendered as a text input with a numeric keyboard: a `type=number` input would hand the
    server "1.000" from some browsers and drop "1 000" in others."""

    widget = forms.TextInput
    default_error_messages = {"invalid": INVALID}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.widget.attrs.setdefault("inputmode", "numeric")

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value)
        try:
            return read_typed_integer(text, form_number_format())
        except TooLarge as too_large:
            raise self._out_of_range(text.strip().startswith("-")) from too_large
        except OtherDigits as other_digits:
            raise ValidationError(NOT_ASCII, code="invalid") from other_digits
        except ValueProblem as problem:
            raise ValidationError(
                self.error_messages["invalid"],
                code="invalid",
                params={"plain": "1000", "grouped": grouped(1000)},
            ) from problem

    def _out_of_range(self, negative: bool) -> ValidationError:
        """The field's own range message (its validators, run on the number just past its
        limit) for a number of too many digits to convert."""
        limit = self.min_value if negative else self.max_value
        if callable(limit):
            limit = limit()
        if limit is not None:
            try:
                self.run_validators(limit - 1 if negative else limit + 1)
            except ValidationError as error:
                return error
        return ValidationError(TOO_LARGE, code="min_value" if negative else "max_value")

    def run_validators(self, value: Any) -> None:
        """Django's range messages with the limit written the Italian way ("minore o uguale
        a 10.000.000"), not as a raw integer."""
        try:
            super().run_validators(value)
        except ValidationError as error:
            for problem in error.error_list:
                if problem.params and "limit_value" in problem.params:
                    problem.params = {
                        **problem.params,
                        "limit_value": grouped(problem.params["limit_value"]),
                        "show_value": grouped(problem.params.get("show_value")),
                    }
            raise

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        if not isinstance(widget, forms.NumberInput):
            # min/max/step mean nothing to a text input; the field validates the range.
            for key in ("min", "max", "step"):
                attrs.pop(key, None)
        return attrs


def portal_formfield(model_field: "models.Field[Any, Any]", **kwargs: Any) -> Any:
    """`formfield_callback` of the portal's ModelForms: integer model fields without choices
    become WholeNumberField; text fields with a maximum length (CharField, TextField,
    EmailField) become LimitedCharField or LimitedEmailField; the others keep their default
    form field."""
    if not model_field.choices:
        if isinstance(model_field, models.IntegerField):
            kwargs.setdefault("form_class", WholeNumberField)
        elif isinstance(model_field, models.EmailField):
            kwargs.setdefault("form_class", LimitedEmailField)
        elif type(model_field) in (models.CharField, models.TextField):
            kwargs.setdefault("form_class", LimitedCharField)
    return model_field.formfield(**kwargs)


AMOUNT_MAX = _("L'importo può essere al massimo %(limit)s euro.")
AMOUNT_MIN = _("L'importo deve essere almeno %(limit)s euro.")


class EuroAmountField(forms.CharField):
    """An amount in euro typed in a form, read as the list import reads it
    (`reading.read_typed_euro_cents`); its value is in cents (int). `min_cents`/`max_cents`
    bound it, with messages that write the bound in euro ("99.999.999,99"); `error_messages`
    "min_value"/"max_value" replace them (with %(limit)s). A refused text gets the reader's
    reason as a sentence ("Non è un importo in euro: è scritto nel formato inglese…")."""

    def __init__(
        self, *, min_cents: int | None = None, max_cents: int | None = None, **kwargs: Any
    ) -> None:
        self.min_cents, self.max_cents = min_cents, max_cents
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return format_typed_cents(value, form_number_format())
        return value

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = super().to_python(value)
        if not text:
            return None
        try:
            return read_typed_euro_cents(text, form_number_format())
        except ValueProblem as problem:
            raise ValidationError(reason_sentence(problem), code="invalid") from problem

    def run_validators(self, value: Any) -> None:
        if value is None:
            return
        for code, limit, out in (
            ("min_value", self.min_cents, lambda v, lim: v < lim),
            ("max_value", self.max_cents, lambda v, lim: v > lim),
        ):
            if limit is not None and out(value, limit):
                message = self.error_messages.get(code) or (
                    AMOUNT_MIN if code == "min_value" else AMOUNT_MAX
                )
                raise ValidationError(
                    message,
                    code=code,
                    params={"limit": format_typed_cents(limit, form_number_format())},
                )
        super().run_validators(value)


LENGTH = _("Scrivi al massimo %(limit)s caratteri (ora sono %(length)s).")


class LimitedCharField(forms.CharField):
    """A CharField whose too-long message says the limit and the length in Italian, numbers
    grouped ("ora sono 100.000"), instead of Django's ungrouped one ("Assicurati che questo
    valore contenga al massimo…"). Every text field of the portal's forms with a max_length
    is one (tests/core/test_text_lengths.py)."""

    def run_validators(self, value: Any) -> None:
        if self.max_length is not None and value not in self.empty_values:
            length = len(value)
            if length > self.max_length:
                raise ValidationError(
                    LENGTH,
                    code="max_length",
                    params={"limit": grouped(self.max_length), "length": grouped(length)},
                )
        super().run_validators(value)


class IdentifierField(LimitedCharField):
    """An identifier typed or pasted by hand (fiscal code, notice number, service id): spaces
    of every kind and invisible characters removed anywhere (`reading.clean_identifier`, as
    the list import reads them; "3020 0010 0000 0110 23" is 302000100000011023), the value
    shown back is that one, and `max_length` is its length once cleaned, with the portal's
    message. The input itself is not cut by the browser: a notice printed in groups is
    longer than its digits."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        return clean_identifier(text) if text else ""

    def bound_data(self, data: Any, initial: Any) -> Any:
        # A page shown again (another field has an error) shows the identifier as read.
        return clean_identifier(data) if isinstance(data, str) else data

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        attrs.setdefault("spellcheck", "false")
        attrs.setdefault("autocomplete", "off")
        return attrs


class LimitedEmailField(LimitedCharField, forms.EmailField):
    """An EmailField (at most 320 characters by default) with LimitedCharField's message."""


NO_SUCH_TIME = _(
    "Le %(time)s del %(date)s non esistono o sono ambigue in Italia per il cambio dell'ora "
    "legale: indica un altro orario."
)


class LocalDateTimeField(forms.DateTimeField):
    """A DateTimeField in the portal's time zone whose message for a time the clock change
    skips (28/03/2027 02:30) or repeats is an Italian sentence, not Django's ISO one."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except ValidationError as error:
            moment = (error.params or {}).get("datetime") if hasattr(error, "code") else None
            if getattr(error, "code", None) != "ambiguous_timezone" or moment is None:
                raise
            raise ValidationError(
                NO_SUCH_TIME,
                code="ambiguous_timezone",
                params={"date": moment.strftime("%d/%m/%Y"), "time": moment.strftime("%H:%M")},
            ) from error


# Italian format first (gg/mm/aaaa); ISO (aaaa-mm-gg) too: what a date picker sends and what
# links made before carry.
DAY_INPUT_FORMATS = ["%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d"]
NO_SUCH_DAY = _("Inserisci una data esistente nel formato gg/mm/aaaa, per esempio 31/01/2026.")


class DayField(forms.DateField):
    """The one date field of the portal's forms: gg/mm/aaaa (or ISO), and the same message
    for every date that cannot be read or does not exist (31/02/2026), on every page."""

    default_error_messages = {"invalid": NO_SUCH_DAY}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", DAY_INPUT_FORMATS)
        super().__init__(**kwargs)
