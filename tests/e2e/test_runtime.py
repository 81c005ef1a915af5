"""The shared runtime as a real process: kill -9 mid-message, SIGTERM, health, log hygiene."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import nats
from nats.aio.client import Client

from shared.bus.provision import provision
from shared.bus.publish import publish
from shared.contracts import PatronEmailChanged
from tests.support.nats import NatsServer
from tests.support.procs import ROOT, ServiceProcess
from tests.support.servers import free_port

ADDRESS = "hanako.tsugaru@ezweb.ne.jp"


def _start_probe(nats_url: str, log_dir: Path, **env: str) -> ServiceProcess:
    port = free_port()
    log_path = log_dir / f"probe-{port}.log"
    full_env = {
        **os.environ,
        "OTAYORI_NATS_URL": nats_url,
        "OTAYORI_HTTP_PORT": str(port),
        "OTAYORI_HTTP_HOST": "127.0.0.1",
        "PROBE_HOLD": "1",
        **env,
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.probe_service"],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    service = ServiceProcess("probe", port, proc, log_path)
    service.wait_ready()
    return service


async def _client(server: NatsServer) -> Client:
    client = await nats.connect(server.url)
    await provision(client.jetstream())
    return client


async def _next(sub: nats.aio.subscription.Subscription) -> dict[str, object]:
    msg = await sub.next_msg(timeout=30)
    return dict(json.loads(msg.data))


def _get(url: str) -> str:
    with urllib.request.urlopen(url) as resp:
        return str(resp.read().decode())


def _event() -> PatronEmailChanged:
    return PatronEmailChanged(
        occurred_at=datetime.now(UTC), patron_id="P1100876543", new_email=ADDRESS
    )


async def test_a_service_killed_mid_message_gets_it_again_on_restart(
    fresh_nats: NatsServer, tmp_path: Path
) -> None:
    client = await _client(fresh_nats)
    started = await client.subscribe("probe.started")
    done = await client.subscribe("probe.done")
    probe = _start_probe(fresh_nats.url, tmp_path, PROBE_ACK_WAIT="2")
    event = _event()
    await publish(client.jetstream(), event)
    assert await _next(started) == {"event_id": event.event_id, "delivered": 1}
    probe.kill()  # SIGKILL while the message is in flight, never acked

    probe = _start_probe(fresh_nats.url, tmp_path, PROBE_ACK_WAIT="2", PROBE_HOLD="")
    again = await _next(started)
    assert again["event_id"] == event.event_id and int(str(again["delivered"])) >= 2
    assert (await _next(done))["event_id"] == event.event_id
    assert probe.terminate() == 0
    await client.close()


async def test_sigterm_finishes_in_flight_work_then_exits_cleanly(
    fresh_nats: NatsServer, tmp_path: Path
) -> None:
    client = await _client(fresh_nats)
    started = await client.subscribe("probe.started")
    done = await client.subscribe("probe.done")
    probe = _start_probe(fresh_nats.url, tmp_path)
    event = _event()
    await publish(client.jetstream(), event)
    await _next(started)

    probe.process.send_signal(15)
    await client.publish("probe.release", b"")
    assert (await _next(done))["event_id"] == event.event_id
    assert await asyncio.to_thread(probe.process.wait, 30) == 0
    info = await client.jetstream().consumer_info("ILS", "probe")
    assert info.num_ack_pending == 0 and info.num_pending == 0
    await client.close()


async def test_health_endpoints_and_logs_without_addresses(
    fresh_nats: NatsServer, tmp_path: Path
) -> None:
    client = await _client(fresh_nats)
    done = await client.subscribe("probe.done")
    probe = _start_probe(fresh_nats.url, tmp_path, PROBE_HOLD="")
    await publish(client.jetstream(), _event())
    await _next(done)
    base = f"http://127.0.0.1:{probe.http_port}"
    health, metrics = (
        await asyncio.to_thread(_get, f"{base}/healthz"),
        await asyncio.to_thread(_get, f"{base}/metrics"),
    )
    assert health == "ok\n"
    assert 'otayori_messages_consumed_total{consumer="probe",outcome="ack"} 1.0' in metrics
    assert probe.terminate() == 0
    log = probe.log()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line["event"] == "probe.handling" for line in lines)
    assert ADDRESS not in log and "hanako.tsugaru" not in log
    assert "***@ezweb.ne.jp" in log
    await client.close()
