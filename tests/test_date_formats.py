"""Dates on pages read as the dispatch page writes them: dd/mm/yyyy (SHORT_DATE_FORMAT), never
the long format with its weekday and zero-padded day ("martedì 27 ottobre 2027"); where a
date is written in words, Italian writes weekdays and months in lower case (the portal's
Italian catalog of Django's names), English capitalised."""

import datetime
import re
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

from django import forms
from django.template import Context, Template
from django.utils import translation
from django.utils.formats import date_format, get_format, number_format

from ioportal.messaging.windows import describe_moment
from ioportal.sending.templatetags.sending_tags import long_day

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


def test_italian_writes_months_and_weekdays_in_lower_case_english_capitalised() -> None:
    day = datetime.date(2026, 12, 8)
    with translation.override("it"):
        assert date_format(day, "l j F Y") == "martedì 8 dicembre 2026"
        assert Template('{{ day|date:"j F Y" }}').render(Context({"day": day})) == "8 dicembre 2026"
        assert date_format(day, "N") == "dic."
        assert date_format(day, "D") == "mar"
    with translation.override("en"):
        assert date_format(day, "l j F Y") == "Tuesday 8 December 2026"
        assert date_format(day, "N") == "Dec."


def test_send_window_moments_in_both_languages() -> None:
    moment = datetime.datetime(2026, 12, 14, 8, 0, tzinfo=ZoneInfo("Europe/Rome"))
    holiday = datetime.date(2026, 12, 25)
    with translation.override("it"):
        assert describe_moment(moment) == "lunedì 14 dicembre 2026, 08:00"
        assert long_day(holiday) == "Venerdì 25 dicembre 2026"  # at the start of a line
    with translation.override("en"):
        assert describe_moment(moment) == "Monday 14 December 2026, 08:00"
        assert long_day(holiday) == "Friday 25 December 2026"


def test_the_italian_catalog_passes_msgfmt_checks() -> None:
    catalog = TEMPLATES.parent / "locale" / "it" / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check-format", "-o", "/dev/null", str(catalog)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_english_writes_dates_day_first_and_a_24_hour_clock() -> None:
    """An Italian PA portal in English still writes European dates (ioportal/core/formats/en):
    1 December is 01/12/2026, never 12/01/2026, and 10:03 is never "10:03 a.m."."""
    day = datetime.date(2026, 12, 1)
    moment = datetime.datetime(2026, 6, 12, 22, 3, tzinfo=ZoneInfo("Europe/Rome"))
    with translation.override("en"):
        assert date_format(day, "SHORT_DATE_FORMAT") == "01/12/2026"
        assert date_format(moment, "SHORT_DATETIME_FORMAT") == "12/06/2026 22:03"
        assert date_format(moment, "TIME_FORMAT") == "22:03"
        assert date_format(day) == "1 December 2026"
        assert Template("{{ day|date }}").render(Context({"day": day})) == "1 December 2026"
        assert get_format("DATE_INPUT_FORMATS")[0] == "%d/%m/%Y"
        assert forms.DateField().clean("01/12/2026") == day
        assert number_format(1000, force_grouping=True) == "1,000"
    with translation.override("it"):
        assert date_format(moment, "SHORT_DATETIME_FORMAT") == "12/06/2026 22:03"


def test_the_english_catalog_says_fiscal_code_never_tax_code() -> None:
    catalog = TEMPLATES.parent / "locale" / "en" / "LC_MESSAGES" / "django.po"
    assert "tax code" not in catalog.read_text(encoding="utf-8").lower()
