"""A real simulator on a free port, per test, driven over HTTP with requests."""

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ioportal.fakeio.config import parse_config
from ioportal.fakeio.server import FakeIOServer, make_server
from tests.fakeio.support import BASE_CONFIG, FakeIO


@pytest.fixture
def start_fakeio() -> Iterator[Callable[..., FakeIO]]:
    """Start a simulator with BASE_CONFIG updated by the keyword arguments."""
    servers: list[FakeIOServer] = []

    def start(**changes: Any) -> FakeIO:
        data = copy.deepcopy(BASE_CONFIG)
        accounts = changes.pop("accounts", {})
        for account in data["accounts"]:
            account.update(accounts.get(account["name"], {}))
        data.update(changes)
        server = make_server(parse_config(data)).start()
        servers.append(server)
        return FakeIO(server)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def fakeio(start_fakeio: Callable[..., FakeIO]) -> FakeIO:
    return start_fakeio()
