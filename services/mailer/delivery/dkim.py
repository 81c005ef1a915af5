"""Optional DKIM signing (dkimpy) of the composed wire message."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dkim

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"auto-submitted",
)


@dataclass(frozen=True, slots=True)
class DkimSigner:
    selector: bytes
    domain: bytes
    key: bytes = b""

    @classmethod
    def from_file(cls, selector: str, domain: str, key_file: Path) -> DkimSigner:
        return cls(selector.encode("ascii"), domain.encode("ascii"), key_file.read_bytes())

    def sign(self, message: bytes) -> bytes:
        """The message with a ``DKIM-Signature`` header prepended (relaxed/relaxed)."""
        header = dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(SIGNED_HEADERS),
        )
        return bytes(header) + message
