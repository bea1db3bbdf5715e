"""What IO's answers mean, in the operator's language: the IO client's Italian texts
(ioportal.ioapi.messages_it, Django-free) translated through gettext.

Every portal page, form and stored outcome that tells an IO problem goes through here, so the
English catalog has one entry per text. The pipeline's own outcomes (ioportal.sending.outcomes)
reuse these texts where they mean the same thing.
"""

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext

from ioportal.core.numbers import euro_amount, grouped
from ioportal.ioapi import FieldError, IOApiError, PayloadInvalidError
from ioportal.ioapi.messages_it import EURO_PARAMS, explain_error


def io_text(template: str, params: Mapping[str, Any] | None = None) -> str:
    """`template` (a text of ioapi.messages_it) translated, then filled with `params`, the
    numbers written the reader's way ("da 80 a 10.000 caratteri"), amounts in cents
    (messages_it.EURO_PARAMS) as euro ("1.234,56 €", in English "1,234.56 €")."""
    amounts = EURO_PARAMS.get(template, frozenset())
    shown = {name: _shown(value, euro=name in amounts) for name, value in (params or {}).items()}
    return gettext(template).format(**shown)


def _shown(value: Any, *, euro: bool) -> Any:
    if not isinstance(value, int) or isinstance(value, bool):
        return value  # a text, or a value stored already written (older stored outcomes)
    return f"{euro_amount(value)} €" if euro else grouped(value)


def field_error_text(error: FieldError) -> str:
    """One problem of IO's payload validation, translated."""
    if not error.template:
        return error.message
    return io_text(error.template, dict(error.params))


def describe_io_error(error: IOApiError) -> str:
    """A sentence an office operator understands for any error raised by the IO client."""
    if isinstance(error, PayloadInvalidError):
        return " ".join(field_error_text(e) for e in error.errors)
    template, params = explain_error(error)
    return io_text(template, params)
