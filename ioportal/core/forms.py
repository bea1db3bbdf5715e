"""Form fields shared by the apps.

`WholeNumberField` is the one integer field of the portal's forms. Django's IntegerField
drops a trailing ".000" as decimals (its `re_decimal`), so an Italian who types "1.000" — the
way the portal itself prints a thousand — saves 1. This field reads the active language's
thousands separator ("1.000" in Italian, "1,000" in English) and spaces ("1 000") as
thousands, and refuses everything else that is not plain digits ("1,5", "1.5", "1.00",
"1.000,00") with a message: a number a person types is never silently read as another one.

ModelForms get it for their integer model fields by declaring
`formfield_callback = whole_number_formfield` in their Meta (tests/core/test_whole_numbers.py
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


def _grouping_pattern(separator: str) -> re.Pattern[str]:
    separators = re.escape(separator) + "|" + "|".join(re.escape(s) for s in _SPACES)
    return re.compile(
        rf"^(?P<sign>[+-]?)(?P<head>\d{{1,3}})(?P<tail>(?:(?:{separators})\d{{3}})+)$"
    )


def parse_whole_number(text: str) -> int | None:
    """The integer `text` writes in the active language, or None if it is not one.

    Plain digits, or digits grouped by three with the language's thousands separator or a
    space. A decimal separator, a group of other than three digits or any other character
    makes it None (ambiguous, never guessed)."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    separator = str(get_format("THOUSAND_SEPARATOR"))
    match = _grouping_pattern(separator).match(text)
    if match is None:
        return None
    digits = match["head"] + re.sub(r"\D", "", match["tail"])
    return int(match["sign"] + digits)


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
        number = parse_whole_number(str(value))
        if number is None:
            raise ValidationError(
                self.error_messages["invalid"],
                code="invalid",
                params={"plain": "1000", "grouped": grouped(1000)},
            )
        return number

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


def whole_number_formfield(model_field: "models.Field[Any, Any]", **kwargs: Any) -> Any:
    """`formfield_callback` of the portal's ModelForms: integer model fields without choices
    become WholeNumberField, the others keep their default form field."""
    if isinstance(model_field, models.IntegerField) and not model_field.choices:
        kwargs.setdefault("form_class", WholeNumberField)
    return model_field.formfield(**kwargs)
