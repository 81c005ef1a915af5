"""Services as processes: start ``python -m services.X`` and wait until /readyz answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServiceProcess:
    name: str
    http_port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def ready(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.http_port}/readyz"
            with urllib.request.urlopen(url, timeout=1) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready: {self.log()[-2000:]}")
            time.sleep(0.05)  # polling a readiness probe

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def terminate(self, timeout: float = 30.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


#: Starts retried when the service could not bind its HTTP port (taken since it was picked).
_BIND_ATTEMPTS = 3


def start_service(
    name: str, env: dict[str, str], log_dir: Path, *, wait: bool = True, tag: str = ""
) -> ServiceProcess:
    for attempt in range(1, _BIND_ATTEMPTS + 1):
        service = _spawn(name, env, log_dir, tag)
        if not wait:
            return service
        try:
            service.wait_ready()
            return service
        except RuntimeError:
            if attempt == _BIND_ATTEMPTS or not _port_taken(service):
                raise
    raise AssertionError("unreachable")


def _spawn(name: str, env: dict[str, str], log_dir: Path, tag: str) -> ServiceProcess:
    port = free_port()
    full_env = {**os.environ, **env, "OTAYORI_HTTP_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    log_path = log_dir / f"{name}{tag}-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ServiceProcess(name, port, proc, log_path)


def _port_taken(service: ServiceProcess) -> bool:
    """The service exited because its HTTP port was taken (EADDRINUSE)."""
    return service.process.poll() is not None and "address already in use" in (
        service.log().lower()
    )
