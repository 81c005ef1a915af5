"""VERP envelope senders with an authenticated token.

The mailer sends each mail with the envelope sender ``bounce+TOKEN@DOMAIN``. TOKEN names
the mail (its ledger id) and carries a truncated HMAC-SHA256, so a forged bounce cannot
flag a patron: the bounce service trusts a token only when its MAC verifies.

Token format: ``<mail-id>.<mac>``, where mail-id is ``[a-z0-9]{1,40}`` and mac is 16
lower-case base32 characters (80 bits) of HMAC-SHA256(secret, mail-id). Both are safe in a
local part and survive case-folding MTAs, because the token is lower-case only.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re

_MAIL_ID = re.compile(r"^[a-z0-9]{1,40}$")
_TOKEN = re.compile(r"^([a-z0-9]{1,40})\.([a-z2-7]{16})$")
_VERP = re.compile(r"bounce\+([a-z0-9]{1,40}\.[a-z2-7]{16})@", re.IGNORECASE)


class VerpError(ValueError):
    """A token that is malformed or whose MAC does not verify."""


_B32 = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648 base32, lower-cased


@functools.lru_cache(maxsize=8)
def _keyed(secret: bytes) -> hmac.HMAC:
    """HMAC-SHA256 keyed with ``secret``, copied for each token (``hmac.digest`` looks
    the digest up by name on every call)."""
    return hmac.new(secret, digestmod=hashlib.sha256)


def _mac(secret: bytes, mail_id: str) -> str:
    """16 base32 characters of the first 80 bits of HMAC-SHA256 (``b32encode``, lower)."""
    mac = _keyed(secret).copy()
    mac.update(mail_id.encode("ascii"))
    bits = int.from_bytes(mac.digest()[:10])
    return "".join(_B32[(bits >> shift) & 31] for shift in range(75, -1, -5))


@functools.lru_cache(maxsize=4096)  # the envelope sender and the outcome ask for the same
def make_token(secret: bytes, mail_id: str) -> str:
    if not _MAIL_ID.match(mail_id):
        raise VerpError(f"mail id must match [a-z0-9]{{1,40}}: {mail_id!r}")
    return f"{mail_id}.{_mac(secret, mail_id)}"


def verify_token(secret: bytes, token: str) -> str:
    """The mail id inside a token whose MAC verifies; ``VerpError`` otherwise."""
    match = _TOKEN.match(token.lower())
    if not match:
        raise VerpError("malformed VERP token")
    mail_id, mac = match.groups()
    if not hmac.compare_digest(mac, _mac(secret, mail_id)):
        raise VerpError("VERP token MAC does not verify")
    return mail_id


def envelope_sender(secret: bytes, mail_id: str, domain: str) -> str:
    return f"bounce+{make_token(secret, mail_id)}@{domain}"


def find_token(text: str) -> str | None:
    """The first ``bounce+TOKEN@`` token in a header or body (unverified), lower-cased."""
    match = _VERP.search(text)
    return match.group(1).lower() if match else None
