"""Form fields shared by the apps.

`WholeNumberField` is the one integer field of the portal's forms. Django's IntegerField
drops a trailing ".000" as decimals (its `re_decimal`), so an Italian who types "1.000" — the
way the portal itself prints a thousand — saves 1. This field reads the active language's
thousands separator ("1.000" in Italian, "1,000" in English) and spaces ("1 000") as
thousands, and refuses everything else that is not plain digits ("1,5", "1.5", "1.00",
"1.000,00") with a message: a number a person types is never silently read as another one.

ModelForms get it for their integer model fields by declaring
`formfield_callback = portal_formfield` in their Meta (tests/core/test_whole_numbers.py
checks every form of the portal).
"""

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.formats import get_format
from django.utils.translation import gettext_lazy as _

from ioportal.core.numbers import grouped

# Spaces a person (or a copied spreadsheet cell) may put between groups of three digits.
_SPACES = " \u00a0\u202f\u2009"

INVALID = _("Scrivi un numero intero, senza decimali: per esempio %(plain)s oppure %(grouped)s.")
NOT_ASCII = _("Scrivi il numero con le cifre da 0 a 9.")
TOO_LARGE = _("Il numero ha troppe cifre.")
# More digits than any whole number the portal stores (a bigint has 19): such a number is
# refused as out of range before Python converts it (which refuses more than 4,300 digits).
MAX_DIGITS = 30


class TooManyDigits(ValueError):
    """A whole number with more than MAX_DIGITS digits; `negative` tells its sign."""

    def __init__(self, negative: bool) -> None:
        super().__init__("too many digits")
        self.negative = negative


def _grouping_pattern(separator: str) -> re.Pattern[str]:
    separators = re.escape(separator) + "|" + "|".join(re.escape(s) for s in _SPACES)
    return re.compile(
        rf"^(?P<sign>[+-]?)(?P<head>[0-9]{{1,3}})(?P<tail>(?:(?:{separators})[0-9]{{3}})+)$"
    )


def parse_whole_number(text: str) -> int | None:
    """The integer `text` writes in the active language, or None if it is not one.

    Plain digits, or digits grouped by three with the language's thousands separator or a
    space. A decimal separator, a group of other than three digits or any other character
    makes it None (ambiguous, never guessed); only the digits 0-9 are digits. Raises
    TooManyDigits for more than MAX_DIGITS digits."""
    text = text.strip()
    if re.fullmatch(r"[+-]?[0-9]+", text):
        return _to_int(text[:1] if text[:1] in "+-" else "", text.lstrip("+-"))
    separator = str(get_format("THOUSAND_SEPARATOR"))
    match = _grouping_pattern(separator).match(text)
    if match is None:
        return None
    return _to_int(match["sign"], match["head"] + re.sub(r"[^0-9]", "", match["tail"]))


def _to_int(sign: str, digits: str) -> int:
    if len(digits.lstrip("0")) > MAX_DIGITS:
        raise TooManyDigits(negative=sign == "-")
    return int(sign + digits)


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
            number = parse_whole_number(text)
        except TooManyDigits as too_many:
            raise self._out_of_range(too_many.negative) from too_many
        if number is None and _other_digits(text):
            raise ValidationError(NOT_ASCII, code="invalid")
        if number is None:
            raise ValidationError(
                self.error_messages["invalid"],
                code="invalid",
                params={"plain": "1000", "grouped": grouped(1000)},
            )
        return number

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


def _other_digits(text: str) -> bool:
    """Whether `text` has digits other than 0-9 ("١٢", "１０"), which Python reads as numbers."""
    return not text.isascii() and any(ch.isdigit() for ch in text)


class EuroDecimalField(forms.DecimalField):
    """A DecimalField that reads only the digits 0-9: Django's (Python's Decimal) would read
    "١٢" or "１٠" as 12 or 10."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and _other_digits(value):
            raise ValidationError(NOT_ASCII, code="invalid")
        return super().to_python(value)


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
