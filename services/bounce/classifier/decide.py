"""Apply the rule table to the facts about one failed recipient.

The order follows the proven one of sisimai's reason finder: reasons whose evidence is
explicit (a specific status code or a telling phrase) first, then weaker phrases, then
what the RFC 3463 status class implies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from services.bounce.classifier import rules as r
from services.bounce.classifier.carriers import REASONS, CarrierContext, carrier_rule
from services.bounce.classifier.model import Category
from services.bounce.classifier.secondary import ALL_RULES as SECONDARY_RULES
from services.bounce.classifier.status import status_reason
from services.bounce.classifier.vendors import VendorFacts, vendor_reason

RULES = {rule.name: rule for rule in r.EXPLICIT} | SECONDARY_RULES
RULES["unambiguous"] = r.UNAMBIGUOUS_UNKNOWN

FIRST_ORDER = (
    "mailloop", "greylisted", "mailboxfull", "speeding", "mesgtoobig", "exceedlimit", "suspend",
    "hasmoved", "norelaying", "authfailure", "userunknown", "filtered", "requireptr",
    "notcompliantrfc", "badreputation", "contenterror", "rejected", "hostunknown", "spamdetected",
    "toomanyconn", "blocked",
)  # fmt: skip
SECOND_ORDER = (
    "mailloop", "mailboxfull", "authfailure", "badreputation", "speeding", "spamdetected",
    "virusdetected", "policyviolation", "norelaying", "notaccept", "systemfull", "systemerror",
    "networkerror", "suspend", "contenterror", "expired", "failedstarttls", "securityerror",
    "mailererror",
)  # fmt: skip
_LOCAL_ORDER = ("mailloop", "mailboxfull", "systemfull", "mailererror")
"""An ``X-Unix`` diagnostic is a local delivery program's own message: remote-server
wording ("temporary failure", "try again later") says nothing about a remote system."""
_GENERIC_450 = re.compile(r"(?i)(?:requested (?:mail )?action not taken: )?mailbox unavailable")
"""RFC 5321's text for 450 and 550 alike: under a class 4 status it names no lasting cause."""
_PERMANENT_CODE = re.compile(r"(?<![\w.:/-])(?:5[0-5]\d(?![\w.])|5\.\d{1,3}\.\d{1,3}(?![\d.]))")
"""A 5xx SMTP reply (``550 ...``, ``550-5.1.1``) or a class 5 status code (``5.1.1``)."""
RETRY = frozenset(
    {"", "undefined", "onhold", "systemerror", "securityerror", "expired", "networkerror",
     "hostunknown", "userunknown"}
)  # fmt: skip
_NOT_UNKNOWN_USER = (
    "norelaying", "blocked", "mailboxfull", "hasmoved", "rejected", "notaccept", "filtered",
)  # fmt: skip
_EARLY_COMMANDS = ("CONNECT", "HELO", "MAIL", "RCPT")
FINAL_ONLY = frozenset({r.BAD, r.REJ, r.FULL, Category.FORWARDING_FAILURE})
"""Causes only a final failure can establish: a delay warning is transient instead."""
_CODE_ONLY = frozenset({r.BAD, r.REJ})
"""Causes a class 4 status code cannot establish on its own (``_only_temporary``)."""

REASON_CATEGORY: dict[str, Category] = {
    "userunknown": r.BAD, "hostunknown": r.BAD, "notaccept": r.BAD, "hasmoved": r.BAD,
    "suspend": r.BAD, "suppressed": r.BAD,
    "filtered": r.REJ, "rejected": r.REJ, "blocked": r.REJ, "policyviolation": r.REJ,
    "spamdetected": r.REJ, "badreputation": r.REJ, "authfailure": r.REJ, "requireptr": r.REJ,
    "virusdetected": r.REJ,
    "mailboxfull": r.FULL,
    "systemfull": r.TMP, "failedstarttls": r.TMP, "expired": r.TMP, "networkerror": r.TMP,
    "systemerror": r.TMP, "toomanyconn": r.TMP, "speeding": r.TMP,
    "exceedlimit": r.OURS, "mesgtoobig": r.OURS, "contenterror": r.OURS,
    "notcompliantrfc": r.OURS, "securityerror": r.OURS, "syntaxerror": r.OURS,
    "norelaying": r.UNK, "mailererror": r.UNK, "onhold": r.UNK, "undefined": r.UNK,
    "mailloop": r.TMP, "greylisted": r.TMP,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known about one failed recipient."""

    recipient: str
    status: str
    diagnostic: str
    context: str
    command: str
    remote_mta: str
    action: str
    diagnostic_type: str
    spasign_ng: bool
    vendor: str = ""
    vendor_code: str = ""
    pending: bool = False
    """The reporting MTA is still retrying (a delay warning, ``pending.py``)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    rule: str
    category: Category
    why: str
    underlying: Category | None = None
    """The cause the diagnostic names when ``category`` is ``transient`` only because
    delivery is still being retried."""


class _Matcher:
    """Rule matching memoised for one decision (probes ask the same question repeatedly)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str], bool] = {}

    def __call__(self, name: str, text: str) -> bool:
        key = (name, text)
        hit = self._memo.get(key)
        if hit is None:
            rule = RULES.get(name)
            hit = self._memo[key] = rule is not None and rule.matches(text)
        return hit


def _without_generic_refusal(f: Facts, text: str) -> str:
    """Under an X.7.x status, "access denied" / "delivery not authorized" only restate
    RFC 3463's X.7.1 ("delivery not authorized, message refused"): no sender evidence."""
    if f.status[1:3] != ".7":
        return text
    return r.GENERIC_REFUSAL.sub(" ", text)


def _probe(name: str, f: Facts, text: str, named: str, _match: _Matcher) -> bool:
    """Does reason ``name`` explain this failure (status code named it, or its text)?"""
    if name == "userunknown":
        if named not in ("suspend", "filtered", "rejected") and _match("unambiguous", text):
            return True
        if named == "userunknown":
            return not any(_match(n, text) for n in _NOT_UNKNOWN_USER)
        return named != "suspend" and f.command == "RCPT" and _match(name, text)
    if name == "filtered":
        if named == "filtered":
            return _match("userunknown", text) or _match(name, text)
        if named == "suspend" or f.command in _EARLY_COMMANDS or _match("hostunknown", text):
            return False
        return _match(name, text) or _match("userunknown", text)
    if name == "rejected":
        if named == "rejected":
            return True
        text = _without_generic_refusal(f, text)
        if f.command == "MAIL" or (f.command == "DATA" and named != "userunknown"):
            return _match(name, text)
        return named in ("", "onhold", "undefined", "securityerror", "systemerror") and _match(
            name, text
        )
    if name == "contenterror" and named == "contenterror":
        return _match(name, text) or not _match("spamdetected", text)
    if name == "hostunknown" and named == "hostunknown":
        return not _match("networkerror", text)
    return named == name or _match(name, text)


def _verdict(name: str, source: str = "") -> Verdict:
    rule = RULES.get(name)
    why = rule.why if rule is not None else source
    return Verdict(name, REASON_CATEGORY.get(name, Category.UNKNOWN), why)


def _lower_texts(diagnostic: str, context: str) -> tuple[str, ...]:
    diag, ctx = " ".join(diagnostic.lower().split()), " ".join(context.lower().split())
    if ctx and ctx != diag:
        return (diag, ctx) if diag else (ctx,)
    return (diag,)


def _texts(f: Facts) -> tuple[str, ...]:
    return _lower_texts(f.diagnostic, f.context)


def _explicit(f: Facts, named: str, match: _Matcher) -> Verdict | None:
    if f.diagnostic_type.startswith("x-unix"):  # a local program's message, not a reply
        return None
    for text in _texts(f):
        for name in FIRST_ORDER:
            if _probe(name, f, text, named, match):
                return _verdict(name)
    return None


def _another(f: Facts, named: str, match: _Matcher) -> Verdict:
    if named in RETRY or f.diagnostic_type not in ("", "smtp"):
        order = _LOCAL_ORDER if f.diagnostic_type.startswith("x-unix") else SECOND_ORDER
        for text in _texts(f):
            for name in order:
                if match(name, text):
                    return _verdict(name)
    if named:
        return _verdict(named, "named by the status code")
    head = f.status[:3]
    if head in ("5.6", "4.6"):
        return _verdict("contenterror", "RFC 3463 X.6 media error")
    if head in ("5.7", "4.7"):
        return _verdict("securityerror", "RFC 3463 X.7 security or policy status")
    if f.diagnostic_type.startswith("x-unix"):
        return _verdict("mailererror", "local delivery program failed")
    if any(match("syntaxerror", t) for t in _texts(f)):
        return _verdict("syntaxerror")
    if f.pending or f.action.startswith(("delayed", "expired")):
        return _verdict("expired", "delivery delayed, still being retried")
    if f.command in ("HELO", "CONNECT") and not f.status.startswith("4."):
        return _verdict("blocked", "refused at connection or HELO/EHLO: our host")
    if f.diagnostic.strip():
        return _verdict("onhold", "no rule matched the diagnostic: staff review")
    return _verdict("undefined", "no diagnostic at all: staff review")


def _carrier(f: Facts) -> Verdict | None:
    ctx = CarrierContext(
        recipient_domain=f.recipient.rpartition("@")[2],
        remote_mta=f.remote_mta,
        status=f.status,
        diagnostic=" ".join(f"{f.diagnostic}\n{f.context}".split()),
        command=f.command,
        spasign_ng=f.spasign_ng,
    )
    hit = carrier_rule(ctx)
    return (
        Verdict(hit[0], hit[1], REASONS.get(hit[0], "carrier-specific behaviour")) if hit else None
    )


def _vendor(f: Facts) -> Verdict | None:
    if not (f.vendor or f.vendor_code):
        return None
    text = " ".join(f"{f.diagnostic}\n{f.context}".lower().split())
    reason = vendor_reason(VendorFacts(f.vendor, f.vendor_code, text))
    if not reason:
        return None
    source = f.vendor or "powermta"
    return Verdict(reason, REASON_CATEGORY.get(reason, Category.UNKNOWN), f"{source} reply table")


def decide(f: Facts) -> Verdict:
    """Carrier rules, then explicit evidence, then weaker evidence and status class.

    A temporary status (4.x.x, RFC 3463) does not condemn a domain: an unknown-host verdict
    under a 4.x.x code (a DNS failure the MTA will retry) is reported as transient, and so is
    any final-only cause that only the 4.x.x code names (``_only_temporary``). While
    delivery is still being retried (``f.pending``) no cause in ``FINAL_ONLY`` is given:
    the verdict is transient and the cause the diagnostic names is kept as ``underlying``.
    """
    named = status_reason(f.status)
    match = _Matcher()
    verdict = _carrier(f) or _vendor(f)
    if verdict is None:
        verdict = _explicit(f, named, match) or _another(f, named, match)
        if _only_temporary(f, verdict, named):
            return Verdict(
                verdict.rule + "+temporary",
                Category.TRANSIENT,
                f"temporary (4.x.x) status, no wording of a lasting cause: {verdict.why}",
                underlying=verdict.category,
            )
    if verdict.rule == "hostunknown" and f.status.startswith("4."):
        return Verdict(verdict.rule + "+temporary", Category.TRANSIENT, "temporary (4.x.x) failure")
    if f.pending and verdict.category in FINAL_ONLY:
        return Verdict(
            verdict.rule + "+delayed",
            Category.TRANSIENT,
            f"still being retried (delay warning, not a final failure): {verdict.why}",
            underlying=verdict.category,
        )
    return verdict


def _only_temporary(f: Facts, verdict: Verdict, named: str) -> bool:
    """A final-only cause under a class 4 status (RFC 3463 "persistent transient": the
    receiver was only temporarily unable) that rests on the code alone: without the code's
    named reason (``4.2.1`` suspend, ``4.3.2`` notaccept) and RFC 5321's generic 450 text
    ("mailbox unavailable": busy or temporarily blocked) the same facts give no final-only
    cause. Wording that names the cause keeps it (``450 4.1.1 User unknown``: the MTA gave
    up on a named cause). A full mailbox is exempt: RFC 3463 defines X.2.2 for use as a
    persistent transient failure, so ``4.2.2`` with ``Action: failed`` is the mail returned
    for a full mailbox (DOMAIN.md cause 3), not a temporary outage. The rule applies only
    when every code seen is temporary: a 5xx reply or a 5.x.x code in the diagnostic
    (``Status: 4.0.0`` over ``550 Requested action not taken: mailbox unavailable``) is the
    receiver's permanent refusal, and the cause stands."""
    if not f.status.startswith("4.") or f.pending or verdict.category not in _CODE_ONLY:
        return False  # a delay warning is transient anyway ("+delayed")
    if _PERMANENT_CODE.search(f.diagnostic):
        return False
    plain = replace(
        f,
        diagnostic=_GENERIC_450.sub(" ", f.diagnostic),
        context=_GENERIC_450.sub(" ", f.context),
    )
    if not named and plain == f:
        return False
    match = _Matcher()
    without = _explicit(plain, "", match) or _another(plain, "", match)
    return without.category not in FINAL_ONLY
