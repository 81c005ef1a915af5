"""DKIM signing produces a signature that dkimpy verifies against the published key."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest

from services.mailer.delivery.dkim import DkimSigner, relaxed_body, relaxed_header
from tests.support.dkim import dkim_key

MESSAGE = (
    b"From: =?utf-8?b?44Kq44Oz44Op44Kk44Oz?= <online-lending@plib.pref.aomori.lg.jp>\r\n"
    b"To: p1@example.jp\r\nSubject: test\r\nDate: Sat, 05 Dec 2026 09:00:00 +0900\r\n"
    b"Message-ID: <otayori.0123456789abcdef0123456789abcdef@plib.pref.aomori.lg.jp>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Auto-Submitted: auto-generated\r\n\r\nbody\r\n"
)
#: Folded headers, tabs and runs of spaces, trailing blank lines, an unsigned header.
FOLDED = (
    b"From: =?utf-8?b?44Kq44Oz44Op44Kk44Oz?=\r\n <online-lending@plib.pref.aomori.lg.jp>\r\n"
    b"To: p1@example.jp\r\nSubject: =?utf-8?b?44Kq44Oz?=\r\n =?utf-8?b?44Op44Kk?=\r\n"
    b"Date:  Sat, 05 Dec 2026\t09:00:00 +0900  \r\n"
    b"Message-ID: <a@plib.pref.aomori.lg.jp>\r\nReply-To: x@plib.pref.aomori.lg.jp\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    b"44Kq44Oz  \t44Op\r\n\r\n  x \r\n\r\n\r\n"
)


@pytest.mark.parametrize("message", [MESSAGE, FOLDED], ids=["plain", "folded"])
def test_signed_mail_verifies_with_the_public_key(tmp_path: Path, message: bytes) -> None:
    key, b64 = dkim_key(tmp_path)
    signed = DkimSigner.from_file("otayori", "plib.pref.aomori.lg.jp", key).sign(message)
    assert signed.startswith(b"DKIM-Signature:")
    assert signed.endswith(message)
    assert all(len(line) <= 78 for line in signed.split(b"\r\n"))

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"otayori._domainkey.plib.pref.aomori.lg.jp."
        return b"v=DKIM1; k=rsa; p=" + b64

    assert dkim.verify(signed, dnsfunc=dns)
    tampered = signed.replace(b"p1@example.jp", b"p2@example.jp")
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_relaxed_canonicalisation() -> None:
    assert relaxed_header(b"SubJect :  a \t b\r\n  c  ") == b"subject:a b c"
    assert relaxed_body(b"a  b \r\n\r\n\r\n") == b"a b\r\n"
    assert relaxed_body(b"") == b""
    assert relaxed_body(b"x") == b"x\r\n"
