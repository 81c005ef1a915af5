"""Wire-format parsing of bounce mail: bytes -> a ``ParsedMail`` (pure, never raises).

Handles RFC 3464 ``message/delivery-status`` parts, ``text/rfc822-headers`` and
``message/rfc822`` returned messages, ARF ``message/feedback-report`` and the decoded
human-readable text of every other part. Free-text (non-MIME) bounces are split into the
diagnostic text and the returned headers by ``freetext.split_returned``.
"""

from __future__ import annotations

import codecs
import email
import html
import re
from dataclasses import dataclass, field
from email.message import Message
from email.policy import compat32

from services.bounce.classifier.dsnfields import DsnFields, split_group
from services.bounce.classifier.fml import notice_records
from services.bounce.classifier.freetext import split_returned
from services.bounce.classifier.mime import build, plain_param
from services.bounce.classifier.sesjson import notification

MAX_BYTES = 1 << 20
"""Only the first MiB of a message is examined; the verdict is in the first few KiB."""

MAX_PARTS = 64
MAX_TEXT = 256 * 1024

_DSN_TYPES = {"message/delivery-status", "message/global-delivery-status"}
_RETURNED_TYPES = {"message/rfc822", "message/global", "message/partial"}
_HEADER_TYPES = {"text/rfc822-headers", "message/global-headers", "message/rfc822-headers"}
_TAG = re.compile(r"<[^>]{0,2000}>")
_HTML_BREAK = re.compile(r"(?i)<(?:br|/p|/div|/tr|/li)\s*/?>")
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]{1,40})\s*:\s?(.*)$")


@dataclass(slots=True)
class ParsedMail:
    """What the classifier needs to know about one message."""

    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""
    report_type: str = ""
    dsn_message: DsnFields = field(default_factory=dict)
    dsn_records: list[DsnFields] = field(default_factory=list)
    text: str = ""
    returned: str = ""
    has_returned_part: bool = False
    feedback: bool = False
    readable: bool = True
    message: Message | None = None
    notification: str = ""
    """Type of an Amazon SES JSON notification ("bounce", "delivery", ...), else ""."""
    returned_raw: str = ""
    """The first returned ``message/rfc822`` part as raw text (a wrapped bounce, maybe)."""


def normalise(raw: bytes) -> bytes:
    """Bound the size, turn CRLF / CR-only endings into LF and drop an mbox ``From `` line."""
    data = raw[:MAX_BYTES]
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if data.startswith(b"From "):
        _, _, data = data.partition(b"\n")
    return data.lstrip(b"\n")


_RETURNED_PART = re.compile(rb"(?im)^content-type:[ \t]*message/(?:rfc822|global)\b")
_TRIM_FROM = 12 * 1024
_KEEP_OF_RETURNED_BODY = 8 * 1024


def trim_returned(data: bytes) -> bytes:
    """Cut a large message a little after the returned original's header block.

    RFC 3462 puts the returned message last; its body (attachments, often most of the
    bytes) says nothing about the failure, so the parser need not read it.
    """
    if len(data) < _TRIM_FROM:
        return data
    m = _RETURNED_PART.search(data)
    part_headers_end = data.find(b"\n\n", m.end()) if m else -1
    inner_headers_end = data.find(b"\n\n", part_headers_end + 2) if part_headers_end >= 0 else -1
    if inner_headers_end < 0:
        return data
    return data[: inner_headers_end + 2 + _KEEP_OF_RETURNED_BODY]


_JIS_ESCAPE = b"\x1b$B"
_KANA = re.compile("[\u3041-\u30ff]")


def _undeclared_japanese(data: bytes) -> str:
    """Japanese text sent without (or with a wrong) charset: ISO-2022-JP by its escape
    sequence, else Shift_JIS / EUC-JP when the whole text decodes and holds kana (Latin-1
    text almost never decodes to kana: their lead bytes are C1 controls there). "" if not."""
    codecs_tried = ("iso2022_jp_ext",) if _JIS_ESCAPE in data else ("cp932", "euc_jp")
    for codec in codecs_tried:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if _KANA.search(text):
            return text
    return ""


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset when Python knows it, else UTF-8, never raising."""
    name = (charset or "").strip().strip('"').lower()
    if name in ("", "us-ascii", "ascii", "unknown-8bit", "x-unknown"):
        name = "utf-8"
    try:
        codecs.lookup(name)
    except LookupError:
        name = "utf-8"
    if name == "utf-8":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return _undeclared_japanese(data) or data.decode("latin-1")
        return (_undeclared_japanese(data) or text) if _JIS_ESCAPE in data else text
    if name.startswith("iso-2022-jp"):
        name = "iso2022_jp_ext"
    return data.decode(name, errors="replace")


def parse_fields(text: str) -> list[DsnFields]:
    """Split ``Name: value`` text into field sets of unfolded fields: one per blank-line
    separated group, or more when a group runs several recipients together."""
    groups: list[list[list[str]]] = [[]]
    for line in text.split("\n"):
        group = groups[-1]
        if not line.strip():
            if group:
                groups.append([])
            continue
        if line[0] in " \t" and group and group[-1][0]:
            group[-1][1] += " " + line.strip()
            continue
        m = _FIELD.match(line)
        if m is None:
            if group:
                group.append(["", ""])  # ends a field: later indented lines are not its own
            continue
        group.append([m.group(1).lower(), m.group(2).strip()])
    blocks: list[DsnFields] = []
    for group in groups:
        blocks.extend(split_group((k, v) for k, v in group if k))
    return blocks


def _param(msg: Message, name: str) -> str | None:
    """``msg.get_param(name)`` as a string, skipping the stdlib's parameter parser (slow)
    when the Content-Type does not even contain the name (then it cannot hold it)."""
    ctype = msg.get("content-type")
    if not isinstance(ctype, str) or name not in ctype.lower():
        return None
    decided, found = plain_param(msg, name)
    if decided:
        return found
    value = msg.get_param(name)
    return value if isinstance(value, str) else None


def _charset(part: Message) -> str | None:
    ctype = part.get("content-type")
    if not isinstance(ctype, str) or "charset" not in ctype.lower():
        return None  # the stdlib's answer too, without running its parameter parser
    decided, found = plain_param(part, "charset")
    if decided:  # get_content_charset: lower-cased, None unless ASCII
        return found.lower() if found is not None and found.isascii() else None
    return part.get_content_charset()


def part_text(part: Message) -> str:
    """The decoded text of a leaf part (HTML reduced to text)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    text = decode_bytes(payload[:MAX_TEXT], _charset(part))
    if part.get_content_subtype() == "html":
        text = html.unescape(_TAG.sub("", _HTML_BREAK.sub("\n", text)))
    return text


def _field_text(value: object) -> str:
    """A DSN field value as text: RFC 6533 ``message/global-delivery-status`` fields may be
    UTF-8 (a Japanese Diagnostic-Code); the parser keeps such bytes as surrogates."""
    text = str(value)
    if text.isascii():
        return text.strip()
    try:
        data = text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return text.strip()
    return decode_bytes(data, "utf-8").strip()


def _dsn_blocks(part: Message) -> list[DsnFields]:
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks: list[DsnFields] = []
        for sub in payload:
            if isinstance(sub, Message):
                blocks.extend(split_group((k.lower(), _field_text(v)) for k, v in sub.raw_items()))
                rest = sub.get_payload(decode=True)  # message/global-delivery-status:
                if isinstance(rest, bytes) and rest.strip():  # the stdlib reads one message
                    blocks.extend(parse_fields(decode_bytes(rest, "utf-8")))
        if blocks:
            return blocks
    return parse_fields(part_text(part))


_LEAF_RETURNED = frozenset({"message/rfc822", "message/global"})


class _Part(Message):
    """A message part whose returned original (``message/rfc822``, ``message/global``)
    the parser keeps as one text leaf: the full parse of the original message (often
    most of the bytes, with its own MIME tree) is skipped; only its header block is read
    (``_returned_text``). ``get_content_type`` still gives the declared type."""

    _ctype_key: tuple[int, str] | None = None
    _ctype: str = ""

    def get_content_type(self) -> str:
        """Memoised: the parser and the walk ask for it dozens of times per part. The key
        (header count, default type) changes whenever the answer could."""
        key = (len(self._headers), self.get_default_type())  # type: ignore[attr-defined]
        if key != self._ctype_key:
            self._ctype = super().get_content_type()
            self._ctype_key = key
        return self._ctype

    def get_content_maintype(self) -> str:
        ctype = self.get_content_type()
        return "text" if ctype in _LEAF_RETURNED else ctype.partition("/")[0]


def _returned_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        inner = payload[0]
        return "\n".join(f"{k}: {v}" for k, v in inner.items())
    text = part_text(part)
    end = text.find("\n\n")
    return text if end < 0 else text[:end]


def _absorb_dsn(pm: ParsedMail, blocks: list[DsnFields]) -> None:
    for block in blocks:
        if "final-recipient" in block or "original-recipient" in block:
            pm.dsn_records.append(block)
        else:
            for k, v in block.items():
                pm.dsn_message.setdefault(k, v)


def _walk(pm: ParsedMail, part: Message, texts: list[str], budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        return
    ctype = part.get_content_type()
    if ctype in _DSN_TYPES:
        _absorb_dsn(pm, _dsn_blocks(part))
    elif ctype in _RETURNED_TYPES:
        pm.has_returned_part = True
        pm.returned += _returned_text(part) + "\n"
        raw = part.get_payload()
        if not pm.returned_raw and isinstance(raw, str):
            pm.returned_raw = raw
    elif ctype in _HEADER_TYPES:
        pm.has_returned_part = True
        pm.returned += part_text(part) + "\n"
    elif ctype == "message/feedback-report":
        pm.feedback = True
        texts.append(part_text(part))
    elif part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    _walk(pm, sub, texts, budget)
    elif part.get_content_maintype() in ("text", "") or ctype == "application/octet-stream":
        texts.append(part_text(part))
    elif part.get_content_maintype() == "multipart":
        texts.append(_unsplit_text(part))


def _unsplit_text(part: Message) -> str:
    """A multipart whose boundary was lost (e.g. an unfolded ``boundary=`` line): its raw
    body still holds the human-readable text, so read it as plain text."""
    payload = part.get_payload()
    return payload[:MAX_TEXT] if isinstance(payload, str) else ""


def _headers(msg: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    fetch = msg.policy.header_fetch_parse
    for key, value in msg._headers:  # type: ignore[attr-defined]  # raw (name, value) pairs
        text = value if isinstance(value, str) and value.isascii() else str(fetch(key, value))
        out.setdefault(key.lower(), text)
    return out


_WRAPPED_BOUNCE = re.compile(
    r"(?im)^content-type:[ \t]*message/delivery-status|^[ \t-]*transcript of (?:the )?session"
    r"|^\.\.\. while talking to "
)


def _unwrap(pm: ParsedMail, depth: int) -> None:
    """A notice with no DSN of its own whose returned message is itself a bounce (a
    gateway such as Trend Micro InterScan wrapping the MTA's report): read the inner
    report's records and text as well. One level only."""
    if depth or pm.dsn_records or not pm.returned_raw:
        return
    if _WRAPPED_BOUNCE.search(pm.returned_raw, 0, 64 * 1024) is None:
        return
    inner = _parse_text(pm.returned_raw, depth + 1)
    if not inner.readable:
        return
    pm.dsn_records = inner.dsn_records
    for key, value in inner.dsn_message.items():
        pm.dsn_message.setdefault(key, value)
    pm.text = f"{pm.text}\n{inner.text}" if inner.text.strip() else pm.text
    pm.returned = inner.returned + pm.returned


def parse(raw: bytes) -> ParsedMail:
    """Parse ``raw`` into a ``ParsedMail``; ``readable`` is False when nothing made sense."""
    data = trim_returned(normalise(raw))
    text = data.decode("ascii", "surrogateescape")  # as email.message_from_bytes does
    return _parse_text(text, 0)


def _parse_text(text: str, depth: int) -> ParsedMail:
    pm = ParsedMail()
    try:
        msg = build(text, _Part) or email.message_from_string(text, _Part, policy=compat32)
        pm.message = msg
        pm.headers = _headers(msg)
        pm.content_type = msg.get_content_type()
        pm.report_type = (_param(msg, "report-type") or "").lower()
        texts: list[str] = []
        _walk(pm, msg, texts, [MAX_PARTS])
        body = "\n".join(texts)
    except Exception:  # the email package is lenient but not total on hostile input
        data = text.encode("ascii", "surrogateescape")
        pm.readable = bool(data.strip())
        body = decode_bytes(data[:MAX_TEXT], "utf-8")
        pm.headers = {}
    if not pm.headers and not body.strip():
        pm.readable = False
    diag, inline = split_returned(body)
    pm.text = diag
    if inline:
        pm.returned += inline
    if not pm.dsn_records:
        pm.notification, pm.dsn_records = notification(diag)
    if not pm.dsn_records:
        pm.dsn_records = notice_records(pm.headers, diag)
    if not pm.dsn_records:
        _absorb_dsn(pm, [b for b in parse_fields(diag) if "status" in b or "action" in b])
    _unwrap(pm, depth)
    return pm
