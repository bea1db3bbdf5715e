"""`{% scrollable_table label=caption %}<table>…</table>{% endscrollable_table %}`: the one
wrapper of a table that may be wider than the page. Bootstrap's `.table-responsive` scrolls
sideways; a region that scrolls must be reachable from the keyboard and named (WCAG 2.1.1,
axe's scrollable-region-focusable), so the wrapper is focusable (`tabindex="0"`), a
`region`, and named by `label` (the table's caption, as text) or `labelledby` (the id of
the heading or caption that names it). A builtin of the template engine
(settings.TEMPLATES)."""

from typing import Any

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.utils.html import format_html

register = template.Library()


class ScrollableTableNode(template.Node):
    def __init__(self, nodelist: NodeList, name: tuple[str, FilterExpression]) -> None:
        self.nodelist = nodelist
        self.attribute, self.value = name

    def render(self, context: Any) -> str:
        name = self.value.resolve(context)
        if not name:
            raise template.TemplateSyntaxError("scrollable_table: the table needs a name")
        return format_html(
            '<div class="table-responsive" tabindex="0" role="region" {}="{}">{}</div>',
            self.attribute,
            name,
            self.nodelist.render(context),
        )


@register.tag
def scrollable_table(parser: Parser, token: Token) -> ScrollableTableNode:
    bits = token.split_contents()[1:]
    kwargs = template.base.token_kwargs(bits, parser)
    if bits or len(kwargs) != 1 or not set(kwargs) <= {"label", "labelledby"}:
        raise template.TemplateSyntaxError(
            "scrollable_table takes one argument: label=<text> or labelledby=<id>"
        )
    ((key, value),) = kwargs.items()
    nodelist = parser.parse(("endscrollable_table",))
    parser.delete_first_token()
    return ScrollableTableNode(nodelist, (f"aria-{key}", value))
