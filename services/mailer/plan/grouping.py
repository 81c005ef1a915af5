"""Grouping collected events per patron and handing them to a run, exactly once.

A run (a weekly batch, a daily hold-ready or overdue run) takes a patron's eligible events
in three idempotent steps, each a compare-and-set on the patron's pending entry:

1. ``assign``: mark the eligible events with the run id. If the entry already has events
   marked with this run (a previous attempt of the same run crashed), that set is kept
   *as is*: what was assigned is frozen, so a re-run publishes exactly the same mail
   (same business key) even if new events arrived meanwhile; those wait for the next run.
2. publish the mail work item (Nats-Msg-Id = mail id).
3. ``release``: drop the events marked with the run (online loans: keep their loan ids
   as tombstones, see below).

Marks of other runs. An event marked by a *sibling* run is not free: that run is mailing
it (or will, when its redelivered message re-runs the same steps), so ``assign`` leaves it
and its mark alone. The runs of one online-loan batch are siblings of each other: the
Saturday run (run id = batch id) and the late runs (one per late event, run id derived
from its items, ``keys.late_online_loan_run``), which may all work on one entry at the
same time; whoever marks an event first mails it, the others skip it. Their messages (the
trigger, the late ILS event) are redelivered until acked, so a crashed sibling's marks
are taken up by its own re-run. Any other mark (daily runs: a previous day's run that
failed for good, or a run id no longer used) is *free again*: the event is taken if
eligible, else unmarked; no mail is lost, at worst an event is listed in two mails.

Tombstones (online-loan entries). ``release`` keeps the loan ids of the released events in
``PendingEntry.mailed`` instead of forgetting them, so the entry outlives the batch's mail
(an update where the key used to be deleted: the same number of writes). ``add_event``
drops the items already mailed from an event collected again: a redelivery or a re-post
of mailed items adds nothing; a re-post listing one more item adds that item alone (its
late mail lists only it). An entry holding only tombstones has nothing to mail: runs skip
it and ``assign`` on it changes nothing.

Tombstones of the daily runs (hold-ready and overdue entries, ``PendingEntry.recent``).
Their entries live across runs, so each tombstone says which later reports of the item
are repeats (those that occurred on or before ``until``, JST) and how long it is kept
(``keep``). A hold (item: its hold id) is one ready mail: any report of it until its
pickup deadline is a repeat, also one giving another deadline (a changed deadline is not
mailed; staff tell the patron). A reminder (item ``<loan>@<level>``) repeats on the JST
day its mailed event occurred (the ILS reminding at the same level on a later day is a
new reminder) and is kept ``TOMBSTONE_DAYS`` after the later of that day and its mail.
``add_event`` drops repeats; ``release`` and ``prune`` forget tombstones past their
``keep``; a daily run deletes the entries left with nothing (``is_empty``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from services.mailer.plan.keys import item_identity
from services.mailer.plan.model import (
    PendingEntry,
    PendingEvent,
    PendingSource,
    Tombstone,
)
from shared.clock import JST
from shared.contracts.ils import HoldReady, LoanOnlineIssued, LoanOverdue

Eligible = Callable[[PendingSource], bool]
#: Which other runs' marks ``assign`` respects (see the module doc).
Siblings = Callable[[str], bool]
#: Days a reminder's tombstone is kept after the later of its event's day and its mail:
#: a redelivery or replay of the mailed event within them is recognised.
TOMBSTONE_DAYS = 14


def add_event(entry: PendingEntry, event: PendingSource) -> PendingEntry | None:
    """The entry with ``event`` added; ``None`` when it is already there (a redelivery),
    when its item is held already or was mailed (a tombstone), or, for an online loan,
    when every item of it is mailed or held already. Only its other items are added: a
    run mails each loan of the batch once."""
    for held in entry.events:
        if held.event.event_id == event.event_id:
            return None
    if entry.recent and _was_mailed(entry, event):
        return None
    unsent = unmailed(entry, event) if isinstance(event, LoanOnlineIssued) else event
    if unsent is None:
        return None
    identity = item_identity(unsent)
    for held in entry.events:
        if item_identity(held.event) == identity:
            if _secured_again(held, unsent):
                others = tuple(p for p in entry.events if p is not held)
                return entry.model_copy(update={"events": (*others, PendingEvent(event=unsent))})
            return None  # the same item is held already (an ILS re-post)
    return entry.model_copy(update={"events": (*entry.events, PendingEvent(event=unsent))})


def _secured_again(held: PendingEvent, event: PendingSource) -> bool:
    """A hold made ready again (its item secured later: after a cancellation, which may be
    handled after this report) supersedes its earlier report while that one still waits
    unmarked; the cancellation then ends the earlier report only, never this one."""
    return (
        held.run is None
        and isinstance(held.event, HoldReady)
        and isinstance(event, HoldReady)
        and event.secured_at > held.event.secured_at
    )


def unmailed(entry: PendingEntry, event: LoanOnlineIssued) -> LoanOnlineIssued | None:
    """``event`` without the loans the entry has mailed (tombstones) or holds in another
    event (whose own run mails them); ``None`` if none is left."""
    taken = set(entry.mailed).union(
        item.loan_id
        for held in entry.events
        if isinstance(held.event, LoanOnlineIssued) and held.event.event_id != event.event_id
        for item in held.event.items
    )
    if not taken:
        return event
    items = [item for item in event.items if item.loan_id not in taken]
    if not items:
        return None
    if len(items) == len(event.items):
        return event
    return event.model_copy(update={"items": items})


def late_event(entry: PendingEntry, event: LoanOnlineIssued) -> LoanOnlineIssued | None:
    """What the late run of ``event`` mails: the entry's copy of it (its items unmailed
    when it was collected), else its unmailed items; ``None`` when all were mailed.

    The held copy wins so that a late run always matches what was collected, even when
    another event sharing a loan was mailed since (that loan is then listed twice).
    """
    for held in entry.events:
        if held.event.event_id == event.event_id and isinstance(held.event, LoanOnlineIssued):
            return held.event
    return unmailed(entry, event)


def tombstone(event: PendingSource, mailed_on: date | None = None) -> Tombstone | None:
    """What a daily run remembers of an event it mailed on ``mailed_on`` (``None`` for
    online loans, whose loan ids go to ``mailed``)."""
    if isinstance(event, HoldReady):
        # Any report of the hold until its deadline (after it, a report is useless).
        deadline = event.pickup_deadline
        return Tombstone(item=event.hold_id, until=deadline, keep=deadline)
    if isinstance(event, LoanOverdue):
        occurred = _day(event)
        latest = occurred if mailed_on is None else max(occurred, mailed_on)
        keep = latest + timedelta(days=TOMBSTONE_DAYS)
        return Tombstone(item=item_identity(event), until=occurred, keep=keep)
    return None


def _day(event: PendingSource) -> date:
    return event.occurred_at.astimezone(JST).date()


def _was_mailed(entry: PendingEntry, event: PendingSource) -> bool:
    mark = tombstone(event)
    if mark is None:
        return False
    occurred = _day(event)
    return any(t.item == mark.item and occurred <= t.until for t in entry.recent)


def prune(entry: PendingEntry, today: date) -> PendingEntry:
    """The entry without tombstones past their ``keep``; ``entry`` itself if none is."""
    kept = tuple(t for t in entry.recent if t.keep >= today)
    if len(kept) == len(entry.recent):
        return entry
    return entry.model_copy(update={"recent": kept})


def waiting(entry: PendingEntry) -> bool:
    """Whether the entry has events to mail (not just tombstones)."""
    return bool(entry.events)


def is_empty(entry: PendingEntry) -> bool:
    """Nothing to mail and nothing to remember: the key can go."""
    return not entry.events and not entry.mailed and not entry.recent


@dataclass(frozen=True, slots=True)
class Assignment:
    entry: PendingEntry  # the entry to write back (unchanged if ``changed`` is False)
    taken: tuple[PendingSource, ...]  # the events of this run's mail (may be empty)
    changed: bool


def assign(
    entry: PendingEntry,
    run: str,
    eligible: Eligible,
    useless: Eligible,
    siblings: Siblings | None = None,
) -> Assignment:
    """Mark this run's events (see module doc); drops events that can no longer help."""
    events = entry.events
    already = tuple(p.event for p in events if p.run == run)
    if already:
        return Assignment(entry, already, changed=False)
    kept: list[PendingEvent] = []
    taken: list[PendingSource] = []
    for held in events:
        if held.run is not None and siblings is not None and siblings(held.run):
            kept.append(held)  # a sibling run is mailing it
            continue
        if useless(held.event):
            continue
        # Any other mark is from a run that never released it (it failed): free again.
        if eligible(held.event):
            taken.append(held.event)
            kept.append(PendingEvent(event=held.event, run=run))
        else:
            kept.append(PendingEvent(event=held.event, run=None) if held.run else held)
    # An event kept as a new object differs from the held one (its mark: no held event is
    # marked ``run``, see ``already``), so identity tells what ``!=`` would, at no cost.
    changed = len(kept) != len(events) or any(
        new is not old for new, old in zip(kept, events, strict=True)
    )
    new = _with(entry, tuple(kept)) if changed else entry
    return Assignment(new, tuple(taken), changed)


def release(entry: PendingEntry, run: str, today: date | None = None) -> PendingEntry:
    """The entry without this run's events, remembered as tombstones: online loans' loan
    ids in ``mailed``, the daily runs' items in ``recent`` (those past their date, as of
    ``today`` when given, forgotten). An entry left with nothing is deleted by the caller.
    ``entry`` itself when it holds no event of the run."""
    kept: list[PendingEvent] = []
    released: list[PendingSource] = []
    for held in entry.events:
        if held.run == run:
            released.append(held.event)
        else:
            kept.append(held)
    if not released:
        return entry
    recent = _recent(entry, released, today)
    return _with(entry, tuple(kept), _tombstones(entry, released), recent)


def _with(
    entry: PendingEntry,
    events: tuple[PendingEvent, ...],
    mailed: tuple[str, ...] | None = None,
    recent: tuple[Tombstone, ...] | None = None,
) -> PendingEntry:
    """``entry.model_copy(update=...)`` of ``events`` (and ``mailed`` unless ``None``),
    built directly: validating an entry's values costs less than copying the entry. The
    fields set are ``model_copy``'s: an unset ``mailed`` (its default) stays unset.
    ``recent`` is carried over unless given (it is never stored empty)."""
    kind, patron_id = entry.kind, entry.patron_id
    if recent is None:
        recent = entry.recent
    if mailed is None and "mailed" in entry.model_fields_set:
        mailed = entry.mailed
    if recent:
        if mailed is not None:
            return PendingEntry(
                kind=kind, patron_id=patron_id, events=events, mailed=mailed, recent=recent
            )
        return PendingEntry(kind=kind, patron_id=patron_id, events=events, recent=recent)
    if mailed is not None:
        return PendingEntry(kind=kind, patron_id=patron_id, events=events, mailed=mailed)
    return PendingEntry(kind=kind, patron_id=patron_id, events=events)


def _tombstones(entry: PendingEntry, released: Iterable[PendingSource]) -> tuple[str, ...]:
    loans = {i.loan_id for e in released if isinstance(e, LoanOnlineIssued) for i in e.items}
    if loans <= set(entry.mailed):
        return entry.mailed
    return tuple(sorted(loans.union(entry.mailed)))


def _recent(
    entry: PendingEntry, released: Iterable[PendingSource], today: date | None
) -> tuple[Tombstone, ...]:
    """``entry.recent`` with the tombstones of the events released ``today`` (an item
    mailed twice keeps the later of each date), without those past their ``keep``."""
    marks = [mark for event in released if (mark := tombstone(event, today)) is not None]
    if not marks and not entry.recent:
        return ()  # online loans: their tombstones are ``mailed``
    return tuple(t for t in _merged(entry.recent, marks) if today is None or t.keep >= today)


def _merged(recent: Iterable[Tombstone], marks: Iterable[Tombstone]) -> tuple[Tombstone, ...]:
    """``recent`` with ``marks`` added, by item; an item in both keeps the later of each
    date."""
    held = {t.item: t for t in recent}
    for mark in marks:
        old = held.get(mark.item)
        if old is not None:
            mark = Tombstone(
                item=mark.item, until=max(old.until, mark.until), keep=max(old.keep, mark.keep)
            )
        held[mark.item] = mark
    return tuple(held[item] for item in sorted(held))


def drop_loans(entry: PendingEntry, loan_ids: Collection[str]) -> PendingEntry:
    """The entry without the waiting reminders of returned loans. A reminder a run has
    marked stays: that run's set is frozen (a re-run must make the same mail, same key);
    the sender leaves a returned loan out of the mail and the run's release drops it."""
    kept = tuple(
        p
        for p in entry.events
        if p.run is not None
        or not (isinstance(p.event, LoanOverdue) and p.event.loan_id in loan_ids)
    )
    return entry.model_copy(update={"events": kept})
