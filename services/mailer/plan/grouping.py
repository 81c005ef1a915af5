"""Grouping collected events per patron and handing them to a run, exactly once.

A run (a weekly batch, a daily hold-ready or overdue run) takes a patron's eligible events
in three idempotent steps, each a compare-and-set on the patron's pending entry:

1. ``assign``: mark the eligible events with the run id. If the entry already has events
   marked with this run (a previous attempt of the same run crashed), that set is kept
   *as is*: what was assigned is frozen, so a re-run publishes exactly the same mail
   (same business key) even if new events arrived meanwhile; those wait for the next run.
2. publish the mail work item (Nats-Msg-Id = mail id).
3. ``release``: drop the events marked with the run.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime

from services.mailer.plan.keys import item_identity
from services.mailer.plan.model import PendingEntry, PendingEvent, PendingSource
from shared.clock import JST
from shared.contracts.ils import HoldReady, LoanOverdue, PatronEmailChanged

Eligible = Callable[[PendingSource], bool]


def add_event(entry: PendingEntry, event: PendingSource) -> PendingEntry | None:
    """The entry with ``event`` added; ``None`` when it is already there (a redelivery)."""
    identity = item_identity(event)
    for held in entry.events:
        if held.event.event_id == event.event_id or item_identity(held.event) == identity:
            return None
    return entry.model_copy(update={"events": (*entry.events, PendingEvent(event=event))})


@dataclass(frozen=True, slots=True)
class Assignment:
    entry: PendingEntry  # the entry to write back (unchanged if ``changed`` is False)
    taken: tuple[PendingSource, ...]  # the events of this run's mail (may be empty)
    changed: bool


def assign(entry: PendingEntry, run: str, eligible: Eligible, useless: Eligible) -> Assignment:
    """Mark this run's events (see module doc); drops events that can no longer help."""
    already = tuple(p.event for p in entry.events if p.run == run)
    if already:
        return Assignment(entry, already, changed=False)
    kept: list[PendingEvent] = []
    taken: list[PendingSource] = []
    for held in entry.events:
        if useless(held.event):
            continue
        # An event marked by another run that never released it (that run failed) is
        # free again: no mail is lost, at worst it is listed in this run's mail too.
        if eligible(held.event):
            taken.append(held.event)
            kept.append(PendingEvent(event=held.event, run=run))
        else:
            kept.append(PendingEvent(event=held.event, run=None) if held.run else held)
    changed = tuple(kept) != entry.events
    new = entry.model_copy(update={"events": tuple(kept)}) if changed else entry
    return Assignment(new, tuple(taken), changed)


def release(entry: PendingEntry, run: str) -> PendingEntry:
    """The entry without this run's events (empty → the caller deletes the key)."""
    return entry.model_copy(update={"events": tuple(p for p in entry.events if p.run != run)})


def drop_loans(entry: PendingEntry, loan_ids: Collection[str]) -> PendingEntry:
    """The entry without reminders for returned loans."""
    kept = tuple(
        p
        for p in entry.events
        if not (isinstance(p.event, LoanOverdue) and p.event.loan_id in loan_ids)
    )
    return entry.model_copy(update={"events": kept})


# -- eligibility rules ---------------------------------------------------------------------


def hold_ready_eligible(run_date: date) -> Eligible:
    """Never on the JST day the item was secured (Q11): the next day or later."""

    def check(event: PendingSource) -> bool:
        return (
            isinstance(event, HoldReady)
            and event.secured_at.astimezone(JST).date() < run_date
            and event.pickup_deadline >= run_date
        )

    return check


def hold_ready_useless(run_date: date) -> Eligible:
    """A ready mail for a hold whose pickup deadline has passed is pointless."""

    def check(event: PendingSource) -> bool:
        return isinstance(event, HoldReady) and event.pickup_deadline < run_date

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


def always(_: PendingSource) -> bool:
    return True


def never(_: PendingSource) -> bool:
    return False


def latest_address(
    events: Collection[PendingSource], change: PatronEmailChanged | None = None
) -> str:
    """The address to mail: the most recent event's, or a newer registered change.

    A patron may change the address between the events and the run (often after staff
    phoned about a bounce): the change wins when the ILS reported it after the events.
    """
    latest = max(events, key=lambda e: e.occurred_at)
    return address_for(latest.email, latest.occurred_at, change)


def address_for(email: str, reported_at: datetime, change: PatronEmailChanged | None) -> str:
    """``email`` as of ``reported_at``, unless the ILS reported a change since."""
    if change is not None and change.occurred_at >= reported_at:
        return change.new_email
    return email


def newer_change(
    held: PatronEmailChanged | None, incoming: PatronEmailChanged
) -> PatronEmailChanged | None:
    """The change to keep; ``None`` when ``held`` is already as new (a redelivery)."""
    if held is not None and held.occurred_at >= incoming.occurred_at:
        return None
    return incoming
