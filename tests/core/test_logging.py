"""The console log: every record printed once; an expected 403 is one warning line with the
path and the user's id, without a traceback."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from ioportal.accounts.models import User
from tests.conftest import verified_login


def test_django_records_reach_only_the_root_handler() -> None:
    # Django's default configuration gives the "django" logger a console handler of its own
    # (active in DEBUG, as under `make run`): next to the root's, every record twice.
    logger: logging.Logger | None = logging.getLogger("django.request")
    while logger is not None and logger is not logging.root:
        assert logger.handlers == [], logger.name
        assert logger.propagate, logger.name
        logger = logger.parent
    assert logging.root.handlers


def test_a_403_is_one_warning_line_with_path_and_user_and_no_traceback(
    client: Client, operator_user: User, caplog: pytest.LogCaptureFixture
) -> None:
    verified_login(client, operator_user)
    url = reverse("reports:search_deliveries_csv", args=["riferimento"])
    with caplog.at_level(logging.INFO):
        assert client.get(url + "?codice_fiscale=RSSMRA80A01H501U").status_code == 403
    records = [r for r in caplog.records if r.name.startswith("django")]
    assert len(records) == 1
    (record,) = records
    assert record.levelno == logging.WARNING
    assert record.exc_info is None and not record.exc_text
    assert url in record.getMessage() and f"user {operator_user.pk}" in record.getMessage()
    assert "RSSMRA80A01H501U" not in record.getMessage()


def test_a_500_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("django.request")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        with caplog.at_level(logging.INFO):
            logger.error(
                "Internal Server Error: %s", "/x/", exc_info=True, extra={"status_code": 500}
            )
    (record,) = caplog.records
    assert record.exc_info is not None
