"""A DKIM key pair for tests: an RSA-2048 private key file and its published public key."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.servers import require


def dkim_key(tmp_path: Path) -> tuple[Path, bytes]:
    """The private key's PEM file and the base64 public key of its DNS ``p=`` tag."""
    require("openssl", shutil.which("openssl"))
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    pub = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout"], check=True, capture_output=True
    ).stdout
    return key, b"".join(line for line in pub.splitlines() if not line.startswith(b"-----"))
