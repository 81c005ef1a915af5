"""Message-level decisions: is this a complaint, an auto-reply, a success report, a bounce?

Also extracts the correlation keys (original Message-ID, VERP token) and the facts per
recipient that the rule table needs (status code, SMTP command, remote MTA).
"""

from __future__ import annotations

import re
from email.errors import MessageError
from email.header import decode_header, make_header

from services.bounce.classifier import rules as r
from services.bounce.classifier.dsnfields import DsnFields
from services.bounce.classifier.wire import ParsedMail

_VERP = re.compile(r"(?i)\bbounce\+([a-z0-9]{1,40}\.[a-z2-7]{16})@")
"""Our envelope sender's token (``shared/verp.py``: mail id, ".", 16-character base32 MAC)
at any domain: the mail domain is configurable and the MAC, verified by the bounce service,
is what authenticates a token. Every repeat is bounded, so a scan is linear in its input
(an unbounded token class backtracked quadratically over a body of ``bounce+`` repeats)."""
_MESSAGE_ID = re.compile(r"(?im)^message-id:\s*(<[^>\s]+>)")
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_DAEMON = re.compile(
    r"(?i)mailer-daemon|post_?master|mail ?delivery|mail administrator|mail system"
    r"|delivery ?(?:status|subsystem)|no-?reply.*bounce|^<?>?$|bounce"
)
_MACHINE = re.compile(
    r"(?i)mailer[ _-]?daemon|\b(?:no|do[_.-]?not)[_.-]?reply|\bndr\b|\b(?:mail ?)?gateway\b|\bmta\b"
)
"""Machine senders ``_DAEMON`` leaves out (au/KDDI's ``no-reply@...dion.ne.jp``, "Mailer
Daemon", "MMSC NDR Administrator", a mail gateway): their weak auto-reply signs count for
nothing, and failure wording in their text is a notice's."""
_BOUNCE_SUBJECT = re.compile(
    r"(?i)undeliver|undelivered|returned mail|delivery (?:status|fail|report|problem|notification"
    r"|has failed)|failure notice|mail delivery failed|could not be delivered|non.?delivery"
    r"|nicht zustellbar|unzustellbar|error|fail|bounce|rejected|not delivered|notification"
    r"|warning|delayed|mail system|problem|unable to deliver|non remis|retour|returned"
    r"|エラー|不達|配信|配送|送信できません|失敗|退信|失败|发送|실패|전송되지|не доставлено"
)
_FAILURE_TEXT = (
    r"(?i)could not be delivered|undeliverable|delivery (?:has )?failed"
    r"|permanent(?:ly)? (?:fatal )?error|not be delivered|user unknown|unknown user"
    r"|no such user|delivery to the following|message could not|does not exist"
    r"|(?:was|were|been) not delivered|not been delivered|did not reach|delivery problems"
    r"|non-delivered|error delivering|error (?:has )?occurred while attempting to deliver"
    r"|(?:配送|配信|送信)(?:でき|に失敗|されませんでした)|届きませんでした|退信|未能送达|发送失败"
    r"|전송되지 않|전송 실패|не может быть доставлено"
)
"""Failure wording no responder uses: evidence of a failure notice on its own."""
_FAILURE = re.compile(_FAILURE_TEXT)
_BOUNCE_TEXT = re.compile(_FAILURE_TEXT + r"|error:|rejected|returned|failed")
"""Failure wording, with the words a vacation reply may use too ("when I have returned")."""
_REPLY_LINE = re.compile(
    r"(?im)^(?:[ \t<>|]*|.{0,200}?(?:\bsaid|>):[ \t]*)[45][0-5]\d(?:[ :]|-(?!\d{3})|$).*$"
)
"""A line holding an SMTP reply (4xx/5xx) at its start, after "said:" or after an address
(``<a@b>: 550 ...``): a transcript or a notice quoting the reply."""
_RULE_PHRASES = (r.UNAMBIGUOUS_UNKNOWN, r.HOST_UNKNOWN)
"""The rule table's phrases that say outright that the address does not exist.
``USER_UNKNOWN`` also holds "is unavailable", which a vacation reply says of its sender;
a full mailbox is what a quota warning reports too."""
_AUTO_SUBJECT = re.compile(
    r"(?i)auto(?:matic)?[ -]?(?:reply|response|respons|antwort)|out of (?:the )?office|vacation"
    r"|away (?:from|until)|abwesenheit|absence|自動(?:応答|返信)|不在"
)
_AUTO_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-response")
_BULK = frozenset({"bulk", "junk", "list"})
_REPLY_SUBJECT = re.compile(r"(?i)\s*(?:re|auto)\s*[:：]")
_SUCCESS_ACTIONS = {"delivered", "relayed", "expanded"}
_COMMANDS = re.compile(
    r"(?:in reply to|after|>>>|\()\s*(rcpt to|rcpt|mail from|end of data|data|helo|ehlo"
    r"|initial connection|connect)\b"
)
_RCPT_HINTS = re.compile(
    r"does not like recipient|smtp:rcpt|\brcpt:|recipient address rejected|rcpt to:?\s*<"
)
"""Both run on lower-cased text (a case-insensitive scan is several times slower)."""
_COMMAND_NAMES = {
    "rcpt to": "RCPT",
    "rcpt": "RCPT",
    "mail from": "MAIL",
    "end of data": "DATA",
    "data": "DATA",
    "helo": "HELO",
    "ehlo": "HELO",
    "initial connection": "CONNECT",
    "connect": "CONNECT",
}


def header(pm: ParsedMail, name: str) -> str:
    """A top-level header, RFC 2047 decoded, never raising."""
    value = pm.headers.get(name, "")
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (MessageError, ValueError, LookupError, UnicodeError):  # CharsetError too
        return value  # a broken encoded word (bad base64, say) is left as it came


def is_auto_submitted_reply(pm: ParsedMail) -> bool:
    """RFC 3834 responder (vacation etc.) rather than a delivery failure notice.

    Never a message from MAILER-DAEMON, one with DSN structure or one whose text holds
    failure evidence (``failure_evidence``: a notice, whatever headers its MTA adds; Exim's
    own bounces say ``Auto-Submitted: auto-replied``) — for a person's message with a
    strong sign, only a quoted reply or the rule table's phrases count as evidence, not
    failure wording a vacation reply may use of itself. Strong signals:
    ``Auto-Submitted: auto-replied``, ``X-Autoreply`` / ``X-Autorespond``, ``Precedence:
    auto_reply``, an auto-reply subject. Weak ones, counted only when the sender is not
    daemon-like (sendmail and the carriers mark their notices ``Auto-Submitted:
    auto-generated`` or ``Precedence: bulk``): ``Precedence: bulk|junk|list``, a reply
    subject (``Re:``, ``Auto:``), any other ``Auto-Submitted`` keyword but ``no`` (RFC 3834:
    ``auto-generated`` is not a reply).
    """
    sender = header(pm, "from")
    if "mailer-daemon" in sender.lower() or pm.content_type == "multipart/report":
        return False
    if pm.dsn_records:
        return False
    machine = _machine_sender(pm, sender)
    strong = _strong_signs(pm)
    if failure_evidence(pm, quoted_only=strong and not machine):
        return False
    return strong or (not machine and _weak_signs(pm))


def _machine_sender(pm: ParsedMail, sender: str) -> bool:
    """A daemon or a no-reply system sent it (by its From or its Return-Path)."""
    return_path = header(pm, "return-path")
    return bool(_DAEMON.search(sender) or _MACHINE.search(sender) or _MACHINE.search(return_path))


def _strong_signs(pm: ParsedMail) -> bool:
    precedence = header(pm, "precedence").strip().lower()
    if any(k in pm.headers for k in _AUTO_HEADERS) or "auto_reply" in precedence:
        return True
    auto_submitted = _auto_submitted(header(pm, "auto-submitted"))
    return auto_submitted == "auto-replied" or bool(_AUTO_SUBJECT.search(header(pm, "subject")))


def _weak_signs(pm: ParsedMail) -> bool:
    precedence = header(pm, "precedence").strip().lower()
    auto_submitted = _auto_submitted(header(pm, "auto-submitted"))
    weak = precedence in _BULK or auto_submitted not in ("", "no")
    return weak or bool(_REPLY_SUBJECT.match(header(pm, "subject")))


def _auto_submitted(value: str) -> str:
    """RFC 3834 ``Auto-Submitted`` keyword, lower-cased (parameters and comments aside)."""
    return re.split(r"[;(\s]", value.strip(), maxsplit=1)[0].lower()


def failure_evidence(pm: ParsedMail, *, quoted_only: bool = False) -> bool:
    """Does the text report a delivery failure in words a responder does not use?

    The failure wording of ``looks_like_bounce`` without its everyday words ("returned",
    "failed", "rejected", "error:"), the rule table's unknown-user / unknown-host phrases
    (English and the carriers' Japanese, Chinese, Korean, Russian), or an SMTP reply line
    (``_REPLY_LINE``) with a status code, failure wording or a rule table phrase.

    ``quoted_only`` (a person's message with a strong responder sign): the failure
    wording alone does not count, since a vacation reply may say it of itself ("will not
    be delivered to me until I return", 「…へ送信できます」); the rule table's phrases and
    reply lines still do.
    """
    text = pm.text[:20000]
    if not quoted_only and _FAILURE.search(text):
        return True
    low = " ".join(text.lower().split())
    if any(rule.matches(low) for rule in _RULE_PHRASES):
        return True
    for m in _REPLY_LINE.finditer(text):
        line = m.group(0).lower()
        if _STATUS.search(line) or _BOUNCE_TEXT.search(line):
            return True
        if any(rule.matches(line) for rule in r.EXPLICIT):
            return True
    return False


def is_complaint(pm: ParsedMail) -> bool:
    """ARF (RFC 5965) feedback report, or a Microsoft JMRP complaint in its older format."""
    if pm.feedback or pm.report_type == "feedback-report":
        return True
    if "x-hmxmroriginalrecipient" in pm.headers:
        return True
    return header(pm, "subject").lower().lstrip().startswith("complaint about message from")


def is_read_receipt(pm: ParsedMail) -> bool:
    """An RFC 8098 message disposition notification (read receipt): sent with a null
    return path and often quoting our headers, but it reports a reading, not a failure."""
    return pm.report_type == "disposition-notification" and not pm.dsn_records


def is_success_report(pm: ParsedMail) -> bool:
    """A DSN whose every recipient was delivered/relayed/expanded (RFC 3464 2.x.x)."""
    if not pm.dsn_records:
        return False
    for rec in pm.dsn_records:
        action = rec.get("action", "").lower().split()[:1]
        status = rec.get("status", "")
        if not (action and action[0] in _SUCCESS_ACTIONS) and not status.startswith("2."):
            return False
    return True


def looks_like_bounce(pm: ParsedMail) -> bool:
    """A non-DSN message that its headers present as a delivery failure notice."""
    sender = header(pm, "from")
    return_path = header(pm, "return-path").strip()
    subject = header(pm, "subject")
    daemon = bool(_DAEMON.search(sender)) or return_path in ("<>", "")
    if not daemon:
        return False
    if _BOUNCE_SUBJECT.search(subject) or pm.has_returned_part:
        return True
    return bool(_BOUNCE_TEXT.search(pm.text[:20000]))


def original_message_id(pm: ParsedMail) -> str:
    m = _MESSAGE_ID.search(pm.returned)
    if m:
        return m.group(1)
    for key in ("x-original-message-id", "original-message-id"):
        value = pm.dsn_message.get(key, "")
        if value:
            return value.strip()
    return ""


def verp_token(pm: ParsedMail) -> str:
    """The raw token of ``bounce+TOKEN@DOMAIN``, any domain (verification elsewhere)."""
    for key in ("to", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to"):
        m = _verp_in(pm.headers.get(key, ""))
        if m:
            return m.group(1)
    m = _verp_in(pm.returned) or _verp_in(pm.text)
    return m.group(1) if m else ""


def _verp_in(text: str) -> re.Match[str] | None:
    """``_VERP`` over the first 64 KiB, after a cheap literal check (most texts hold no
    ``bounce+`` at all and the case-insensitive scan is the slow part)."""
    head = text[:65536]
    return _VERP.search(head) if "bounce+" in head.lower() else None


def find_status(*texts: str) -> str:
    """The most specific RFC 3463 status code in ``texts`` (``5.1.1``), or empty.

    A generic ``X.0.0`` is replaced by a specific code found in a later text (a DSN's
    ``Status: 5.0.0`` often hides ``550 5.1.1`` in its Diagnostic-Code).
    """
    found = ""
    for text in texts:
        m = _STATUS.search(text) if text else None
        if m is None:
            continue
        code = ".".join(m.groups())
        if not found or (found.endswith(".0.0") and not code.endswith(".0.0")):
            found = code if not found or found[0] == code[0] else found
        if not found.endswith(".0.0"):
            return found
    return found


def all_statuses(text: str) -> list[str]:
    """Every RFC 3463 status code in ``text``, in order."""
    return [".".join(m.groups()) for m in _STATUS.finditer(text)]


def smtp_command(text: str) -> str:
    """The last SMTP command a transcript or diagnostic says the failure happened at."""
    low = text.lower()
    found = "RCPT" if _RCPT_HINTS.search(low) else ""
    for m in _COMMANDS.finditer(low):
        found = _COMMAND_NAMES.get(m.group(1), found)
    return found


_GREETING_REFUSED = re.compile(r"(?im)^\.\.\. while talking to [^\n]*\n<<< ?5\d\d\b")


def greeting_refused(text: str) -> bool:
    """A sendmail transcript whose first line after "... while talking to HOST:" is a
    5xx reply (``<<<``) with no command (``>>>``) sent: the greeting refused us."""
    return "while talking to" in text and _GREETING_REFUSED.search(text) is not None


_RELAYED = re.compile(r"^[245]\.\d{1,3}\.\d{1,3} - [^'\"\n]{1,80}? [245]\d\d[- ]'([^']{3,})'")


def relayed_reply(diagnostic: str) -> str:
    """The remote server's own reply quoted inside a relay service's summary (Amazon SES:
    ``5.1.0 - Unknown address error 550-'5.7.1 <a@b>... Access denied'``), or "".

    The summary ("Unknown address error", "Other mail system problem") is the relay's
    coarse mapping of that reply and adds nothing to it."""
    m = _RELAYED.match(diagnostic)
    return m.group(1).strip() if m else ""


def relay_summary(diagnostic: str) -> str:
    """The relay's own summary in front of the quoted reply (``5.1.0 - Unknown address
    error 550-'``), or ""; the human-readable part repeats it."""
    m = _RELAYED.match(diagnostic)
    return diagnostic[: m.start(1)] if m else ""


def strip_type(value: str) -> str:
    """``rfc822; <a@b>`` -> ``a@b``; ``smtp; 550 ...`` -> ``550 ...``."""
    _, sep, rest = value.partition(";")
    out = rest if sep and len(_) < 20 and " " not in _.strip() else value
    return out.strip().strip("<>").strip()


def record_recipient(rec: DsnFields) -> str:
    return strip_type(rec.get("final-recipient", "") or rec.get("original-recipient", "")).lower()
