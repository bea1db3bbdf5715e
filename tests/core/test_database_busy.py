"""SQLite's "database is locked" (another writer held the lock past the timeout) answers 503
with Retry-After and a page asking to try again, logged as a warning: never a 500."""

import logging
from unittest import mock

from django.db import OperationalError
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from ioportal.core.errors import DATABASE_BUSY_RETRY_AFTER, server_error
from tests.conftest import verified_login

BUSY = "Il portale è occupato, riprova tra qualche secondo"


def test_a_view_that_found_the_database_locked_answers_503(operator_user, caplog):
    client = verified_login(Client(raise_request_exception=False), operator_user)
    with (
        mock.patch(
            "ioportal.dashboard.overview.operator_overview",
            side_effect=OperationalError("database is locked"),
        ),
        caplog.at_level(logging.WARNING),
    ):
        response = client.get(reverse("dashboard:dashboard"))
    assert response.status_code == 503
    assert response["Retry-After"] == str(DATABASE_BUSY_RETRY_AFTER)
    assert BUSY in response.content.decode()
    busy = [r for r in caplog.records if "database busy" in r.getMessage()]
    assert [r.levelno for r in busy] == [logging.WARNING]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_other_database_errors_stay_server_errors(operator_user):
    client = verified_login(Client(raise_request_exception=False), operator_user)
    with mock.patch(
        "ioportal.dashboard.overview.operator_overview",
        side_effect=OperationalError("no such table: messaging_dispatch"),
    ):
        response = client.get(reverse("dashboard:dashboard"))
    assert response.status_code == 500
    assert BUSY not in response.content.decode()


def test_the_lock_outside_a_view_gets_the_same_page_in_the_active_language():
    # A middleware's query (the session, the organization) is not seen by process_exception:
    # Django's handler500 answers it, inside the handling of the exception.
    request = RequestFactory().get("/")
    try:
        raise OperationalError("database is locked (no turn to write in this process)")
    except OperationalError:
        response = server_error(request)
        with translation.override("en"):
            english = server_error(request)
    assert response.status_code == 503 and BUSY in response.content.decode()
    assert response["Retry-After"] == str(DATABASE_BUSY_RETRY_AFTER)
    assert english.status_code == 503
    assert "The portal is busy, try again in a few seconds" in english.content.decode()
    assert 'lang="en"' in english.content.decode()
    try:
        raise OperationalError("disk I/O error")
    except OperationalError:
        assert server_error(request).status_code == 500
