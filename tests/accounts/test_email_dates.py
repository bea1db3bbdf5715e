"""Dates in the e-mails read as a sentence: "scade domenica 13 dicembre 2026 alle 18:40",
"expires on Sunday 13 December 2026 at 18:40" (Italian time), never "scade il domenica …"."""

from datetime import UTC, datetime

from django.template.loader import render_to_string
from django.utils import translation

from ioportal.accounts.audit import Action

MOMENT = datetime(2026, 12, 13, 17, 40, tzinfo=UTC)  # 18:40 in Rome


def invite(language: str) -> str:
    context = {"organization": {"name": "Comune"}, "role": "Operatore", "expires_at": MOMENT}
    with translation.override(language):
        return render_to_string("registration/invite_email.txt", context)


def otp(language: str) -> str:
    context = {"user": {"username": "mario"}, "action": Action.OTP_ENROLLED.value, "when": MOMENT}
    with translation.override(language):
        return render_to_string("accounts/otp_email.txt", context)


def test_invitation_expiry():
    assert "scade domenica 13 dicembre 2026 alle 18:40." in invite("it")
    assert "expires on Sunday 13 December 2026 at 18:40." in invite("en")


def test_second_factor_notice_date():
    assert "Data: domenica 13 dicembre 2026 alle 18:40" in otp("it")
    assert "Date: Sunday 13 December 2026 at 18:40" in otp("en")
