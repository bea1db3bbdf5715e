"""The dashboard and the e-mails greet by the Italian clock: "Buongiorno" by day,
"Buonasera" from 18:00."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import translation

from ioportal.core import greetings
from ioportal.dashboard.views import greeting


@pytest.mark.parametrize(
    ("utc_hour", "utc_minute", "expected"),
    [
        (16, 59, "Buongiorno, Anna"),  # 17:59 in Rome (winter, UTC+1)
        (17, 30, "Buonasera, Anna"),  # 18:30 in Rome, 17:30 UTC
        (17, 59, "Buonasera, Anna"),  # 18:59
        (2, 0, "Buonasera, Anna"),  # 03:00
        (4, 0, "Buongiorno, Anna"),  # 05:00
    ],
)
def test_greeting_uses_the_local_hour(utc_hour, utc_minute, expected):
    moment = datetime(2026, 12, 6, utc_hour, utc_minute, tzinfo=UTC)
    with translation.override("it"):
        assert greeting("Anna", moment) == expected


def test_the_evening_greeting_in_english():
    with translation.override("en"):
        assert greeting("Anna", datetime(2026, 7, 6, 17, 0, tzinfo=UTC)) == "Good evening, Anna"


def test_the_dashboard_greets_by_the_clock(client, login, operator_user, monkeypatch):
    login(operator_user)
    evening = datetime(2026, 12, 6, 17, 40, tzinfo=UTC)  # 18:40 in Rome
    monkeypatch.setattr(greetings.timezone, "now", lambda: evening)
    page = client.get(reverse("dashboard:dashboard")).content.decode()
    assert "<h1" in page and "Buonasera, " in page and "Buongiorno" not in page


@pytest.mark.parametrize(
    ("utc_hour", "expected", "not_expected"),
    [(18, "Buonasera,", "Buongiorno"), (9, "Buongiorno,", "Buonasera")],  # 19:37, 10:37
)
def test_the_invitation_email_greets_as_the_dashboard(
    client, login, admin_user, monkeypatch, utc_hour, expected, not_expected
):
    from django.core import mail

    from ioportal.accounts.models import Membership

    moment = datetime(2026, 12, 6, utc_hour, 37, tzinfo=UTC)
    monkeypatch.setattr(greetings.timezone, "now", lambda: moment)
    login(admin_user)
    client.post(
        reverse("accounts:member_invite"),
        {
            "email": "saluti@esempio.invalid",
            "role": Membership.Role.OPERATOR,
            "username": "saluti",
            "first_name": "Sara",
        },
    )
    body = mail.outbox[-1].body
    assert body.startswith(expected) and not_expected not in body
    with translation.override("it"):
        assert greeting("Sara", moment).startswith(expected[:-1])
