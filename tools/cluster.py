"""`make run`: the whole cluster on this machine with embedded defaults.

Starts an embedded nats-server (data in var/nats), the local SMTP outbox (var/outbox, a
Maildir), a private Dovecot for the bounce mailbox when Dovecot is installed, the three
services, and the ILS simulator posting a sample week. The services share a fast clock
(OTAYORI_DEMO_SPEED, default 1000x: a week in about ten minutes) that starts on Thursday
08:00 JST of the current week, so the Saturday mail run comes round in a few minutes.
Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from shared.clock import JST
from shared.settings import CommonSettings
from tools.ils_simulator import post
from tools.localservers import (
    MissingServer,
    free_port,
    port_free,
    start_dovecot,
    start_nats,
)
from tools.outbox import start_outbox

ROOT = Path(__file__).resolve().parents[1]
VAR = Path(os.environ.get("OTAYORI_DEMO_VAR", ROOT / "var")).resolve()
SERVICES = ("scheduler", "mailer", "bounce")


def _port(preferred: int) -> int:
    return preferred if port_free(preferred) else free_port()


def demo_thursday(today: date) -> date:
    """The Thursday of the current week (Monday-based), where the demo clock starts."""
    return today - timedelta(days=today.weekday()) + timedelta(days=3)


def _wait_ready(name: str, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # polling a readiness probe
    raise RuntimeError(f"{name} did not become ready; see {log}")


def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # the launcher's own client stays quiet
    for sub in ("nats", "outbox", "logs", "dovecot"):
        (VAR / sub).mkdir(parents=True, exist_ok=True)
    speed = float(os.environ.get("OTAYORI_DEMO_SPEED", "1000"))
    thursday = demo_thursday(datetime.now(JST).date())
    # The clock reads Thursday 07:30 JST a few real seconds from now, once the services are
    # up, so the day's 08:00 and 08:30 triggers fire in front of the viewer.
    start = datetime.combine(thursday, dtime(7, 30), JST)
    anchor = datetime.now(UTC) + timedelta(seconds=8)

    nats = start_nats(VAR / "nats", port=_port(4222), monitor_port=_port(8222))
    smtp_port = _port(2525)
    outbox = start_outbox(VAR / "outbox", smtp_port)
    dovecot = None
    try:
        dovecot = start_dovecot(VAR / "dovecot", port=_port(1143))
    except (MissingServer, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"note: no IMAP server for the bounce service ({exc}); it keeps retrying")
    env = {
        **os.environ,
        "OTAYORI_NATS_URL": nats.url,
        "OTAYORI_SMTP_HOST": "127.0.0.1",
        "OTAYORI_SMTP_PORT": str(smtp_port),
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
    procs: dict[str, tuple[subprocess.Popen[bytes], int, Path]] = {}
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for n, name in enumerate(SERVICES):
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
            procs[name] = (proc, port, log)
        for name, (proc, port, log) in procs.items():
            _wait_ready(name, port, proc, log)
        settings = CommonSettings(nats_url=nats.url)
        count = asyncio.run(post(settings, thursday))
        _banner(nats.url, nats.monitor_port, smtp_port, dovecot, procs, thursday, speed, count)
        while not stopping:
            for name, (proc, _, log) in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see {log}")
                    stopping = True
            time.sleep(0.5)  # the launcher's idle loop, not test synchronisation
    finally:
        print("\nstopping…")
        for proc, _, _ in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, (proc, _, _) in procs.items():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in time; killing it")
                proc.kill()
        outbox.stop()
        if dovecot:
            dovecot.stop()
        nats.stop()
        print("stopped.")


def _banner(
    nats_url: str,
    monitor: int,
    smtp_port: int,
    dovecot: object,
    procs: dict[str, tuple[subprocess.Popen[bytes], int, Path]],
    thursday: date,
    speed: float,
    count: int,
) -> None:
    rows = [
        ("NATS JetStream", f"{nats_url}  (monitor http://127.0.0.1:{monitor}, data var/nats)"),
        ("SMTP outbox", f"127.0.0.1:{smtp_port} -> Maildir var/outbox/"),
        ("IMAP (bounces)", f"127.0.0.1:{dovecot.port}" if dovecot else "not running"),  # type: ignore[attr-defined]
    ]
    rows += [
        (
            name,
            f"health http://127.0.0.1:{port}/readyz  metrics /metrics  log {log}",
        )
        for name, (_, port, log) in procs.items()
    ]
    print("\notayori is running:\n")
    for name, what in rows:
        print(f"  {name:<16} {what}")
    print(
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
    main()
