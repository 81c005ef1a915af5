"""Vendor reply tables: an MTA or mail service recognised by its identity, whose fixed
wording has a documented meaning that generic rules would read differently.

Identity comes from the notice itself (``X-Mailer``, ``From``, ``Reporting-MTA``) or from
the failing recipient's remote MTA / domain. Each table maps the vendor's own fixed
phrases (lower-case, matched on whitespace-collapsed lower-cased text) to a reason; the
facts come from the vendors' published error lists as collected by sisimai's per-MTA and
per-remote-host modules. See docs/bounce-rules.md ("Vendor tables") for the why of each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IMAIL = "imail"
VERIZON = "verizon"
MESSAGELABS = "messagelabs"
ZOHO = "zoho"
AOL = "aol"
POWERMTA = "powermta"
TENCENT_QQ = "tencent-qq"
GODADDY = "godaddy"

_IMAIL_MAILER = re.compile(r"(?i)^\s*<(?:smtp32|imail) v")
_VERIZON_FROM = re.compile(r"(?i)@(?:[\w-]+\.)*(?:vtext\.com|vzwpix\.com)\b")
_MESSAGELABS_TEXT = ("mail delivery agent at messagelabs.com", "symantec email security.cloud")

_Table = tuple[tuple[str, re.Pattern[str]], ...]


def _t(*rows: tuple[str, str]) -> _Table:
    return tuple((reason, re.compile(pattern)) for reason, pattern in rows)


TABLES: dict[str, _Table] = {
    # Ipswitch IMail Server: the first line of its notice is the reason.
    IMAIL: _t(
        ("userunknown", r"\bunknown user\b|invalid final delivery userid"),
        ("mailboxfull", r"user mailbox exceeds allowed size"),
        ("virusdetected", r"requested action not taken: virus detected"),
        ("hostunknown", r"\bunknown host\b"),
        ("expired", r"delivery failed \d+ attempts"),
    ),
    # Verizon Wireless (vtext.com / vzwpix.com) SMS/MMS gateways.
    VERIZON: _t(
        ("userunknown", r"requested action not taken: no such user here"),
        ("userunknown", r"no valid recipients for this mm"),
    ),
    # Symantec / Broadcom Email Security.cloud (MessageLabs): published NDR codes.
    MESSAGELABS: _t(
        ("userunknown", r"\b542 .{1,200} rejected\b|no such user|invalid recipient"),
        ("userunknown", r"mailbox is not allowed"),
        ("securityerror", r"please turn on smtp authentication in your mail client"),
        ("authfailure", r"domain authentication fail"),
        ("badreputation", r"connection rejected by policy"),
        ("blocked", r"your ip is in the pbl|your ip address (?:\(\S+\) )?has been"),
        ("rejected", r"sender envelope domain not allowed for sender ip address"),
        ("rejected", r"your (?:domain|email address) has been (?:blocked|blacklisted)"),
        ("rejected", r"your envelope sender is in my badmailfrom list"),
        ("notcompliantrfc", r"this message is not rfc 5322"),
        ("spamdetected", r"message filtered|filtered by outbound scanning"),
        ("toomanyconn", r"too many recipients received this hour|too many messages"),
        ("norelaying", r" as a relay, "),
    ),
    # Zoho Mail (mx.zoho.com): published SMTP replies.
    ZOHO: _t(
        ("authfailure", r"email rejected per dmarc policy"),
        ("rejected", r"mail rejected by destination domain"),
        ("rejected", r"email cannot be delivered\. reason: email flagged as spam"),
        ("policyviolation", r"email policy violation detected"),
        ("policyviolation", r"mailbox delivery restricted by policy error"),
        ("systemerror", r"temporary system error"),
        ("userunknown", r"user does not exist"),
        ("virusdetected", r"detected by zoho mail"),
    ),
    # Tencent QQ Mail (mx*.qq.com): its help-page replies, whatever the SMTP phase.
    TENCENT_QQ: _t(
        ("userunknown", r"mailbox not found"),
        ("filtered", r"mail is rejected by recipients"),
        ("spamdetected", r"mail content denied|spam is embedded in the email|suspected spam"),
        ("blocked", r"(?:dmarc|spf) check failed|suspected spam ip"),
        ("mesgtoobig", r"message too large"),
        ("toomanyconn", r"(?:connection|domain|ip|sender) frequency limited|connection denied"),
    ),
    # GoDaddy (secureserver.net): IB codes and fixed account texts.
    GODADDY: _t(
        ("blocked", r"\bib10[3-68]\b|\bib11[0-3]\b|554 rbl reject"),
        ("spamdetected", r"\bib212\b"),
        ("toomanyconn", r"\bib(?:007|504|510|607)\b"),
        ("rejected", r"\bib50[1268]\b"),
        ("virusdetected", r"\bib705\b"),
        ("suspend", r"account disabled"),
        ("mailboxfull", r"account storage limit"),
        ("userunknown", r"account does not exist|550 recipient not found"),
    ),
    # AOL's outbound relays report DNS trouble with fixed texts.
    AOL: _t(
        ("hostunknown", r"host or domain name not found"),
        ("notaccept", r"type=mx: malformed or unexpected name server reply"),
    ),
}

POWERMTA_CATEGORIES: dict[str, str] = {
    "bad-domain": "hostunknown",
    "bad-mailbox": "userunknown",
    "inactive-mailbox": "suspend",
    "message-expired": "expired",
    "no-answer-from-host": "networkerror",
    "policy-related": "policyviolation",
    "quota-issues": "mailboxfull",
    "routing-errors": "systemerror",
    "spam-related": "spamdetected",
}
"""PowerMTA's own per-recipient verdict (``X-PowerMTA-BounceCategory``) -> reason;
categories not listed (``other``, ``unknown``...) fall through to the rules."""

_HOSTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (ZOHO, ("zoho.com", "zohomail.com")),
    (TENCENT_QQ, ("qq.com", "foxmail.com")),
    (GODADDY, (".secureserver.net",)),
    (AOL, (".mx.aol.com", ".mail.aol.com")),
    (MESSAGELABS, (".messagelabs.com",)),
)


def message_vendor(headers: dict[str, str], reporting_mta: str, text: str) -> str:
    """The vendor that wrote the notice, from its own headers or wording ("" if none)."""
    if _IMAIL_MAILER.search(headers.get("x-mailer", "")):
        return IMAIL
    if _VERIZON_FROM.search(headers.get("from", "")):
        return VERIZON
    reporter = reporting_mta.lower()
    if reporter.endswith(".mx.aol.com"):
        return AOL
    if reporter.endswith(".messagelabs.com"):
        return MESSAGELABS
    head = text[:400].lower()
    return MESSAGELABS if any(marker in head for marker in _MESSAGELABS_TEXT) else ""


def host_vendor(remote_mta: str, recipient_domain: str) -> str:
    """The vendor that answered, from the remote MTA or the recipient's domain."""
    mta = remote_mta.lower().split(";")[-1].strip().strip("[]").rstrip(".")
    domain = recipient_domain.lower()
    for vendor, suffixes in _HOSTS:
        for suffix in suffixes:
            dotted = suffix if suffix.startswith(".") else "." + suffix
            if mta.endswith(dotted) or mta == suffix or domain == suffix.lstrip("."):
                return vendor
    return ""


@dataclass(frozen=True, slots=True)
class VendorFacts:
    vendor: str
    code: str
    text: str
    """Whitespace-collapsed, lower-cased diagnostic (and context)."""


def vendor_reason(facts: VendorFacts) -> str:
    """The reason the vendor's table gives, or ""."""
    if facts.code:
        reason = POWERMTA_CATEGORIES.get(facts.code.strip().lower(), "")
        if reason:
            return reason
    for reason, pattern in TABLES.get(facts.vendor, ()):
        if pattern.search(facts.text):
            return reason
    return ""
