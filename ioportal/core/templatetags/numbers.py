"""`{{ n|grouped }}`: a count written with the thousands separator of the page's language
(core.numbers.grouped). A builtin of the template engine (settings.TEMPLATES)."""

from typing import Any

from django import template

from ioportal.core.numbers import grouped as grouped_number

register = template.Library()


@register.filter
def grouped(value: Any) -> str:
    return grouped_number(value)
