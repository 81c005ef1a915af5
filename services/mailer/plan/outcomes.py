"""Outcome events (pure): exactly one ``MailOutcome`` per send attempt.

The event id is ``outcome-<mail_id>-<attempt>``: publishing the same attempt's outcome
again (a replay after a crash) is stored once by the MAIL stream's duplicate window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.mailer.plan.model import MailWork
from shared.carriers import carrier_group, domain_of
from shared.contracts.mail import MailOutcome, OutcomeName, SmtpCommand
from shared.mailrecord import MailRecord, message_id_for
from shared.verp import make_token


@dataclass(frozen=True, slots=True)
class Result:
    """What one attempt came to."""

    outcome: OutcomeName
    smtp_code: int | None = None
    smtp_text: str | None = None
    cause: str | None = None
    detail: str | None = None
    next_attempt_at: datetime | None = None
    smtp_command: SmtpCommand | None = None  # the SMTP phase that gave smtp_code


def outcome_event_id(mail_id: str, attempt: int) -> str:
    return f"outcome-{mail_id}-{attempt}"


def build_outcome(
    work: MailWork,
    result: Result,
    *,
    attempt: int,
    now: datetime,
    domain: str,
    verp_key: bytes,
) -> MailOutcome:
    return MailOutcome(
        event_id=outcome_event_id(work.mail_id, attempt),
        occurred_at=now,
        mail_key=work.business_key,
        kind=work.kind,
        outcome=result.outcome,
        patron_id=work.patron_id,
        cause=result.cause,
        detail=(result.detail or None) and result.detail[:1000],
        recipient=work.recipient[:320],
        recipient_domain=domain_of(work.recipient)[:255],
        carrier_group=carrier_group(work.recipient),
        message_id=message_id_for(work.mail_id, domain),
        verp_token=make_token(verp_key, work.mail_id),
        smtp_code=result.smtp_code,
        smtp_text=(result.smtp_text or None) and result.smtp_text[:1000],
        smtp_command=result.smtp_command,
        attempt=attempt,
        next_attempt_at=result.next_attempt_at,
        source_event_ids=work.source_event_ids,
        batch_id=work.batch.batch_id if work.batch else None,
    )


def replayed_result(record: MailRecord) -> Result:
    """The result a terminal ledger record stands for (to re-publish its outcome)."""
    state = record.state
    if state not in ("sent", "failed", "suppressed", "expired"):
        raise ValueError(f"not a terminal state: {state}")
    cause = {"failed": record_cause(record), "suppressed": "suppressed"}.get(state)
    return Result(
        state, record.smtp_code, record.smtp_text, cause, smtp_command=record.smtp_command
    )


def record_cause(record: MailRecord) -> str:
    return "smtp_permanent" if record.smtp_code else "invalid_address"
