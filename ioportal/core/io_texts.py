"""What IO's answers mean, in the operator's language: the IO client's Italian texts
(ioportal.ioapi.messages_it, Django-free) translated through gettext.

Every portal page, form and stored outcome that tells an IO problem goes through here, so the
English catalog has one entry per text. The pipeline's own outcomes (ioportal.sending.outcomes)
reuse these texts where they mean the same thing.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.utils.translation import gettext, ngettext, npgettext, pgettext

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


# A sentence stored to be translated when shown, so that each reader sees it in their
# language (ServiceCheck.message_parts, ReachabilityRow.detail_parts,
# Delivery.last_error_parts): {"text": Italian msgid, "params": {...}} filled with
# %-placeholders, {"io": ioapi.messages_it template, "params": {...}} filled by `io_text`, or
# {"raw": text} shown as it is (an exception's technical message). A "text" part may carry
# a plural form ({"plural": msgid_plural, "count": n}, `said_n`), and a param may itself be a
# part (a reason inside a sentence), translated too; whole numbers are written the reader's
# way ("1.234", "1,234"). {"context": msgctxt} translates with pgettext; {"sentence": true}
# makes the text one sentence: first letter capital, one final full stop (a reason built from
# a predicate, "non è un numero" → "Non è un numero."). A stored text written
# before these parts existed is kept as {"text": old text}: translated when it is one of the
# catalog's sentences, shown as written otherwise.
Part = dict[str, Any]


def said(text: str, /, **params: Any) -> Part:
    """A portal sentence to translate when shown: `text` an Italian msgid (mark it with
    gettext_noop), `params` the values of its %(name)s placeholders (JSON values)."""
    return {"text": text, "params": params} if params else {"text": text}


def said_n(singular: str, plural: str, count: int, /, **params: Any) -> Part:
    """As `said`, for a sentence with a plural (ngettext's `singular`, `plural`, `count`)."""
    return {"text": singular, "plural": plural, "count": count, "params": params}


def reason_text(reason: Part | str) -> str:
    """One stored reason in the active language: a part (see Part), or a text stored before
    parts existed (translated when it is a msgid of the catalog, as written otherwise)."""
    return parts_text(reason if isinstance(reason, str) else [reason])


def as_is(text: str) -> Part:
    """A text shown untranslated (an exception's technical message); "" gives no part."""
    return {"raw": text}


def io_error_parts(error: IOApiError) -> list[Part]:
    """An IO client error as ioapi.messages_it templates with their params, translated when
    shown (`parts_text`): the stored form of `describe_io_error`."""
    if isinstance(error, PayloadInvalidError):
        return field_error_parts(error.errors)
    template, params = explain_error(error)
    return [{"io": template, "params": dict(params)}]


def field_error_parts(errors: Iterable[FieldError]) -> list[Part]:
    """IO's payload problems as parts (the stored form of `field_error_text`)."""
    return [
        {"io": e.template, "params": dict(e.params)} if e.template else {"raw": e.message}
        for e in errors
    ]


def parts_text(
    parts: Iterable[Part] | str | None,
    adjust: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> str:
    """`parts` (see Part) as one text in the active language, sentences joined by a space;
    `adjust` may rewrite each part's params first (a code to its label). A plain string (a
    text stored before parts existed) is translated when it is a msgid of the catalog."""
    if not parts:
        return ""
    if isinstance(parts, str):
        return gettext(parts)
    sentences = []
    for part in parts:
        params = dict(part.get("params") or {})
        if adjust is not None:
            params = adjust(params)
        if "io" in part:
            sentences.append(io_text(part["io"], params))
        elif "raw" in part:
            sentences.append(str(part["raw"]))
        else:
            sentences.append(_text_part(part, params))
    return " ".join(sentence for sentence in sentences if sentence)


def _param(value: Any) -> Any:
    """A "text" part's param as shown: a nested part translated, a whole number grouped."""
    if isinstance(value, dict) and value.keys() & {"text", "io", "raw"}:
        return parts_text([value])
    return _shown(value, euro=False)


def _text_part(part: Part, params: dict[str, Any]) -> str:
    """A "text" part in the active language (see Part)."""
    msgid, context = part.get("text", ""), part.get("context")
    if "plural" in part:
        count = part.get("count", 0)
        if context:
            text = npgettext(context, msgid, part["plural"], count)
        else:
            text = ngettext(msgid, part["plural"], count)
    else:
        text = pgettext(context, msgid) if context else gettext(msgid)
    if params:
        text = text % {name: _param(value) for name, value in params.items()}
    if part.get("sentence"):
        text = text.rstrip().rstrip(".")
        text = f"{text[:1].upper()}{text[1:]}."
    return text
