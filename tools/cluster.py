"""`make run`: the whole cluster on this machine with embedded defaults.

Starts an embedded nats-server (data in var/nats), the local SMTP outbox (var/outbox, a
Maildir), a private Dovecot for the bounce mailbox when Dovecot is installed, the three
services, and the ILS simulator posting a sample week. The services share a fast clock
(OTAYORI_DEMO_SPEED, default 1000x: a week in about ten minutes) that starts on Thursday
08:00 JST of the current week, so the Saturday mail run comes round in a few minutes.
Ctrl-C stops everything cleanly, at any moment (also during start-up).

Each run starts the demo week afresh: it deletes var/nats, var/outbox and var/dovecot
first (the logs in var/logs are kept and appended to). One launcher at a time may use a
var/ directory (var/run.lock); a second one is refused with a message.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import IO

from aiosmtpd.controller import Controller

from shared.clock import JST
from shared.settings import CommonSettings
from tools.ils_simulator import post
from tools.localservers import (
    Dovecot,
    MissingServer,
    NatsServer,
    free_port,
    port_free,
    start_dovecot,
    start_nats,
)
from tools.outbox import start_outbox

ROOT = Path(__file__).resolve().parents[1]
VAR = Path(os.environ.get("OTAYORI_DEMO_VAR", ROOT / "var")).resolve()
SERVICES = ("scheduler", "mailer", "bounce")
NATS_PID = "nats.pid"  # the pid of this run's nats-server, while it runs


def _port(preferred: int) -> int:
    return preferred if port_free(preferred) else free_port()


def demo_thursday(today: date) -> date:
    """The Thursday of the current week (Monday-based), where the demo clock starts."""
    return today - timedelta(days=today.weekday()) + timedelta(days=3)


class _Stop:
    """Set by SIGINT/SIGTERM; every wait of the launcher looks at it."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, *_: object) -> None:
        self.requested = True


def _wait_ready(
    name: str, port: int, proc: subprocess.Popen[bytes], log: Path, stop: _Stop
) -> bool:
    """True once ``name`` answers /readyz; False when a stop was asked for first."""
    deadline = time.monotonic() + 60
    while not stop.requested:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited; see {log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not become ready; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)  # polling a readiness probe
    return False


class StoreInUse(RuntimeError):
    """Another launcher, or a nats-server it left behind, uses the demo's var/ directory."""


def _lock(var: Path) -> IO[str]:
    """Hold ``var/run.lock`` for the launcher's life (the OS releases it when it dies)."""
    handle = (var / "run.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        handle.close()
        raise StoreInUse(
            f"another `make run` (pid {pid}) is using {var}; stop it first"
            " (Ctrl-C in its terminal), or give this one its own OTAYORI_DEMO_VAR"
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _orphan_nats(var: Path) -> int | None:
    """The pid of a nats-server an earlier, killed launcher left running on var/nats."""
    try:
        pid = int((var / NATS_PID).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"nats-server" in cmdline and str(var / "nats").encode() in cmdline else None


def _fresh_var(var: Path) -> None:
    """Each run starts the demo week afresh: a new NATS store, outbox and bounce mailbox.

    The ILS simulator posts the same week (same event ids) each run and the clock starts
    again on Thursday 07:30: with the old store the scheduler would already be past
    Saturday and the mailer would take the events for duplicates, so no mail would come.
    """
    for sub in ("nats", "outbox", "dovecot"):
        shutil.rmtree(var / sub, ignore_errors=True)
    for sub in ("nats", "outbox", "logs", "dovecot"):
        (var / sub).mkdir(parents=True, exist_ok=True)


@dataclass
class _Cluster:
    """What the launcher has started so far; ``stop`` ends it all, servers last."""

    nats: NatsServer | None = None
    outbox: Controller | None = None
    dovecot: Dovecot | None = None
    procs: dict[str, tuple[subprocess.Popen[bytes], int, Path]] = field(default_factory=dict)

    def stop(self) -> None:
        for proc, _, _ in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, (proc, _, _) in self.procs.items():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in time; killing it")
                proc.kill()
                proc.wait()
        if self.outbox is not None:
            self.outbox.stop()
        if self.dovecot is not None:
            self.dovecot.stop()
        if self.nats is not None:
            self.nats.stop()
            (VAR / NATS_PID).unlink(missing_ok=True)


def _start_servers(cluster: _Cluster, stop: _Stop) -> None:
    cluster.nats = start_nats(VAR / "nats", port=_port(4222), monitor_port=_port(8222))
    (VAR / NATS_PID).write_text(f"{cluster.nats.process.pid}\n")
    if stop.requested:
        return
    smtp_port = _port(2525)
    cluster.outbox = start_outbox(VAR / "outbox", smtp_port)
    if stop.requested:
        return
    try:
        cluster.dovecot = start_dovecot(VAR / "dovecot", port=_port(1143))
    except (MissingServer, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"note: no IMAP server for the bounce service ({exc}); it keeps retrying")


def _start_services(cluster: _Cluster, env: dict[str, str], stop: _Stop) -> None:
    for n, name in enumerate(SERVICES):
        if stop.requested:
            return
        port = _port(8081 + n)
        log = VAR / "logs" / f"{name}.log"
        with log.open("ab") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                cwd=ROOT,
                env={**env, "OTAYORI_HTTP_PORT": str(port)},
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C goes to the launcher only
            )
        cluster.procs[name] = (proc, port, log)


def _env(cluster: _Cluster, start: datetime, speed: float, anchor: datetime) -> dict[str, str]:
    assert cluster.nats is not None and cluster.outbox is not None
    dovecot = cluster.dovecot
    return {
        **os.environ,
        "OTAYORI_NATS_URL": cluster.nats.url,
        "OTAYORI_SMTP_HOST": "127.0.0.1",
        "OTAYORI_SMTP_PORT": str(cluster.outbox.port),
        "OTAYORI_SMTP_TLS": "none",
        "OTAYORI_IMAP_HOST": "127.0.0.1",
        "OTAYORI_IMAP_PORT": str(dovecot.port if dovecot else 1143),
        "OTAYORI_IMAP_USERNAME": dovecot.user if dovecot else "bounces",
        "OTAYORI_IMAP_PASSWORD": dovecot.password if dovecot else "secret",
        "OTAYORI_HTTP_HOST": "127.0.0.1",
        "OTAYORI_CLOCK_START": start.isoformat(),
        "OTAYORI_CLOCK_SPEED": str(speed),
        "OTAYORI_CLOCK_ANCHOR": anchor.isoformat(),
        "PYTHONUNBUFFERED": "1",
    }


def _run(cluster: _Cluster, stop: _Stop) -> int:
    """Start everything, post the sample week, then idle until Ctrl-C or a service dies."""
    speed = float(os.environ.get("OTAYORI_DEMO_SPEED", "1000"))
    thursday = demo_thursday(datetime.now(JST).date())
    _fresh_var(VAR)
    _start_servers(cluster, stop)
    if stop.requested:
        return 0
    # The clock reads Thursday 07:30 JST a few real seconds from now, once the services are
    # up, so the day's 08:00 and 08:30 triggers fire in front of the viewer.
    start = datetime.combine(thursday, dtime(7, 30), JST)
    anchor = datetime.now(UTC) + timedelta(seconds=8)
    _start_services(cluster, _env(cluster, start, speed, anchor), stop)
    for name, (proc, port, log) in cluster.procs.items():
        if not _wait_ready(name, port, proc, log, stop):
            return 0
    assert cluster.nats is not None
    count = asyncio.run(post(CommonSettings(nats_url=cluster.nats.url), thursday))
    if stop.requested:
        return 0
    _banner(cluster, thursday, speed, count)
    while not stop.requested:
        for name, (proc, _, log) in cluster.procs.items():
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; see {log}")
                return 1
        time.sleep(0.5)  # the launcher's idle loop, not test synchronisation
    return 0


def main() -> int:
    logging.basicConfig(level=logging.ERROR)  # the launcher's own client stays quiet
    VAR.mkdir(parents=True, exist_ok=True)
    try:
        lock = _lock(VAR)
    except StoreInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    orphan = _orphan_nats(VAR)
    if orphan is not None:
        print(
            f"error: a nats-server left by an earlier run (pid {orphan}) still uses"
            f" {VAR / 'nats'}; stop it (kill {orphan}) and run again",
            file=sys.stderr,
        )
        return 1
    # Ctrl-C, SIGTERM and SIGHUP (the terminal closed: the servers run in sessions of
    # their own and would outlive the launcher) only set a flag from here on: every server
    # started below is inside the try, so the finally stops whatever has been started.
    stop = _Stop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    cluster = _Cluster()
    try:
        return _run(cluster, stop)
    except (MissingServer, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nstopping…")
        cluster.stop()
        print("stopped.")
        lock.close()


def _banner(cluster: _Cluster, thursday: date, speed: float, count: int) -> None:
    nats, outbox, dovecot = cluster.nats, cluster.outbox, cluster.dovecot
    assert nats is not None and outbox is not None
    rows = [
        (
            "NATS JetStream",
            f"{nats.url}  (monitor http://127.0.0.1:{nats.monitor_port}, data var/nats)",
        ),
        ("SMTP outbox", f"127.0.0.1:{outbox.port} -> Maildir var/outbox/"),
        ("IMAP (bounces)", f"127.0.0.1:{dovecot.port}" if dovecot else "not running"),
    ]
    rows += [
        (
            name,
            f"health http://127.0.0.1:{port}/readyz  metrics /metrics  log {log}",
        )
        for name, (_, port, log) in cluster.procs.items()
    ]
    print("\notayori is running:\n")
    for name, what in rows:
        print(f"  {name:<16} {what}")
    print(
        "\nEach `make run` starts the demo week afresh: var/nats, var/outbox and the bounce"
        " mailbox\nwere cleared (the logs in var/logs are appended to)."
        f"\nThe ILS simulator posted {count} events for the batch of Thursday {thursday}."
        f"\nThe cluster clock reads {thursday} 07:30 JST and runs {speed:g}x:"
        f" the Saturday mail run comes in about {int(49.5 * 3600 / speed) + 8} s."
        "\n\nLook at the mails:   .venv/bin/python -m tools.outbox   (--show N for one)"
        "\nPreview a mail:      .venv/bin/otayori preview online_loan"
        " shared/contracts/examples/ils.loan.online_issued.json"
        f"\nPlan the week:       .venv/bin/otayori schedule plan --from {thursday} --days 7"
        "\n\nCtrl-C stops everything.\n"
    )


if __name__ == "__main__":
    sys.exit(main())
