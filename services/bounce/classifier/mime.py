"""A light MIME splitter producing the same ``Message`` tree as the stdlib feed parser.

The stdlib parser reads every body line through a Python generator, which was ~40% of
the classifier's time. Here header blocks are still parsed by the stdlib (small), but
multipart bodies are cut at their boundary lines with ``re.finditer`` and leaf bodies are
stored as one string. Anything unusual (no boundary, unclosed or doubled boundaries,
``multipart/digest``, a header block the stdlib ends early, deep nesting) returns ``None``
and the caller falls back to the full stdlib parse, so the tree is always the stdlib's.
``message/*`` leaves other than the returned original (DSN blocks, feedback reports) are
small and parsed by the stdlib directly.

Input is LF-only text (``wire.normalise``), decoded as the stdlib does (ASCII with
surrogate escapes).
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import Parser
from email.policy import compat32
from itertools import pairwise

_MAX_DEPTH = 12


def _header_parser(cls: type[Message]) -> Parser:
    return Parser(_class=cls, policy=compat32)


_NAME = re.compile(r"[\041-\071\073-\176]+:")


def _fast_head(head: str, cls: type[Message]) -> Message | None:
    """The plain case of the stdlib's compat32 header parse; ``None`` when a line is not
    a well-formed field or continuation (the stdlib then decides)."""
    msg = cls()
    fields: list[tuple[str, str]] = msg._headers  # type: ignore[attr-defined]
    name = ""
    pieces: list[str] = []
    for line in head.split("\n")[:-1] if head else ():
        if line[:1] in (" ", "\t"):
            if not name:
                return None
            pieces.append(line)
            continue
        m = _NAME.match(line)
        if m is None or line.startswith("From "):
            return None
        if name:  # set_raw under compat32 stores (name, value) as given
            fields.append((name, "\n".join(pieces).rstrip("\r\n")))
        name = line[: m.end() - 1]
        pieces = [line[m.end() :].lstrip(" \t")]
    if name:
        fields.append((name, "\n".join(pieces).rstrip("\r\n")))
    return msg


def _split_head(chunk: str) -> tuple[str, str]:
    if chunk.startswith("\n"):
        return "", chunk[1:]
    end = chunk.find("\n\n")
    if end < 0:
        return chunk, ""
    return chunk[: end + 1], chunk[end + 2 :]


Mark = tuple[int, int, bool]
"""A boundary line: (start, end before its newline, is the close boundary)."""


def _boundary_lines(body: str, boundary: str, *, nested: bool) -> list[Mark] | None:
    """The lines ``--boundary`` / ``--boundary--`` (trailing blanks allowed), or ``None``
    when the layout is unusual (the stdlib then parses)."""
    sep = "--" + boundary
    found: list[Mark] = []
    at = body.find(sep)
    while at >= 0:
        line_end = body.find("\n", at)
        line_end = len(body) if line_end < 0 else line_end
        if at == 0 or body[at - 1] == "\n":
            rest = body[at + len(sep) : line_end]
            close = rest.startswith("--") and not rest[2:].strip(" \t")
            if close or not rest.strip(" \t"):
                found.append((at, line_end, close))
        at = body.find(sep, at + 1)
    if not found or found[0][2]:
        return None
    if not found[-1][2]:
        if nested or not body.endswith("\n"):
            return None
        found.append((len(body), len(body), False))  # unclosed: the last part runs to EOF
    for prev, cur in pairwise(found):
        if prev[2] or cur[0] <= prev[1] + 1:
            return None  # a part after the close, or doubled boundary lines
    return found


_PLAIN_CTYPE = re.compile(
    r'\s*[\w.+-]+/[\w.+-]+\s*(?:;\s*[\w.-]+\s*=\s*(?:"[^"\\<>;]*"|[^;"\s\\<>()]+)\s*)*;?\s*'
)
_BOUNDARY = re.compile(r'(?i);\s*boundary\s*=\s*(?:"([^"\\<>]*)"|([^;"\s\\<>()]+))')


def _boundary(msg: Message) -> str | None:
    """``msg.get_boundary()`` without the stdlib's parameter parser for the plain case
    (no RFC 2231 ``*``, no escapes, no comments, one ``boundary``); else the stdlib."""
    ctype = msg.get("content-type")
    if isinstance(ctype, str) and "*" not in ctype and _PLAIN_CTYPE.fullmatch(ctype):
        found: list[tuple[str, str]] = _BOUNDARY.findall(ctype)
        if len(found) == 1:
            quoted, bare = found[0]
            return (quoted or bare).rstrip()
    boundary = msg.get_boundary()
    return boundary if isinstance(boundary, str) else None


_PARAMS: dict[str, re.Pattern[str]] = {
    name: re.compile(r"(?i);\s*" + name + r'\s*=\s*(?:"([^"\\<>]*)"|([^;"\s\\<>()]+))')
    for name in ("charset", "report-type")
}


def plain_param(msg: Message, name: str) -> tuple[bool, str | None]:
    """``msg.get_param(name)`` for a plain Content-Type (as in ``_boundary``):
    ``(True, value or None when absent)``, or ``(False, None)`` for anything unusual
    (then only the stdlib's parameter parser can tell)."""
    ctype = msg.get("content-type")
    if ctype is None:
        return True, None
    if not isinstance(ctype, str) or "*" in ctype or not _PLAIN_CTYPE.fullmatch(ctype):
        return False, None
    found: list[tuple[str, str]] = _PARAMS[name].findall(ctype)
    if len(found) > 1:
        return False, None
    return True, (found[0][0] or found[0][1]) if found else None


def _multipart(msg: Message, body: str, cls: type[Message], depth: int) -> bool:
    boundary = _boundary(msg)
    if not boundary or msg.get_content_type() == "multipart/digest":
        return False
    lines = _boundary_lines(body, boundary, nested=depth > 0)
    if lines is None:
        return False
    if lines[0][0] > 0:
        msg.preamble = body[: lines[0][0] - 1]
    parts: list[Message] = []
    for cur, nxt in pairwise(lines):
        sub = build(body[cur[1] + 1 : nxt[0] - 1], cls, depth + 1)
        if sub is None or (nxt[0] == len(body) and not nxt[2] and sub.is_multipart()):
            return False  # (an unclosed multipart ending in a multipart: the stdlib's call)
        parts.append(sub)
    msg.set_payload(parts)  # type: ignore[arg-type]  # stub lacks list[Message]
    if lines[-1][2]:
        tail = body[lines[-1][1] :]
        msg.epilogue = tail[1:] if tail.startswith("\n") else tail
    return True


def _dsn(msg: Message) -> bool:
    return msg.get_content_type() == "message/delivery-status"


def _delivery_status(msg: Message, body: str, cls: type[Message]) -> Message | None:
    """``message/delivery-status``: blank-line separated header blocks, each one a
    ``Message`` with an empty payload, as the stdlib's feed parser builds them (one blank
    line ends a block; a further blank line is an empty block)."""
    parts = body.split("\n")
    lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    blocks: list[Message] = []
    i, n = 0, len(lines)
    while True:
        start = i
        while i < n and lines[i] != "\n":
            i += 1
        block = "".join(lines[start:i])
        sub = _fast_head(block if block.endswith("\n") or not block else block + "\n", cls)
        if sub is None or sub.get_content_maintype() in ("message", "multipart"):
            return None  # a block typed as a container: the stdlib parses it recursively
        sub.set_payload("")
        blocks.append(sub)
        i += 1  # the blank line ending the block
        if i >= n:
            break
    msg.set_payload(blocks)  # type: ignore[arg-type]  # stub lacks list[Message]
    return msg


def build(chunk: str, cls: type[Message], depth: int = 0) -> Message | None:
    """The ``Message`` the stdlib would parse from ``chunk``, or ``None`` (fall back)."""
    if depth > _MAX_DEPTH:
        return None
    head, body = _split_head(chunk)
    msg = _fast_head(head, cls) if head.endswith("\n") or not head else None
    if msg is None:
        msg = _header_parser(cls).parsestr(head, headersonly=True)
        if msg.get_payload():
            return None  # the stdlib ended the header block early: it does the whole job
    maintype = msg.get_content_maintype()
    if maintype == "multipart":
        return msg if _multipart(msg, body, cls, depth) else None
    if maintype == "message":
        # the stdlib's DSN block parser still sees a subpart's final newline (the
        # boundary owns it only for string payloads); checked against the corpus
        if _dsn(msg):
            return _delivery_status(msg, body + "\n" if depth else body, cls)
        return _header_parser(cls).parsestr(chunk)
    msg.set_payload(body)
    return msg
