"""`make run` again and again: each run mails its week afresh, Ctrl-C at any moment stops
every server it started, and one var/ directory serves one launcher at a time."""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.procs import ROOT


class Launcher:
    """``python -m tools.cluster`` on a private var/ directory, its output in a file."""

    def __init__(self, var: Path, log: Path, **extra_env: str) -> None:
        self.var, self.log_path = var, log
        env = {**os.environ, "OTAYORI_DEMO_VAR": str(var), "PYTHONUNBUFFERED": "1", **extra_env}
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tools.cluster"], cwd=ROOT, env=env, stdout=out, stderr=out
            )

    def output(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def wait_for(self, condition: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, self.output()[-3000:]
            assert time.monotonic() < deadline, self.output()[-3000:]
            time.sleep(0.05)  # polling the launcher's files for the condition

    def interrupt(self, signum: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.wait(90)


def _mail_keys(outbox: Path) -> set[str]:
    try:
        return set(mailbox.Maildir(outbox, create=False).iterkeys())
    except (mailbox.NoSuchMailboxError, FileNotFoundError):
        return set()  # not made yet, or being cleared by a launcher starting afresh


def _saturday_mails(outbox: Path) -> set[str]:
    """The Saturday online-loan mails in the outbox (by Maildir key)."""
    found = set()
    for key in _mail_keys(outbox):
        try:
            raw = mailbox.Maildir(outbox, create=False).get_bytes(key)
        except (mailbox.NoSuchMailboxError, FileNotFoundError, KeyError):
            continue  # cleared by a launcher starting afresh
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        if "オンライン貸出メール" in str(msg["Subject"]):
            found.add(key)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_second_run_mails_its_week_again(tmp_path: Path) -> None:
    var = tmp_path / "var"
    fast = {"OTAYORI_DEMO_SPEED": "20000"}  # Saturday 09:00 comes some 17 s after start
    first = Launcher(var, tmp_path / "first.log", **fast)
    try:
        first.wait_for(lambda: bool(_saturday_mails(var / "outbox")))
    finally:
        assert first.interrupt() == 0, first.output()[-3000:]
    earlier = _mail_keys(var / "outbox")

    # The scheduler's state of the first run is past Saturday and its ledger holds the
    # week's events: the second run mails the week again only on a fresh store.
    second = Launcher(var, tmp_path / "second.log", **fast)
    try:
        second.wait_for(lambda: bool(_saturday_mails(var / "outbox") - earlier))
    finally:
        assert second.interrupt() == 0, second.output()[-3000:]
    assert not earlier & _mail_keys(var / "outbox"), "the outbox starts empty each run"
    assert "afresh" in second.output()


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGHUP], ids=["ctrl_c", "terminal_closed"]
)
def test_a_stop_during_start_up_stops_the_nats_server(tmp_path: Path, signum: int) -> None:
    var = tmp_path / "var"
    launcher = Launcher(var, tmp_path / "cluster.log")
    try:
        launcher.wait_for(lambda: (var / "nats.pid").exists())
        pid = int((var / "nats.pid").read_text())
    finally:
        code = launcher.interrupt(signum)
    assert code == 0, launcher.output()[-3000:]
    assert "stopped." in launcher.output()
    assert not _alive(pid)
    assert not (var / "nats.pid").exists()


def test_a_second_launcher_on_the_same_var_is_refused(tmp_path: Path) -> None:
    var = tmp_path / "var"
    running = Launcher(var, tmp_path / "running.log")
    try:
        running.wait_for(lambda: (var / "nats.pid").exists())
        pid = int((var / "nats.pid").read_text())
        second = Launcher(var, tmp_path / "second.log")
        assert second.proc.wait(60) == 1
        assert "another `make run`" in second.output()
        assert _alive(pid), "the refused launcher leaves the running one alone"
    finally:
        code = running.interrupt()
    assert code == 0, running.output()[-3000:]
    assert not _alive(pid)
