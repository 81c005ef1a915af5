"""Per-MTA free-text bounce bodies: where the returned message starts, who failed, and the
paragraph that explains each failure (qmail, Exim, Sendmail transcripts, carrier notices).

Pure string functions; ``wire`` and ``classify`` call them.
"""

from __future__ import annotations

import re

_HEADER_LINE = re.compile(
    r"^(?:Received|Return-Path|From|To|Subject|Message-I[dD]|Date|MIME-Version|Mime-Version"
    r"|Content-Type|Content-Transfer-Encoding|X-[A-Za-z0-9-]+|Reply-To|Cc|DKIM-Signature"
    r"|Sender|References|In-Reply-To|Delivered-To|Authentication-Results|ARC-[A-Za-z-]+)"
    r":[ \t]?\S?",
    re.IGNORECASE,
)
_KEY_HEADERS = re.compile(r"^(?:Received|From|Message-Id|Return-Path):", re.I)
"""A returned header block names its origin; To/Cc/Date/Subject alone are a summary
(IMail quotes them above its diagnostic)."""
_DSN_FIELD = re.compile(
    r"^(?:Final-Recipient|Original-Recipient|Action|Status|Remote-MTA|Diagnostic-Code"
    r"|Reporting-MTA|Arrival-Date|Last-Attempt-Date|Received-From-MTA|Will-Retry-Until"
    r"|X-Actual-Recipient|X-Postfix-[A-Za-z-]+|X-Original-Message-ID|X-Display-Name)\s*:",
    re.IGNORECASE,
)
_ORIGINAL_MARKERS = re.compile(
    r"(?im)^[ \t>|-]*(?:-{2,}|={2,}|\*{2,})?[ \t]*(?:"
    r"this is a copy of the message|below this line is a copy of the message"
    r"|original message follows|original message headers"
    r"|returned message|undelivered message|message headers follow|headers of the original"
    r"|the header of the original message|unsent message below|bounced e-mail"
    r"|content-type: message/rfc822"
    r")"
)
_MARKER_SCAN = 64 * 1024
_MARKER_WORDS = (
    "copy of the message",
    "original message",
    "returned message",
    "undelivered message",
    "message headers follow",
    "header",
    "unsent message below",
    "bounced e-mail",
    "message/rfc822",
)
"""Cheap prefilter: ``_ORIGINAL_MARKERS`` can only match text holding one of these."""
ADDRESS = re.compile(
    r"(?<![\w.+=-])([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)
_NON_PATRON = re.compile(r"(?i)^(?:mailer-daemon|postmaster|double-bounce|root|nobody)@")


def _header_run_start(lines: list[str], start: int) -> int:
    """Index of the first run of >=3 header lines (with a key header) at or after ``start``."""
    i = start
    n = len(lines)
    while i < n:
        line = lines[i]
        if _HEADER_LINE.match(line) and not _DSN_FIELD.match(line):
            j, count, key = i, 0, False
            while j < n and j - i < 40:
                cur = lines[j]
                if cur[:1] in (" ", "\t") and count:
                    j += 1
                    continue
                if not _HEADER_LINE.match(cur) or _DSN_FIELD.match(cur):
                    break
                count += 1
                key = key or bool(_KEY_HEADERS.match(cur))
                j += 1
            if count >= 3 and key:
                return i
            i = max(j, i + 1)
            continue
        i += 1
    return -1


_MARKER_PHRASES = re.compile(
    r"this is a copy of the message|below this line is a copy of the message"
    r"|original message follows|original message headers"
    r"|returned message|undelivered message|message headers follow|headers of the original"
    r"|the header of the original message|unsent message below|bounced e-mail"
    r"|content-type: message/rfc822"
)
"""The literal phrases of ``_ORIGINAL_MARKERS`` (lower-case): every match holds one."""


def _marker(body: str) -> re.Match[str] | None:
    """``_ORIGINAL_MARKERS.search(body, 0, _MARKER_SCAN)``, cheaper: on ASCII text (where
    lower-casing is exactly what IGNORECASE compares) only the lines holding a marker
    phrase are tried, in order, instead of every position of the text."""
    head = body[:_MARKER_SCAN]
    low = head.lower()
    if not any(word in low for word in _MARKER_WORDS):
        return None
    if not head.isascii():
        return _ORIGINAL_MARKERS.search(body, 0, _MARKER_SCAN)
    for phrase in _MARKER_PHRASES.finditer(low):
        line = low.rfind("\n", 0, phrase.start()) + 1
        found = _ORIGINAL_MARKERS.match(body, line, _MARKER_SCAN)
        if found is not None:
            return found
    return None


def split_returned(body: str) -> tuple[str, str]:
    """Split a free-text body into (diagnostic text, inline returned headers)."""
    marker = _marker(body)
    cut = marker.start() if marker else len(body)
    lines = body[cut:].split("\n") if marker else body.split("\n")
    start = _header_run_start(lines, 1 if marker else 0)
    if marker:
        returned = "\n".join(lines[start:]) if start >= 0 else ""
        return body[:cut], _headers_only(returned)
    if start < 0:
        return body, ""
    return "\n".join(lines[:start]), _headers_only("\n".join(lines[start:]))


def _headers_only(text: str) -> str:
    head, _, _ = text.partition("\n\n")
    return head


def addresses(text: str) -> list[str]:
    """Distinct addresses in ``text``, in order of appearance, lower-cased."""
    seen: dict[str, None] = {}
    for m in ADDRESS.finditer(text):
        addr = m.group(1).strip(".'").lower()  # 'addr' quoting is not part of it
        if addr.startswith("rfc822;"):
            addr = addr[7:]
        seen.setdefault(addr, None)
    return list(seen)


def candidate_recipients(text: str, exclude: set[str]) -> list[str]:
    """Addresses a free-text bounce names as failed, excluding senders and daemons."""
    out: list[str] = []
    for addr in addresses(text):
        if addr in exclude or _NON_PATRON.match(addr) or addr.count("@") != 1:
            continue
        out.append(addr)
    return out


_TRANSCRIPT_RCPT = re.compile(r"^[245]\d\d <[^>\s]+>\.\.\. ")
_TRANSCRIPT_STEP = re.compile(r"(?i)^(?:[245]\d\d |(?:\.\.\. )?while talking to )")


def _transcript_paragraph(lines: list[str], at: int, rcpt: str, limit: int) -> str:
    """A sendmail transcript's ``554 <rcpt>... reason`` line, with the SMTP exchange
    (``>>>`` / ``<<<`` lines) right above it that caused it, up to the next reply line
    about something else (``550 example.org (smtp)...`` belongs to the next recipient)."""
    start = at
    while start > 0 and lines[start - 1].startswith(("<<<", ">>>")):
        start -= 1
    end = at + 1
    while end < len(lines) and end <= at + limit:
        nxt = lines[end]
        if rcpt not in nxt.lower() and _TRANSCRIPT_STEP.match(nxt):
            break
        end += 1
    return "\n".join(lines[start:end])


def _names_host(line: str, domains: set[str]) -> bool:
    """Does ``line`` speak of another failed recipient's domain (sendmail's
    ``550 example.org (smtp)... Host unknown`` line belongs to that recipient)?"""
    for domain in domains:
        at = line.find(domain)
        if at >= 0 and (at == 0 or not (line[at - 1].isalnum() or line[at - 1] in ".-")):
            return True
    return False


def paragraph_for(text: str, recipient: str, others: list[str], limit: int = 16) -> str:
    """The lines of ``text`` that explain ``recipient``'s failure.

    Starts at the first line naming the recipient and stops at the next line naming a
    different failed recipient, or after ``limit`` lines.
    """
    rcpt = recipient.lower()
    low_text = text.lower()  # lower-casing never adds or removes a newline
    if rcpt not in low_text:
        return ""
    lines = text.split("\n")
    lows = low_text.split("\n")
    others_l = [o for o in others if o != rcpt]
    own_domain = rcpt.rpartition("@")[2]
    domains = {o.rpartition("@")[2] for o in others_l} - {own_domain, ""}
    for i, line_low in enumerate(lows):
        if rcpt in line_low:
            if _TRANSCRIPT_RCPT.match(lines[i]):
                return _transcript_paragraph(lines, i, rcpt, limit)
            out = [lines[i]]
            for j in range(i + 1, min(i + 1 + limit, len(lines))):
                low = lows[j]
                if rcpt not in low and (
                    any(o in low for o in others_l) or _names_host(low, domains)
                ):
                    break
                out.append(lines[j])
            return "\n".join(out)
    return ""
