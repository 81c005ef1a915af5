"""``classify(raw)``: bytes of one received message -> ``Classification`` (pure, total)."""

from __future__ import annotations

import re
from email.message import Message

from services.bounce.classifier import detect, pending
from services.bounce.classifier.decide import Facts, Verdict, decide
from services.bounce.classifier.dsnfields import DsnFields
from services.bounce.classifier.flufl_scan import all_failures
from services.bounce.classifier.freetext import addresses, candidate_recipients, paragraph_for
from services.bounce.classifier.model import (
    Category,
    Classification,
    Evidence,
    RecipientResult,
    SentMailLookup,
)
from services.bounce.classifier.vendors import host_vendor, message_vendor
from services.bounce.classifier.wire import ParsedMail, parse

_EXPANDED = re.compile(r"(?i)\(expanded from:? <?([^>\s)]+@[^>\s)]+)>?\)")
_DIAG_LIMIT = 600
_CONTEXT_LIMIT = 2000


_RETURNED = frozenset({"message/rfc822", "message/global", "message/partial"})


def _drop_returned_bodies(msg: Message) -> None:
    """Keep only the header block of each returned original (its body is most of the
    lines flufl.bounce's detectors would scan, and names no failure). The tree is this
    classification's own: nothing else reads it afterwards."""
    for part in msg.walk():
        payload = part.get_payload()
        if part.get_content_type() in _RETURNED and isinstance(payload, str):
            end = payload.find("\n\n")
            if end >= 0:
                part.set_payload(payload[: end + 1])


def _flufl_recipients(msg: Message | None) -> list[str]:
    if msg is None:
        return []
    _drop_returned_bodies(msg)
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # third-party heuristics on hostile input: treat as "found nothing"
        return []
    found = {a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in temporary}
    found |= {a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in permanent}
    return sorted(a.strip("<>").lower() for a in found if "@" in a)


def _header_failures(pm: ParsedMail) -> list[str]:
    """``X-Failed-Recipients`` (Exim, Google Groups): the MTA's own list, no guessing."""
    return addresses(pm.headers.get("x-failed-recipients", ""))


def _own_addresses(pm: ParsedMail) -> set[str]:
    keys = ("to", "from", "return-path", "delivered-to", "x-original-to", "reply-to")
    found: set[str] = set()
    for key in keys:
        found.update(addresses(pm.headers.get(key, "")))
    return found


def _free_text_recipients(pm: ParsedMail) -> list[str]:
    """Failed recipients of a non-DSN bounce.

    flufl.bounce's per-MTA detectors decide which addresses failed; the addresses our own
    scan finds in the diagnostic text fill in when flufl recognises nothing.
    """
    own = _own_addresses(pm)
    in_text = candidate_recipients(pm.text, own)
    if len(in_text) == 1:
        return in_text
    found = [a for a in _header_failures(pm) if a not in own]
    found = found or [a for a in _flufl_recipients(pm.message) if a not in own]
    if found:
        ordered = [a for a in in_text if a in found]
        return ordered + [a for a in found if a not in ordered]
    return in_text[:20]


def _facts_from_record(pm: ParsedMail, rec: DsnFields, others: list[str], vendor: str) -> Facts:
    rcpt = detect.record_recipient(rec)
    remote_mta = detect.strip_type(rec.get("remote-mta", ""))
    diag = detect.strip_type(rec.get("diagnostic-code", ""))[:_DIAG_LIMIT]
    para = paragraph_for(pm.text, rcpt, others) if rcpt else ""
    if not para and len(others) <= 1 and not diag:
        para = pm.text[:_CONTEXT_LIMIT]
    status = detect.find_status(rec.get("status", ""), diag)
    relayed = detect.relayed_reply(diag)
    if relayed:
        para = para.replace(detect.relay_summary(diag), "")
        diag, status = relayed, detect.find_status(relayed) or status
    action = rec.get("action", "").strip().lower()
    return Facts(
        recipient=rcpt,
        status=status,
        diagnostic=diag,
        context=para,
        command=detect.smtp_command(f"{diag}\n{para}") or _greeting(pm, others),
        remote_mta=remote_mta,
        action=action,
        diagnostic_type=_diag_type(rec.get("diagnostic-code", "")),
        spasign_ng=_spasign_ng(pm),
        vendor=vendor or host_vendor(remote_mta, rcpt.rpartition("@")[2]),
        vendor_code=rec.get("x-powermta-bouncecategory", ""),
        pending=pending.record_pending(action, status, diag, para),
    )


def _facts_from_text(pm: ParsedMail, rcpt: str, others: list[str], vendor: str) -> Facts:
    para = paragraph_for(pm.text, rcpt, others) if rcpt else ""
    primary = para or pm.text[:_CONTEXT_LIMIT]
    status = detect.find_status(primary) or _sole_status(pm.text, len(others))
    notice = f"{detect.header(pm, 'subject')}\n{pm.text[: _CONTEXT_LIMIT * 2]}"
    return Facts(
        recipient=rcpt,
        status=status,
        diagnostic=primary[: _DIAG_LIMIT * 4],
        context=pm.text[:_CONTEXT_LIMIT] if para else "",
        command=detect.smtp_command(primary) or _greeting(pm, others),
        remote_mta="",
        action="",
        diagnostic_type="",
        spasign_ng=_spasign_ng(pm),
        vendor=vendor or host_vendor("", rcpt.rpartition("@")[2]),
        pending=pending.text_pending(notice, primary, status),
    )


def _greeting(pm: ParsedMail, others: list[str]) -> str:
    """CONNECT when a single-recipient transcript shows the greeting was refused."""
    return "CONNECT" if len(others) <= 1 and detect.greeting_refused(pm.text) else ""


def _sole_status(text: str, recipients: int) -> str:
    """The status code of a single-recipient notice whose text names exactly one."""
    if recipients > 1:
        return ""
    found = set(detect.all_statuses(text[:_CONTEXT_LIMIT]))
    return found.pop() if len(found) == 1 else ""


def _diag_type(value: str) -> str:
    kind, sep, _ = value.partition(";")
    kind = kind.strip().lower()
    return kind if sep and kind and " " not in kind and len(kind) < 20 else ""


def _spasign_ng(pm: ParsedMail) -> bool:
    return pm.headers.get("x-spasign", "").strip().upper().startswith("NG")


def _same(a: str, b: str) -> bool:
    return a.replace('"', "").strip("<>") == b.replace('"', "").strip("<>")


def _trail(rec: DsnFields | None, facts: Facts) -> str:
    """An earlier address in the delivery chain that differs from the failing one."""
    if rec is not None:
        for key in ("x-actual-recipient", "original-recipient"):
            addr = detect.strip_type(rec.get(key, "")).lower()
            if "@" in addr and facts.recipient and _same(addr, facts.recipient) is False:
                return addr
    m = _EXPANDED.search(f"{facts.diagnostic}\n{facts.context}")
    if m and not _same(m.group(1).lower(), facts.recipient):
        return m.group(1).lower()
    return ""


def _sent_to(sent: SentMailLookup | None, keys: tuple[str, str]) -> str:
    if sent is None:
        return ""
    for key in keys:
        if key:
            addr = sent(key)
            if addr:
                return addr.lower()
    return ""


_NO_CAUSE = frozenset({"onhold", "undefined"})


def _forwarding(verdict: Verdict, trail: str, mismatch: bool) -> str:
    """Why forwarding is involved ("" when it is not): staff are told either way."""
    if mismatch:
        return "sent-mismatch"
    if trail:
        return "trail"
    return "loop" if verdict.rule == "mailloop" else ""


def _result(
    facts: Facts, verdict: Verdict, trail: str, sent_to: str, ids: tuple[str, str]
) -> RecipientResult:
    """Category = the underlying cause; ``forwarding_failure`` only when the address that
    failed is not the one the library mailed (``sent`` lookup), or when a forwarding trail
    is the only evidence (no underlying cause known), and never while delivery is still
    being retried (``facts.pending``: a delay warning is transient)."""
    category = verdict.category
    mismatch = bool(sent_to and facts.recipient and sent_to != facts.recipient)
    forwarding = _forwarding(verdict, trail, mismatch)
    cause = verdict.underlying or category
    underlying = cause.value if forwarding or verdict.underlying else ""
    final = not facts.pending
    if final and (mismatch or (forwarding == "trail" and verdict.rule in _NO_CAUSE)):
        category = Category.FORWARDING_FAILURE
    evidence = Evidence(
        rule=verdict.rule,
        diagnostic=" ".join(facts.diagnostic.split())[:300],
        remote_mta=facts.remote_mta,
        smtp_command=facts.command,
        action=facts.action,
        original_recipient=trail,
        sent_to=sent_to,
        underlying_category=underlying,
        forwarding=forwarding,
        original_message_id=ids[0],
        verp_token=ids[1],
    )
    return RecipientResult(facts.recipient, category, facts.status, verdict.why, evidence)


def _bounce_recipients(
    pm: ParsedMail, sent: SentMailLookup | None, ids: tuple[str, str]
) -> list[RecipientResult]:
    sent_to = _sent_to(sent, (ids[1], ids[0]))
    out: list[RecipientResult] = []
    vendor = message_vendor(pm.headers, pm.dsn_message.get("reporting-mta", ""), pm.text)
    if pm.dsn_records:
        rcpts = [detect.record_recipient(r) for r in pm.dsn_records]
        for rec in pm.dsn_records:
            action = rec.get("action", "").lower()
            if action.startswith(("delivered", "relayed", "expanded")):
                continue
            facts = _facts_from_record(pm, rec, rcpts, vendor)
            out.append(_result(facts, decide(facts), _trail(rec, facts), sent_to, ids))
        return out
    rcpts = _free_text_recipients(pm) or [""]
    for rcpt in rcpts:
        facts = _facts_from_text(pm, rcpt, rcpts, vendor)
        out.append(_result(facts, decide(facts), _trail(None, facts), sent_to, ids))
    return out


def _not_bounce(
    pm: ParsedMail, detector: str, *, complaint: bool = False, auto_reply: bool = False
) -> Classification:
    return Classification(
        is_bounce=False,
        is_complaint=complaint,
        is_auto_reply=auto_reply,
        original_message_id=detect.original_message_id(pm),
        verp_token=detect.verp_token(pm),
        detector=detector,
    )


def _bounce(pm: ParsedMail, sent: SentMailLookup | None) -> Classification:
    ids = (detect.original_message_id(pm), detect.verp_token(pm))
    results = tuple(_bounce_recipients(pm, sent, ids))
    return Classification(
        is_bounce=bool(results),
        recipients=results,
        original_message_id=ids[0],
        verp_token=ids[1],
        detector="rfc3464" if pm.dsn_records else "free-text",
    )


def classify_parsed(pm: ParsedMail, sent: SentMailLookup | None = None) -> Classification:
    """Classify an already parsed message."""
    if not pm.readable:
        return Classification(is_bounce=False, readable=False, detector="unreadable")
    if detect.is_complaint(pm):
        return _not_bounce(pm, "arf-feedback", complaint=True)
    if pm.notification and pm.notification != "bounce":
        return _not_bounce(
            pm, f"ses-{pm.notification}"[:40], complaint=pm.notification == "complaint"
        )
    if detect.is_success_report(pm):
        return _not_bounce(pm, "dsn-success")
    if detect.is_read_receipt(pm):
        return _not_bounce(pm, "mdn-read-receipt")
    if detect.is_auto_submitted_reply(pm):
        return _not_bounce(pm, "rfc3834-auto-reply", auto_reply=True)
    if not pm.dsn_records and not detect.looks_like_bounce(pm):
        return _not_bounce(pm, "no-bounce-signal")
    return _bounce(pm, sent)


def classify(raw: bytes, *, sent: SentMailLookup | None = None) -> Classification:
    """Classify one received message given as raw bytes; never raises.

    ``sent`` maps the original Message-ID or VERP token to the address the library mailed;
    when given, a failing recipient that differs from it is a forwarding failure.
    """
    try:
        return classify_parsed(parse(raw), sent)
    except Exception:  # the core is total: an internal bug must quarantine, not crash
        return Classification(is_bounce=False, readable=False, detector="internal-error")
