"""Fixtures for the IO client tests. None of them needs Django."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses

from ioportal.ioapi import IOClient

from .samples import API_KEY, BASE_URL

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_FILES = (
    "io-functions-services.index.yaml",
    "io-messages.services-func.index.yaml",
    "io-functions-commons.definitions_v2.yaml",
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def io_spec_dir() -> Path:
    """The folder with the official IO spec files.

    From env IO_SPEC_DIR (relative paths are taken from the repository root), default
    ../shared/io-spec. Missing: the test is skipped, except in CI (env CI set) where it fails.
    """
    path = Path(os.environ.get("IO_SPEC_DIR") or "../shared/io-spec")
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    missing = [name for name in SPEC_FILES if not (path / name).is_file()]
    if missing:
        reason = f"IO spec files not found in {path}: {', '.join(missing)} (set IO_SPEC_DIR)"
        if _in_ci():
            pytest.fail(f"{reason}; they are required when CI is set")
        pytest.skip(reason)
    return path


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """`responses` mock: every registered answer must be used, any other request fails.

    responses answers an unregistered request with a ConnectionError, which the client would
    turn into an AmbiguousError; the check after the test makes such a request fail the test
    even when the test expected an AmbiguousError.
    """
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
        unmatched = [
            call.request.url
            for call in mock.calls
            if isinstance(call.response, requests.ConnectionError)
            and "Connection refused by Responses" in str(call.response)
        ]
        assert not unmatched, f"unregistered requests: {unmatched}"


@pytest.fixture
def client() -> Iterator[IOClient]:
    with IOClient(API_KEY, base_url=BASE_URL, max_idle_seconds=None) as io_client:
        yield io_client
