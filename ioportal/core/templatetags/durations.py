"""`{{ value|duration }}`: a timedelta or a number of seconds in words of the page's language
(core.durations.duration_words). A builtin of the template engine (settings.TEMPLATES)."""

from typing import Any

from django import template

from ioportal.core.durations import duration_words

register = template.Library()


@register.filter
def duration(value: Any) -> str:
    if isinstance(value, str):
        return value
    return duration_words(value)
