"""IMAP response parsing (pure): UID lists, fetched bodies, dates, statuses."""

from __future__ import annotations

import re
from datetime import datetime

from services.bounce.errors import ImapError

_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


def ok(command: str, result: str, lines: list[bytes] | list[object]) -> None:
    """Raise ``ImapError`` unless the server answered OK."""
    if result != "OK":
        detail = " ".join(
            line.decode("utf-8", "replace") for line in lines if isinstance(line, bytes)
        )
        raise ImapError(command, result, detail[:300])


def uids(lines: list[bytes] | list[object]) -> list[int]:
    """The UIDs of a ``UID SEARCH`` answer, ascending."""
    found: set[int] = set()
    for line in lines[:-1]:
        if isinstance(line, bytes | bytearray):
            found.update(int(tok) for tok in bytes(line).split() if tok.isdigit())
    return sorted(found)


def fetched(lines: list[bytes] | list[object]) -> tuple[bytes | None, datetime | None]:
    """The literal body and INTERNALDATE of a single-message ``UID FETCH`` answer."""
    body: bytes | None = None
    when: datetime | None = None
    for line in lines:
        if isinstance(line, bytearray) and body is None:
            body = bytes(line)
        elif isinstance(line, bytes) and when is None:
            match = _INTERNALDATE.search(line)
            if match:
                when = internaldate(match.group(1).decode("ascii", "replace"))
    return body, when


def internaldate(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None


def exists(detail: list[bytes] | list[object]) -> bool:
    """Whether an IDLE push says the mailbox changed (new message arrived)."""
    return any(isinstance(line, bytes) and line.endswith(b"EXISTS") for line in detail)
