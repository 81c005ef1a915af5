"""Example events for the mailer's integration tests (the batch of Thursday 2026-12-03)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.mailer.plan.model import MailWork
from services.mailer.plan.work import make_work
from shared.bus.consume import Delivery
from shared.clock import JST
from shared.contracts.base import Event
from shared.contracts.ils import (
    HoldCancelled,
    HoldReady,
    LoanItem,
    LoanOnlineIssued,
    LoanOverdue,
    LoanReturned,
)
from shared.contracts.schedule import BatchWindow, TriggerFired, TriggerName

THURSDAY = date(2026, 12, 3)
BATCH = BatchWindow(
    thursday=THURSDAY, pickup_start=date(2026, 12, 6), pickup_deadline=date(2026, 12, 13)
)


def online_loan(patron: str, *loans: str, email: str | None = None) -> LoanOnlineIssued:
    return LoanOnlineIssued(
        occurred_at=datetime(2026, 12, 3, 11, 0, tzinfo=JST),
        patron_id=patron,
        email=email or f"{patron.lower()}@example.jp",
        batch_thursday=THURSDAY,
        pickup_library_no=17,
        items=[
            LoanItem(
                loan_id=loan, item_id=f"10{i:08d}", title=f"本 {loan}", due_date=date(2026, 12, 20)
            )
            for i, loan in enumerate(loans)
        ],
    )


def online_loan_work(patron: str, loan: str, recipient: str) -> MailWork:
    """The work item of ``patron``'s Saturday mail (one loan), built at Saturday 09:00."""
    saturday = datetime(2026, 12, 5, 9, 0, tzinfo=JST)
    return make_work(
        "online_loan",
        [online_loan(patron, loan)],
        patron_id=patron,
        recipient=recipient,
        run_id=BATCH.batch_id,
        run_date=saturday.date(),
        batch=BATCH,
        nominal_time=saturday,
        now=saturday,
    )


def fired(trigger: TriggerName, when: datetime, batch: BatchWindow | None = None) -> TriggerFired:
    occurrence = f"{trigger}:{when.isoformat()}"
    return TriggerFired(
        event_id=occurrence,
        occurred_at=when,
        trigger=trigger,
        occurrence_id=occurrence,
        nominal_time=when,
        run_date=when.astimezone(JST).date(),
        batch=batch,
    )


def saturday_trigger() -> TriggerFired:
    return fired("weekly-loan-mail", datetime(2026, 12, 5, 9, 0, tzinfo=JST), BATCH)


def hold_ready(patron: str, hold: str, secured: datetime, deadline: date) -> HoldReady:
    return HoldReady(
        occurred_at=secured + timedelta(minutes=3),
        patron_id=patron,
        email=f"{patron.lower()}@example.jp",
        hold_id=hold,
        item_id="1020304050",
        title="りんごの四季",
        secured_at=secured,
        pickup_deadline=deadline,
    )


def hold_cancelled(
    patron: str,
    email: str,
    hold: str = "H-1",
    *,
    at: datetime = datetime(2026, 12, 5, 8, 0, tzinfo=JST),
    title: str = "りんごの四季",
) -> HoldCancelled:
    """A hold cancelled (pickup deadline passed): mailed at once, not in a run."""
    return HoldCancelled(occurred_at=at, patron_id=patron, email=email, hold_id=hold, title=title)


def overdue(patron: str, loan: str, level: int = 1) -> LoanOverdue:
    return LoanOverdue(
        occurred_at=datetime(2026, 12, 4, 6, 0, tzinfo=JST),
        patron_id=patron,
        email=f"{patron.lower()}@example.jp",
        loan_id=loan,
        item_id="1011112222",
        title="延滞本",
        due_date=date(2026, 11, 30),
        reminder_level=level,
    )


def returned(patron: str, loan: str) -> LoanReturned:
    when = datetime(2026, 12, 4, 10, 0, tzinfo=JST)
    return LoanReturned(occurred_at=when, patron_id=patron, loan_id=loan, returned_at=when)


class _NoDelivery:
    """The ``Delivery`` of a handler called directly (no message behind it)."""

    async def in_progress(self) -> None:
        return None


DELIVERY: Delivery = _NoDelivery()  # type: ignore[assignment]


class WorkRecorder:
    """Stands in for the publish of a collector: records the single work items it sends."""

    def __init__(self) -> None:
        self.works: list[MailWork] = []

    async def __call__(self, event: Event) -> None:
        assert isinstance(event, MailWork)
        self.works.append(event)
