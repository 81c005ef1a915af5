"""``provision`` with ``OTAYORI_NATS_REPLICAS`` on the single-node test server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js.errors import APIError

from shared.bus.provision import provision
from shared.bus.topology import BUCKETS, STREAMS
from tools.localservers import NatsServer


@pytest.fixture
async def client(fresh_nats: NatsServer) -> AsyncIterator[Client]:
    nc = await nats.connect(fresh_nats.url)
    yield nc
    await nc.close()


async def replica_counts(nc: Client) -> dict[str, int]:
    js = nc.jetstream()
    names = [s.name for s in STREAMS] + [f"KV_{b.name}" for b in BUCKETS]
    return {name: (await js.stream_info(name)).config.num_replicas or 0 for name in names}


async def test_one_replica_provisions_and_reprovisions_on_a_single_server(
    client: Client,
) -> None:
    js = client.jetstream()
    rows = await provision(js, replicas=1)
    assert {action for _, _, action in rows} == {"created"}
    assert set((await replica_counts(client)).values()) == {1}
    again = await provision(js, replicas=1)
    assert {action for kind, _, action in again if kind == "bucket"} == {"exists"}
    assert set((await replica_counts(client)).values()) == {1}


async def test_without_a_replica_count_provisioning_keeps_what_is_there(
    client: Client,
) -> None:
    js = client.jetstream()
    await provision(js, replicas=1)
    again = await provision(js)  # a caller without settings at hand
    assert {action for kind, _, action in again if kind == "bucket"} == {"exists"}
    assert set((await replica_counts(client)).values()) == {1}


async def test_the_replica_count_reaches_the_server(client: Client) -> None:
    # A single server cannot hold three replicas: it says so instead of creating R1.
    with pytest.raises(APIError):
        await provision(client.jetstream(), replicas=3)
