"""DKIM signing produces a signature that verifies against the published key."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dkim

from services.mailer.delivery.dkim import DkimSigner
from tests.support.servers import require

MESSAGE = (
    b"From: =?utf-8?b?44Kq44Oz44Op44Kk44Oz?= <online-lending@plib.pref.aomori.lg.jp>\r\n"
    b"To: p1@example.jp\r\nSubject: test\r\nDate: Sat, 05 Dec 2026 09:00:00 +0900\r\n"
    b"Message-ID: <otayori.0123456789abcdef0123456789abcdef@plib.pref.aomori.lg.jp>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Auto-Submitted: auto-generated\r\n\r\nbody\r\n"
)


def test_signed_mail_verifies_with_the_public_key(tmp_path: Path) -> None:
    require("openssl", shutil.which("openssl"))
    key = tmp_path / "k.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    pub = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout"], check=True, capture_output=True
    ).stdout
    b64 = b"".join(line for line in pub.splitlines() if not line.startswith(b"-----"))
    signed = DkimSigner.from_file("otayori", "plib.pref.aomori.lg.jp", key).sign(MESSAGE)
    assert signed.startswith(b"DKIM-Signature:")
    assert signed.endswith(MESSAGE)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"otayori._domainkey.plib.pref.aomori.lg.jp."
        return b"v=DKIM1; k=rsa; p=" + b64

    assert dkim.verify(signed, dnsfunc=dns)
