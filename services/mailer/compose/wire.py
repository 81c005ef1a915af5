"""The UTF-8 wire message built directly as bytes (pure): the common, fast case.

The stdlib ``EmailMessage`` machinery (header objects, the policy folder) cost ~4 ms a
mail; the headers here are few and known, so they are written out directly:

- display name and subject as RFC 2047 ``B`` encoded-words (``mime.encoded_words``: each
  at most 75 characters, never splitting a character), folded one word per line (lines
  <= 76 octets), exactly as ``mime.build_message`` writes the display name;
- the body as UTF-8 with CRLF lines, base64 in 76-character lines.

It produces what ``mime.build_message`` produces for these inputs (the tests parse both
back and compare). ``fast_path_ok`` says when it applies; everything else (an ASCII
display name, unusual addresses, ISO-2022-JP) takes the stdlib path.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from services.mailer.compose.dates import JST
from services.mailer.compose.mime import encoded_header, encoded_words
from services.mailer.compose.model import Envelope, RenderedMail

_MAX_LINE = 76
#: Addresses written as they are (the stdlib writes these unchanged too).
_SIMPLE_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+@[A-Za-z0-9.\-]+")
_SIMPLE_MESSAGE_ID = re.compile(r"<[!-~]{1,900}>")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TRAILER = (
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Auto-Submitted: auto-generated\r\n"
    b"X-Auto-Response-Suppress: All\r\n"
    b"\r\n"
)


def fast_path_ok(envelope: Envelope) -> bool:
    """Whether ``build_utf8`` writes this envelope exactly as the stdlib would."""
    addresses = [envelope.to, envelope.from_addr]
    if envelope.reply_to is not None:
        addresses.append(envelope.reply_to)
    return (
        not envelope.from_name.isascii()
        and all(len(a) <= 254 and _SIMPLE_ADDRESS.fullmatch(a) for a in addresses)
        and _SIMPLE_MESSAGE_ID.fullmatch(envelope.message_id) is not None
    )


def build_utf8(mail: RenderedMail, envelope: Envelope) -> bytes:
    """The message's bytes (CRLF). Header values are already checked for CR/LF/NUL."""
    lines = [
        _encoded("From", envelope.from_name) + f"\r\n <{envelope.from_addr}>",
        f"To: {envelope.to}",
        _subject(mail.subject),
        f"Date: {_date_header(envelope.date)}",
        f"Message-ID: {envelope.message_id}",
    ]
    if envelope.reply_to is not None:
        lines.append(f"Reply-To: {envelope.reply_to}")
    head = ("\r\n".join(lines) + "\r\n").encode("ascii")
    return head + _TRAILER + body_base64(mail.body)


def _date_header(moment: datetime) -> str:
    """``email.utils.format_datetime(moment.astimezone(JST))``, written out directly.

    The stdlib formats the zone with ``strftime("%z")`` on every call (about a tenth of
    ``compose``'s CPU); here it is formatted once per UTC offset.
    """
    local = moment.astimezone(JST)
    day = f"{_DAYS[local.weekday()]}, {local.day:02d} {_MONTHS[local.month - 1]} {local.year:04d}"
    hms = f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    return f"{day} {hms} {_zone(local.utcoffset())}"


@lru_cache(maxsize=16)
def _zone(offset: timedelta | None) -> str:
    """``+0900``, as ``format_datetime`` writes the zone of a datetime with ``offset``."""
    if offset is None:
        return "-0000"
    return datetime(2000, 1, 1, tzinfo=timezone(offset)).strftime("%z")


def body_base64(body: str) -> bytes:
    """UTF-8, CRLF line endings (a final one added), base64 in 76-character lines."""
    encoded = base64.b64encode(_crlf_lines(body.encode("utf-8")))
    lines = [encoded[i : i + _MAX_LINE] for i in range(0, len(encoded), _MAX_LINE)]
    return b"\r\n".join(lines) + b"\r\n"


def _crlf_lines(data: bytes) -> bytes:
    """Every line (``\\n``, ``\\r`` or CRLF) ended by CRLF, a final one added when missing."""
    if b"\r" in data:
        return b"\r\n".join(data.splitlines()) + b"\r\n"
    crlf = data.replace(b"\n", b"\r\n")
    return crlf if crlf.endswith(b"\n") else crlf + b"\r\n"


@lru_cache(maxsize=256)
def _subject(subject: str) -> str:
    """The Subject header (cached: the mails of a run share a handful of subjects)."""
    if subject.isascii():
        return "Subject: " + encoded_header("Subject", subject, "utf-8").replace("\n", "\r\n")
    return _encoded("Subject", subject)


@lru_cache(maxsize=256)
def _encoded(name: str, value: str) -> str:
    """``Name: =?utf-8?b?...?=`` folded one encoded-word per line (cached, as above)."""
    return f"{name}: " + "\r\n ".join(encoded_words(name, value, "utf-8"))
