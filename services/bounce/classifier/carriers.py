"""Carrier and big-provider knowledge that generic rules cannot see.

Japanese mobile carriers (docomo, au/KDDI, SoftBank) answer "Unknown user" both for an
address that does not exist and for a patron whose reception setting (指定受信 / PC mail
refusal) rejects our domain. The SMTP phase and the status code tell them apart:
rejected at RCPT TO with 5.1.1 = the mailbox does not exist; rejected at/after DATA, or
status 5.2.0, or au's address-less ``550 : User unknown`` = the reception filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from services.bounce.classifier.model import Category

DOCOMO = ("docomo.ne.jp",)
AU = ("ezweb.ne.jp", "au.com", "auone-net.jp", "dion.ne.jp")
SOFTBANK = ("softbank.ne.jp", "i.softbank.jp", "vodafone.ne.jp", "disney.ne.jp")
WILLCOM = ("pdx.ne.jp", "willcom.com", "ymobile.ne.jp", "emobile.ne.jp")
JP_MOBILE = DOCOMO + AU + SOFTBANK + WILLCOM

_UNKNOWN_USER = re.compile(r"(?i)unknown user|user unknown")
_AU_NO_ADDRESS = re.compile(r"(?i)\b550 ?: ?user unknown")
_AU_WITH_ADDRESS = re.compile(r"(?i)<[^>\s]+@[^>\s]+>:? ?user unknown")
_MICROSOFT = ("outlook.com", "hotmail.com", "live.com", "msn.com", "protection.outlook.com")
_MS_BANNED = re.compile(r"(?i)5\.7\.(?:60[6-9]|6[1-4]\d)|banned sending ip|sc-00[1-9]|dy-00")
_MS_DBEB = re.compile(r"(?i)5\.4\.1 .{0,60}recipient address rejected: access denied")
_GOOGLE = ("gmail.com", "googlemail.com", "google.com", "aspmx.l.google.com")
_GMAIL_UNSOLICITED = re.compile(r"(?i)unsolicited mail|gmail.{0,40}(?:spam|bulk)")
_GROUPS_REFUSAL = re.compile(
    r"(?i)may not have permission to post|send mail as' feature|not authorized to post to"
)


REASONS = {
    "jp-au-spasign-ng": "au reception filter refused our domain (X-SPASIGN: NG)",
    "jp-carrier-reception-filter": "mobile carrier reception setting refuses our domain",
    "jp-carrier-unknown-5.1.1": "mobile carrier: mailbox does not exist (5.1.1)",
    "jp-carrier-refused-at-data": "mobile carrier refused after DATA: reception filter",
    "jp-carrier-unknown-at-rcpt": "mobile carrier: mailbox does not exist (refused at RCPT)",
    "jp-au-unknown-named-address": "au: mailbox does not exist",
    "jp-docomo-unknown-user-ambiguous": "docomo 'Unknown user': usually the reception filter",
    "microsoft-banned-ip": "Microsoft refuses our sending IP",
    "microsoft-dbeb-unknown-recipient": "Exchange Online: no such recipient",
    "google-groups-post-refused": "Google Group refuses posts from our address",
    "gmail-unsolicited": "Gmail classified our mail as unsolicited",
}

_ORANGE_LAPOSTE = ("orange.fr", "wanadoo.fr", "laposte.net")
_FRANCE_PTT_CODE = re.compile(r"(?i)\b(?:LPN|LPNAAA|OFR|OUK)(?:_[0-9]{3}|[0-9]{3}[-_][0-9]{3})\b")
_B, _R, _F, _T, _O = (
    Category.BAD_ADDRESS,
    Category.DOMAIN_REJECTION,
    Category.MAILBOX_FULL,
    Category.TRANSIENT,
    Category.SENDER_SIDE,
)
_FRANCE_PTT: dict[str, tuple[str, Category]] = {
    "101": ("blocked", _R), "102": ("blocked", _R), "103": ("blocked", _R),
    "104": ("toomanyconn", _T), "305": ("securityerror", _O), "401": ("blocked", _R),
    "402": ("securityerror", _O), "403": ("rejected", _R), "405": ("rejected", _R),
    "415": ("rejected", _R), "416": ("userunknown", _B), "417": ("mailboxfull", _F),
    "418": ("userunknown", _B), "420": ("suspend", _B), "421": ("rejected", _R),
    "426": ("suspend", _B), "505": ("systemerror", _T), "506": ("spamdetected", _R),
    "510": ("blocked", _R), "514": ("mesgtoobig", _O), "517": ("policyviolation", _R),
    "630": ("policyviolation", _R), "999": ("blocked", _R),
}  # fmt: skip
"""Orange / La Poste ``OFR_506``, ``LPN007_416`` codes (last three digits) -> reason, as in
sisimai's Rhost::FrancePTT table; codes it leaves undefined fall through to the rules."""
REASONS.update(
    {
        f"orange-laposte-{name}": f"Orange/La Poste code table: {name}"
        for name, _ in _FRANCE_PTT.values()
    }
)


@dataclass(frozen=True, slots=True)
class CarrierContext:
    """The facts about one failed recipient that carrier rules look at."""

    recipient_domain: str
    remote_mta: str
    status: str
    diagnostic: str
    command: str
    spasign_ng: bool


@cache
def _dotted(suffixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("." + s for s in suffixes)


def _is(domain: str, suffixes: tuple[str, ...]) -> bool:
    d = domain.lower().rstrip(".")
    return d in suffixes or d.endswith(_dotted(suffixes))


def _hosts(ctx: CarrierContext) -> tuple[str, str]:
    mta = ctx.remote_mta.lower().split(";")[-1].strip().strip("[]")
    return ctx.recipient_domain.lower(), mta


def japanese_mobile(ctx: CarrierContext) -> tuple[str, Category] | None:
    """docomo / au / SoftBank: same text, different cause, split by phase and status."""
    domain, mta = _hosts(ctx)
    carrier = _is(domain, JP_MOBILE) or _is(mta, JP_MOBILE)
    if ctx.spasign_ng and (carrier or not domain):
        return ("jp-au-spasign-ng", Category.DOMAIN_REJECTION)
    if not carrier or not _UNKNOWN_USER.search(ctx.diagnostic):
        return None
    if _AU_NO_ADDRESS.search(ctx.diagnostic) or ctx.status.startswith("5.2"):
        return ("jp-carrier-reception-filter", Category.DOMAIN_REJECTION)
    if ctx.status == "5.1.1":
        return ("jp-carrier-unknown-5.1.1", Category.BAD_ADDRESS)
    if ctx.command == "DATA":
        return ("jp-carrier-refused-at-data", Category.DOMAIN_REJECTION)
    if ctx.command == "RCPT":
        return ("jp-carrier-unknown-at-rcpt", Category.BAD_ADDRESS)
    if (_is(domain, AU) or _is(mta, AU)) and _AU_WITH_ADDRESS.search(ctx.diagnostic):
        return ("jp-au-unknown-named-address", Category.BAD_ADDRESS)
    if _is(domain, DOCOMO) or _is(mta, DOCOMO):
        return ("jp-docomo-unknown-user-ambiguous", Category.DOMAIN_REJECTION)
    return None


def _may_be_groups(text: str) -> bool:
    """Cheap literal check before ``_GROUPS_REFUSAL`` (a case-insensitive scan)."""
    low = text.lower()
    return "to post" in low or "send mail as" in low


def big_providers(ctx: CarrierContext) -> tuple[str, Category] | None:
    """Microsoft and Google codes whose text misleads the generic rules."""
    domain, mta = _hosts(ctx)
    text = ctx.diagnostic
    if (_is(domain, _MICROSOFT) or _is(mta, _MICROSOFT)) and _MS_BANNED.search(text):
        return ("microsoft-banned-ip", Category.DOMAIN_REJECTION)
    if "5.4.1 " in text and _MS_DBEB.search(text):
        return ("microsoft-dbeb-unknown-recipient", Category.BAD_ADDRESS)
    groups = _is(domain, ("googlegroups.com",)) and not ctx.status.startswith("5.1")
    if groups or (_may_be_groups(text) and _GROUPS_REFUSAL.search(text)):
        return ("google-groups-post-refused", Category.DOMAIN_REJECTION)
    if (_is(domain, _GOOGLE) or _is(mta, _GOOGLE)) and _GMAIL_UNSOLICITED.search(text):
        return ("gmail-unsolicited", Category.DOMAIN_REJECTION)
    return None


def orange_laposte(ctx: CarrierContext) -> tuple[str, Category] | None:
    """Orange / La Poste answer with a vendor code that names the cause exactly."""
    domain, mta = _hosts(ctx)
    if not (_is(domain, _ORANGE_LAPOSTE) or _is(mta, _ORANGE_LAPOSTE)):
        return None
    m = _FRANCE_PTT_CODE.search(ctx.diagnostic)
    hit = _FRANCE_PTT.get(m.group(0)[-3:]) if m else None
    return (f"orange-laposte-{hit[0]}", hit[1]) if hit else None


def carrier_rule(ctx: CarrierContext) -> tuple[str, Category] | None:
    """The first carrier-specific verdict for ``ctx``, if any."""
    return japanese_mobile(ctx) or big_providers(ctx) or orange_laposte(ctx)
