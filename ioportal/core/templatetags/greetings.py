"""`{% salutation %}`: "Buongiorno," or "Buonasera," by the Italian clock
(core.greetings), for the e-mails that greet."""

from django import template

from ioportal.core.greetings import salutation as salutation_now

register = template.Library()


@register.simple_tag
def salutation() -> str:
    return salutation_now()
