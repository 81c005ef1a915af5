"""A service started while NATS is unreachable: alive but not ready, and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.procs import ServiceProcess, start_service
from tests.support.servers import free_port


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def _wait_alive(service: ServiceProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{service.http_port}/healthz"
    while _status(url) != 200:
        assert service.process.poll() is None, service.log()[-2000:]
        assert time.monotonic() < deadline, service.log()[-2000:]
        time.sleep(0.05)  # polling a liveness probe


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_service_waiting_for_nats_is_alive_not_ready_and_stops_cleanly(
    tmp_path: Path, sig: signal.Signals
) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"OTAYORI_NATS_URL": nowhere, "OTAYORI_HTTP_HOST": "127.0.0.1"}
    service = start_service("scheduler", env, tmp_path, wait=False)
    try:
        _wait_alive(service)
        assert _status(f"http://127.0.0.1:{service.http_port}/readyz") == 503
        assert _status(f"http://127.0.0.1:{service.http_port}/metrics") == 200
        service.process.send_signal(sig)
        assert service.process.wait(60) == 0, service.log()[-2000:]
    finally:
        if service.process.poll() is None:
            service.kill()
    events = [json.loads(line) for line in service.log().splitlines() if line.startswith("{")]
    stopped = [e for e in events if e["event"] == "service.stopped"]
    assert stopped and stopped[-1]["exit_code"] == 0
    assert not any(e["event"] == "service.started" for e in events)
