"""Value types of the compose core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

#: The sender's display name for every service mail (Q16).
SENDER_NAME = "オンライン貸出サービス担当"
#: The library's mail domain (Q14, Q15).
LIBRARY_DOMAIN = "plib.pref.aomori.lg.jp"

Charset = Literal["utf-8", "iso-2022-jp"]


@dataclass(frozen=True)
class Envelope:
    """Header values the delivery side chooses. ``date`` must be aware."""

    to: str
    from_addr: str
    from_name: str
    message_id: str
    date: datetime
    reply_to: str | None = None


@dataclass(frozen=True)
class RenderedMail:
    """A mail's text before MIME: the subject (one line) and the body (``\\n`` lines)."""

    subject: str
    body: str


@dataclass(frozen=True)
class ComposedMail:
    """The full RFC 5322 message (CRLF line endings), ready for SMTP DATA."""

    data: bytes
    subject: str
    charset: Charset
