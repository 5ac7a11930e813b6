"""The extender tests need the server stack (the ``test`` extra has it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

from extender_fixtures import LoopbackServer


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[LoopbackServer] = []

    def start(app: Any) -> LoopbackServer:
        server = LoopbackServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
