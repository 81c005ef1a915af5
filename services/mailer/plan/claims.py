"""Ledger decisions (pure): may this process send this mail now?

``mail_ledger[mail_id]`` holds a ``MailRecord``. Its state moves
``sending`` (claimed) → ``sent`` | ``failed`` | ``suppressed`` | ``expired`` (terminal), or
back to ``pending`` after a deferral. Only the holder of a fresh claim sends; a claim older
than the lease belongs to a process that died (or hung) and may be taken over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.mailer.plan.model import MailWork
from services.mailer.plan.timing import RetrySchedule
from shared.mailrecord import MailRecord, message_id_for

TERMINAL = frozenset({"sent", "failed", "suppressed", "expired"})


@dataclass(frozen=True, slots=True)
class Take:
    """Claim it: write ``record`` (create when ``revision`` is None, else CAS)."""

    record: MailRecord
    revision: int | None


@dataclass(frozen=True, slots=True)
class Done:
    """Already finished: re-publish its outcome (de-duplicated) and ack."""

    record: MailRecord


@dataclass(frozen=True, slots=True)
class Later:
    """Not now: another replica holds a fresh claim, or the retry time has not come."""

    delay: float
    reason: str


Decision = Take | Done | Later

#: A claim older than this share of the lease is renewed before SMTP (see ``needs_refresh``).
REFRESH_SHARE = 0.25


def needs_refresh(record: MailRecord, now: datetime, lease: float) -> bool:
    """Has the claim aged enough (waiting for a gate or pool slot) to renew it first?

    A claim renewed at most ``lease/4`` before the SMTP transaction leaves the transaction
    (bounded by ``lease/2``) and the ``sent`` write at least ``lease/4`` before any other
    sender may take the mail over.
    """
    return now - record.updated_at > timedelta(seconds=lease * REFRESH_SHARE)


def sent_write_deadline(record: MailRecord, lease: float) -> datetime:
    """Until when the ``sent`` write is retried: the claim's own lease."""
    return record.updated_at + timedelta(seconds=lease)


def new_record(work: MailWork, domain: str, now: datetime) -> MailRecord:
    return MailRecord(
        mail_id=work.mail_id,
        business_key=work.business_key,
        kind=work.kind,
        patron_id=work.patron_id,
        recipient=work.recipient,
        message_id=message_id_for(work.mail_id, domain),
        state="sending",
        attempts=1,
        created_at=now,
        updated_at=now,
        expires_at=work.expires_at,
        source_event_ids=work.source_event_ids,
    )


def decide(
    work: MailWork,
    current: MailRecord | None,
    revision: int | None,
    *,
    now: datetime,
    lease: float,
    schedule: RetrySchedule,
    domain: str,
) -> Decision:
    if current is None:
        return Take(new_record(work, domain, now), None)
    if current.state in TERMINAL:
        return Done(current)
    if current.state == "sending":
        held_until = current.updated_at + timedelta(seconds=lease)
        if now < held_until:
            return Later((held_until - now).total_seconds() + 0.5, "claimed by another sender")
    elif current.state == "pending" and current.attempts > 0:
        due = current.updated_at + timedelta(seconds=schedule.delay(current.attempts))
        if now < due and now < (current.expires_at or due):
            return Later((due - now).total_seconds(), "retry not due yet")
    claimed = current.model_copy(
        update={
            "state": "sending",
            "attempts": current.attempts + 1,
            "updated_at": now,
            # A retry may go to a newer address (the patron changed it meanwhile): the
            # record names the address this attempt uses.
            "recipient": work.recipient,
        }
    )
    return Take(claimed, revision)
