from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from ioportal.fakeio.config import parse_config
from ioportal.fakeio.server import FakeIOServer, make_server
from ioportal.sending import limiter


class Simulator:
    def __init__(self, server: FakeIOServer) -> None:
        self.server = server
        self.sim = server.sim
        self.api_url = server.url + "/api/v1"

    def set_faults(self, **faults: Any) -> None:
        requests.put(
            self.server.url + "/__fakeio__/faults", json=faults, timeout=5
        ).raise_for_status()

    def inspect(self, name: str, **params: str) -> Any:
        response = requests.get(self.server.url + f"/__fakeio__/{name}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()


@pytest.fixture
def start_simulator() -> Iterator[Callable[[dict[str, Any]], Simulator]]:
    servers: list[FakeIOServer] = []

    def start(config: dict[str, Any]) -> Simulator:
        server = make_server(parse_config(config)).start()
        servers.append(server)
        return Simulator(server)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(autouse=True)
def _fresh_limiter_cache() -> Iterator[None]:
    limiter._known_rows.clear()
    yield
    limiter._known_rows.clear()
