"""When a mail stops being useful, and when a deferred mail is tried again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from services.mailer.plan.model import SourceEvent
from shared.clock import JST
from shared.contracts.bounce import BounceDigest
from shared.contracts.ils import HoldReady
from shared.contracts.mail import MailKind
from shared.contracts.schedule import BatchWindow

#: How long a mail sent "promptly" stays worth sending.
PROMPT_USEFUL = {
    "hold_cancelled": timedelta(days=3),
    "loan_suspended": timedelta(days=7),
    "bounce_digest": timedelta(days=7),
}


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` in JST (a deadline day is usable all day)."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=JST)


def expires_at(
    kind: MailKind,
    events: Sequence[SourceEvent],
    *,
    batch: BatchWindow | None,
    nominal_time: datetime,
    now: datetime | None = None,
) -> datetime:
    """After this instant the mail is pointless and gets an ``expired`` outcome.

    - online loan: past the batch's pickup deadline (the following Sunday, Q21);
    - hold ready: past the latest pickup deadline (受取期限日) among its holds;
    - overdue: a day after the run (a new reminder replaces it); counted from when the run
      is made (``now``) if that is later than its nominal time — a missed run fired days
      later by staff takes the reminders waiting now, which must not expire unsent;
    - hold cancelled, loan suspended, bounce digest: a few days after the event.
    """
    if kind == "online_loan":
        if batch is None:
            raise ValueError("an online loan mail needs its batch window")
        return end_of_day(batch.pickup_deadline)
    if kind == "hold_ready":
        deadlines = [e.pickup_deadline for e in events if isinstance(e, HoldReady)]
        return end_of_day(max(deadlines))
    if kind == "overdue":
        return max(nominal_time, now or nominal_time) + timedelta(days=1)
    latest = max(e.occurred_at for e in events)
    if kind == "bounce_digest":
        latest = max([latest, *(e.week_start for e in events if isinstance(e, BounceDigest))])
    return latest + PROMPT_USEFUL[kind]


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """``base × factor^(n-1)`` seconds after the n-th failed attempt, capped at ``cap``."""

    base: float = 300.0
    factor: float = 1.3
    cap: float = 86400.0

    def delay(self, attempt: int) -> float:
        if attempt < 1:
            raise ValueError("attempts count from 1")
        # Avoid float overflow for absurd attempt counts: the cap wins long before.
        exponent = min(attempt - 1, 200)
        return min(self.base * self.factor**exponent, self.cap)

    def next_attempt(self, attempt: int, now: datetime, expires: datetime) -> datetime | None:
        """When to try again after attempt ``attempt`` failed; ``None`` = give up (expired)."""
        when = now + timedelta(seconds=self.delay(attempt))
        return when if when < expires else None
