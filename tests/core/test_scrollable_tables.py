"""A table wider than the page scrolls sideways in its wrapper: the wrapper can be reached
from the keyboard and is named (WCAG 2.1.1, axe's scrollable-region-focusable), on every
page, because every template wraps its tables with `{% scrollable_table %}`."""

import re
from pathlib import Path

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client
from django.urls import reverse

from tests.conftest import verified_login

ROOT = Path(__file__).resolve().parent.parent.parent


def test_no_template_writes_its_own_table_wrapper() -> None:
    offending = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*.html")
        if "table-responsive" in path.read_text()
    ]
    assert not offending, offending


def test_the_wrapper_is_focusable_and_named() -> None:
    html = Template(
        '{% scrollable_table label=_("Eventi") %}<table></table>{% endscrollable_table %}'
        '{% scrollable_table labelledby="t" %}<table></table>{% endscrollable_table %}'
    ).render(Context())
    assert html == (
        '<div class="table-responsive" tabindex="0" role="region" aria-label="Eventi">'
        "<table></table></div>"
        '<div class="table-responsive" tabindex="0" role="region" aria-labelledby="t">'
        "<table></table></div>"
    )


def test_a_wrapper_without_a_name_is_refused() -> None:
    with pytest.raises(TemplateSyntaxError):
        Template("{% scrollable_table %}<table></table>{% endscrollable_table %}")


def test_the_activity_log_s_table_scrolls_from_the_keyboard(admin_user) -> None:
    page = verified_login(Client(), admin_user).get(reverse("dashboard:audit_list"))
    wrappers = re.findall(r'<div class="table-responsive"[^>]*>', page.content.decode())
    assert wrappers == [
        '<div class="table-responsive" tabindex="0" role="region"'
        ' aria-label="Eventi del registro, dal più recente">'
    ]
