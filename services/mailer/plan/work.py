"""Building mail work items from collected events (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from services.mailer.plan.keys import key_and_id, prompt_run
from services.mailer.plan.model import KIND_OF_EVENT, MailWork, SourceEvent, work_event_id
from services.mailer.plan.timing import expires_at
from shared.clock import JST
from shared.contracts.bounce import BounceDigest
from shared.contracts.mail import MailKind
from shared.contracts.schedule import BatchWindow


def make_work(
    kind: MailKind,
    events: Sequence[SourceEvent],
    *,
    patron_id: str | None,
    recipient: str,
    run_id: str,
    run_date: date,
    batch: BatchWindow | None,
    nominal_time: datetime,
    now: datetime,
) -> MailWork:
    if not events:
        raise ValueError("a mail needs at least one event")
    key, mail_id = key_and_id(kind, patron_id, run_id, events)
    return MailWork(
        event_id=work_event_id(mail_id),
        occurred_at=now,
        mail_id=mail_id,
        business_key=key,
        kind=kind,
        patron_id=patron_id,
        recipient=recipient,
        run_id=run_id,
        run_date=run_date,
        batch=batch,
        expires_at=expires_at(kind, events, batch=batch, nominal_time=nominal_time, now=now),
        events=list(events),
    )


def prompt_work(event: SourceEvent, *, recipient: str, now: datetime) -> MailWork:
    """The work item of a mail sent as soon as its event arrives (cancel, suspension, digest)."""
    kind = KIND_OF_EVENT[type(event)]
    patron_id = None if isinstance(event, BounceDigest) else getattr(event, "patron_id", None)
    return make_work(
        kind,
        [event],
        patron_id=patron_id,
        recipient=recipient,
        run_id=prompt_run(event),
        run_date=now.astimezone(JST).date(),
        batch=None,
        nominal_time=event.occurred_at,
        now=now,
    )
