"""Postfix's ``smtp-sink`` on a free loopback port: a real SMTP server with PIPELINING.

Its flags script faults (``-Q RCPT``: a 421 and a disconnect after RCPT; ``-q DATA``: a
disconnect without a reply; ``-f RCPT``: a 5xx, which turns PIPELINING off) and ``-d``
dumps each accepted message to a file, so tests can read what arrived byte for byte.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port, require


@dataclass(frozen=True, slots=True)
class SmtpSink:
    port: int
    dump_dir: Path | None
    process: subprocess.Popen[bytes]

    def dumps(self) -> list[bytes]:
        """The messages accepted so far (``-d``), headers added by smtp-sink included."""
        if self.dump_dir is None:
            return []
        return [p.read_bytes() for p in sorted(self.dump_dir.iterdir()) if p.is_file()]


def sink_binary() -> str | None:
    return shutil.which("smtp-sink") or (
        "/usr/sbin/smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else None
    )


@contextlib.contextmanager
def smtp_sink(*flags: str, dump: bool = False, backlog: int = 100) -> Iterator[SmtpSink]:
    """Run smtp-sink with ``flags`` until the block ends (fails in CI when missing)."""
    binary = sink_binary()
    require("smtp-sink (apt-get install postfix)", binary)
    assert binary is not None
    port = free_port()
    with contextlib.ExitStack() as stack:
        args = [binary, "-u", "nobody", *flags]
        dump_dir = None
        if dump:
            # Under /tmp, open to ``nobody`` (whom smtp-sink runs as); pytest's own
            # temporary directories are private to the user running the tests.
            dump_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sink-")))
            dump_dir.chmod(0o777)
            args += ["-d", f"{dump_dir}/%M%S."]
        process = subprocess.Popen([*args, f"127.0.0.1:{port}", str(backlog)])
        try:
            _wait_listening(port, process)
            yield SmtpSink(port, dump_dir, process)
        finally:
            process.terminate()
            process.wait(10)


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"smtp-sink exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"smtp-sink did not listen on {port} within {timeout:g} s")
