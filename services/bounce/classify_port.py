"""The one place that knows the classifier's API (``services.bounce.classifier``).

Also turns the mailer's synchronous 5xx failure into the same kind of result, by handing
the classifier a minimal RFC 3464 report built from the SMTP reply: one rule table for both.
"""

from __future__ import annotations

from services.bounce.classifier import (
    Category,
    Classification,
    Evidence,
    RecipientResult,
    SentMailLookup,
    classify,
)
from shared.contracts.bounce import BounceCategory
from shared.contracts.mail import SESSION_COMMANDS, MailOutcome, SmtpCommand

__all__ = [
    "Classification",
    "Evidence",
    "RecipientResult",
    "SentMailLookup",
    "as_category",
    "classify_message",
    "classify_smtp_failure",
]


def as_category(category: Category | str) -> BounceCategory:
    """The contract's category literal for a classifier category."""
    value = str(category)
    known: tuple[BounceCategory, ...] = (
        "bad_address", "domain_rejection", "mailbox_full", "forwarding_failure",
        "transient", "sender_side", "not_a_bounce", "unknown",
    )  # fmt: skip
    for name in known:
        if name == value:
            return name
    return "unknown"


def classify_message(raw: bytes, sent: SentMailLookup | None) -> Classification:
    return classify(raw, sent=sent)


def _enhanced_status(text: str, code: int) -> str:
    for word in text.replace("-", " ").split():
        parts = word.split(".")
        if len(parts) == 3 and all(p.isdigit() for p in parts) and parts[0] in "245":
            return word
    return f"{str(code)[0]}.0.0" if code >= 400 else ""


#: How Postfix names the phase of a reply ("... (in reply to RCPT TO command)"), which the
#: classifier reads: docomo/au "Unknown user" at RCPT is a bad address, after DATA a filter.
_PHASE_WORDS: dict[SmtpCommand, str] = {
    "connect": "(in reply to initial connection)",
    "ehlo": "(in reply to EHLO command)",
    "mail": "(in reply to MAIL FROM command)",
    "rcpt": "(in reply to RCPT TO command)",
    "data": "(in reply to end of DATA command)",
}


def dsn_for_smtp_failure(outcome: MailOutcome, domain: str) -> bytes:
    """A minimal RFC 3464 report saying what the SMTP server answered at send time."""
    code = outcome.smtp_code or 550
    text = " ".join((outcome.smtp_text or "").split())
    if outcome.smtp_command:
        text = f"{text} {_PHASE_WORDS[outcome.smtp_command]}"
    status = _enhanced_status(text, code) or "5.0.0"
    boundary = "otayori-smtp-failure"
    original = f"Message-ID: {outcome.message_id}\n" if outcome.message_id else ""
    lines = [
        f"From: MAILER-DAEMON@{domain}",
        f"To: bounce@{domain}",
        "Subject: Undelivered Mail Returned to Sender",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        f"The mail server of {outcome.recipient_domain} answered: {code} {text}",
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; {domain}",
        "",
        f"Final-Recipient: rfc822; {outcome.recipient}",
        "Action: failed",
        f"Status: {status}",
        f"Diagnostic-Code: smtp; {code} {text}",
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
        f"{original}To: {outcome.recipient}",
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode("utf-8")


def classify_smtp_failure(outcome: MailOutcome, domain: str) -> RecipientResult:
    """Classify a 5xx answer at send time (one recipient)."""
    if outcome.smtp_command in SESSION_COMMANDS:
        code = outcome.smtp_code or 0
        return RecipientResult(
            recipient=outcome.recipient,
            category=Category.SENDER_SIDE,
            status="",
            reason="the relay refused our session before any recipient was named",
            evidence=Evidence(
                rule="relay-session-refused",
                diagnostic=f"{code} {outcome.smtp_text or ''} ({outcome.smtp_command})",
            ),
        )
    result = classify(dsn_for_smtp_failure(outcome, domain))
    for found in result.recipients:
        return found
    code = outcome.smtp_code or 0
    category = Category.UNKNOWN if code >= 500 else Category.TRANSIENT
    return RecipientResult(
        recipient=outcome.recipient,
        category=category,
        status="",
        reason="SMTP reply not understood",
        evidence=Evidence(rule="smtp-fallback", diagnostic=f"{code} {outcome.smtp_text or ''}"),
    )


def make_result(
    recipient: str, category: BounceCategory, reason: str, rule: str
) -> RecipientResult:
    """A result decided outside the classifier (e.g. an address the mailer refused)."""
    return RecipientResult(
        recipient=recipient, category=Category(category), reason=reason,
        evidence=Evidence(rule=rule),
    )  # fmt: skip
