"""`make run`'s launcher: the whole cluster starts, a mail reaches the outbox, Ctrl-C stops it."""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.procs import ROOT


def _mails(outbox: Path) -> int:
    if not (outbox / "new").exists():
        return 0
    return len(mailbox.Maildir(outbox, create=False))


def test_the_local_cluster_delivers_mail_to_the_outbox_and_stops_cleanly(tmp_path: Path) -> None:
    var = tmp_path / "var"
    env = {**os.environ, "OTAYORI_DEMO_VAR": str(var), "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "cluster.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.cluster"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 120
        while _mails(var / "outbox") == 0:
            assert proc.poll() is None, (tmp_path / "cluster.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "cluster.log").read_text()[-3000:]
            time.sleep(0.2)  # polling the Maildir for the first delivered mail
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(90)
        log.close()
    output = (tmp_path / "cluster.log").read_text()
    assert "otayori is running" in output
    assert "stopped." in output
    assert code == 0
    box = mailbox.Maildir(var / "outbox", create=False)
    first = next(iter(box))
    assert "plib.pref.aomori.lg.jp" in str(first["From"])
