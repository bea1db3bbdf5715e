"""Dates on pages read as the dispatch page writes them: dd/mm/yyyy (SHORT_DATE_FORMAT), never
the long Italian format, whose month names are capitalised ("27 Ottobre 2027")."""

import datetime
import re
from pathlib import Path

from django.template import Context, Template
from django.utils import translation

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LONG_FORMAT = re.compile(r"""date:\s*["'](DATE_FORMAT|DATETIME_FORMAT)["']""")


def test_no_template_writes_dates_in_the_long_format() -> None:
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if LONG_FORMAT.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_short_format_is_day_month_year_with_slashes() -> None:
    with translation.override("it"):
        text = Template('{{ day|date:"SHORT_DATE_FORMAT" }}').render(
            Context({"day": datetime.date(2027, 10, 27)})
        )
    assert text == "27/10/2027"
