"""A private Dovecot IMAP server for the bounce service's tests (no system config touched)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import find_binary, free_port, require

USER = "bounces"
PASSWORD = "secret"

_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = otayori-test-{port}
ssl = no
first_valid_uid = 1
first_valid_gid = 1
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{dir}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
log_path = {dir}/dovecot.log
"""


@dataclass
class Dovecot:
    host: str
    port: int
    user: str
    password: str
    dir: Path

    def stop(self) -> None:
        pid_file = self.dir / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)  # waiting for the server process to exit


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_dovecot(root: Path, *, timeout: float = 20.0) -> Dovecot:
    binary = find_binary("dovecot", "/usr/sbin")
    require("Dovecot (apt-get install dovecot-imapd)", binary)
    assert binary is not None
    port = free_port()
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (root / "dovecot.conf").write_text(_CONF.format(dir=root, port=port))
    # Dovecot refuses uid 0 for mail: the mail user owns the store; every parent is traversable.
    shutil.chown(root / "mail", "mail", "mail")
    for parent in [root, *root.parents]:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o755)
    subprocess.run([str(binary), "-c", str(root / "dovecot.conf")], check=True)
    deadline = time.monotonic() + timeout
    while not _port_open(port):
        if time.monotonic() > deadline:
            log = (root / "dovecot.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"dovecot did not start: {log}")
        time.sleep(0.05)  # polling the listening port
    return Dovecot("127.0.0.1", port, USER, PASSWORD, root)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with tempfile.TemporaryDirectory(prefix="otayori-dovecot-") as tmp:
        server = start_dovecot(Path(tmp))
        yield server
        server.stop()
