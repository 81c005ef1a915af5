"""Which waiting events a run takes, and which it drops as pointless (pure).

A run's ``Eligible`` rules (``grouping.assign``): the hold-ready run never mails a hold on
the JST day it was secured (Q11), nor one past its pickup deadline or cancelled; the
overdue run never mails a reminder for a returned loan; a late online-loan run takes its
own event's items only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date

from services.mailer.plan.grouping import Eligible
from services.mailer.plan.keys import item_identity
from services.mailer.plan.model import PendingEntry, PendingSource, SourceEvent
from shared.clock import JST
from shared.contracts.ils import HoldCancelled, HoldReady, LoanOverdue

# -- cancelled holds -----------------------------------------------------------------------
#
# A cancellation (予約解除, also of a hold already 貸出可能, Q9) ends the hold's ready report
# if the item was secured at or before it: that report is never mailed. A report secured
# after it is a new hold under the same id (made ready again) and is mailed as usual.

Cancellations = Mapping[str, HoldCancelled]  # hold id -> its newest cancellation


def is_cancelled(event: SourceEvent, cancel: HoldCancelled | None) -> bool:
    """Whether ``event`` is a ready report that ``cancel`` has ended."""
    return (
        cancel is not None
        and isinstance(event, HoldReady)
        and event.hold_id == cancel.hold_id
        and event.secured_at <= cancel.occurred_at
    )


def drop_holds(entry: PendingEntry, cancel: HoldCancelled) -> PendingEntry:
    """The entry without the waiting ready reports ``cancel`` has ended. A report a run
    has marked stays (its set is frozen, as in ``drop_loans``): the sender leaves it out."""
    kept = tuple(p for p in entry.events if p.run is not None or not is_cancelled(p.event, cancel))
    return entry.model_copy(update={"events": kept})


def newer_cancellation(held: HoldCancelled | None, incoming: HoldCancelled) -> HoldCancelled:
    """The cancellation to keep for a hold: the later one (a redelivered older one never
    undoes a newer one, whose reports it would let through)."""
    return held if held is not None and held.occurred_at >= incoming.occurred_at else incoming


def _cancelled_in(event: PendingSource, cancelled: Cancellations | None) -> bool:
    return (
        cancelled is not None
        and isinstance(event, HoldReady)
        and is_cancelled(event, cancelled.get(event.hold_id))
    )


# -- eligibility rules ---------------------------------------------------------------------


def hold_ready_eligible(run_date: date, cancelled: Cancellations | None = None) -> Eligible:
    """Never on the JST day the item was secured (Q11): the next day or later; never for
    a cancelled hold."""

    def check(event: PendingSource) -> bool:
        return (
            isinstance(event, HoldReady)
            and event.secured_at.astimezone(JST).date() < run_date
            and event.pickup_deadline >= run_date
            and not _cancelled_in(event, cancelled)
        )

    return check


def hold_ready_useless(run_date: date, cancelled: Cancellations | None = None) -> Eligible:
    """A ready mail for a hold whose pickup deadline has passed, or that was cancelled,
    is pointless."""

    def check(event: PendingSource) -> bool:
        return isinstance(event, HoldReady) and (
            event.pickup_deadline < run_date or _cancelled_in(event, cancelled)
        )

    return check


def overdue_eligible(returned: Collection[str]) -> Eligible:
    """A reminder only for a loan whose return has not arrived."""

    def check(event: PendingSource) -> bool:
        return isinstance(event, LoanOverdue) and event.loan_id not in returned

    return check


def overdue_useless(returned: Collection[str]) -> Eligible:
    def check(event: PendingSource) -> bool:
        return isinstance(event, LoanOverdue) and event.loan_id in returned

    return check


def same_items(event: PendingSource) -> Eligible:
    """Only the events with ``event``'s items (a late event's own run)."""
    identity = item_identity(event)

    def check(held: PendingSource) -> bool:
        return item_identity(held) == identity

    return check


def always(_: PendingSource) -> bool:
    return True


def never(_: PendingSource) -> bool:
    return False
