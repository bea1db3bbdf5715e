"""A running dispatch's page left open: its refresh does not keep the session alive, and
when the session ends the whole window goes to the sign-in page, not the refreshed part."""

import time

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioportal.accounts.middleware import SESSION_ACTIVE_AT_KEY
from ioportal.accounts.models import Membership
from tests import builders
from tests.sending.support import fiscal_codes, simulated_service

pytestmark = pytest.mark.browser


def test_an_open_dispatch_page_signs_out_after_the_idle_time(page, sign_in, organization):
    author = builders.user(Membership.Role.OPERATOR, organization, username="otto")
    TOTPDevice.objects.create(user=author, name="default", confirmed=True)
    service = builders.service(organization, **simulated_service("http://127.0.0.1:9/api/v1"))
    running = builders.dispatch(service, author, fiscal_codes(2))

    sign_in(page, author)
    polls = []
    page.on(
        "request",
        lambda request: (
            polls.append(request.headers) if request.headers.get("hx-request") == "true" else None
        ),
    )
    detail = f"/invii/{running.public_id}/"
    page.goto(detail)
    page.wait_for_timeout(4_000)
    assert polls, "the page did not refresh itself"
    assert all(h.get("x-background-refresh") == h.get("hx-trigger") for h in polls)

    # The user's last own request was longer ago than the idle time.
    (row,) = Session.objects.all()
    store = SessionStore(session_key=row.session_key)
    store[SESSION_ACTIVE_AT_KEY] = time.time() - settings.SESSION_COOKIE_AGE - 1
    store.save()
    page.wait_for_url("**/accesso/**", timeout=15_000)
    assert page.url.endswith(f"?next={detail.replace('/', '%2F')}")
    assert page.locator("main").count() == 1
