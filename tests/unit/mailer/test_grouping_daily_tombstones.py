"""Tombstones of the daily runs: a hold-ready or overdue mail is not sent again when its
event is collected again after the run (a redelivery, an ILS re-post), and the entries
forget them once they cannot matter."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.mailer.collect.store import decode_entry, encode_entry
from services.mailer.plan import grouping
from services.mailer.plan.model import PendingEntry, PendingEvent, PendingSource, Tombstone
from shared.clock import JST
from shared.contracts.mail import MailKind
from tests.integration.mailer.events import hold_ready, online_loan, overdue

RUN = "hold-ready-2026-12-08"
SECURED = datetime(2026, 12, 6, 15, 0, tzinfo=JST)
DEADLINE = date(2026, 12, 14)
REMINDED = date(2026, 12, 4)  # the overdue events' JST day


def _mailed(kind: MailKind, *events: PendingSource, today: date | None = None) -> PendingEntry:
    """The entry after a run took and released ``events``."""
    held = tuple(PendingEvent(event=e, run=RUN) for e in events)
    entry = PendingEntry(kind=kind, patron_id="P1", events=held)
    return grouping.release(entry, RUN, today)


def test_release_remembers_a_hold_until_its_pickup_deadline() -> None:
    spent = _mailed("hold_ready", hold_ready("P1", "H-1", SECURED, DEADLINE))
    assert spent.events == () and spent.mailed == ()
    assert spent.recent == (Tombstone(item="H-1@2026-12-14", until=DEADLINE),)
    assert not grouping.waiting(spent) and not grouping.is_empty(spent)  # kept, not deleted


def test_release_remembers_a_reminder_for_a_week_after_it_occurred() -> None:
    spent = _mailed("overdue", overdue("P1", "L-1", 2))
    assert spent.recent == (Tombstone(item="L-1@2", until=REMINDED + timedelta(days=7)),)


def test_a_mailed_hold_collected_again_adds_nothing() -> None:
    ready = hold_ready("P1", "H-1", SECURED, DEADLINE)
    spent = _mailed("hold_ready", ready)
    assert grouping.add_event(spent, ready) is None  # a redelivery
    assert grouping.add_event(spent, ready.model_copy(update={"event_id": "repost-1"})) is None


def test_a_hold_posted_again_with_another_deadline_is_mailed() -> None:
    ready = hold_ready("P1", "H-1", SECURED, DEADLINE)
    spent = _mailed("hold_ready", ready)
    extended = ready.model_copy(
        update={"event_id": "extended-1", "pickup_deadline": DEADLINE + timedelta(days=7)}
    )
    added = grouping.add_event(spent, extended)
    assert added is not None and [p.event for p in added.events] == [extended]
    assert added.recent == spent.recent


def test_a_reminder_collected_again_within_the_week_adds_nothing() -> None:
    reminder = overdue("P1", "L-1")
    spent = _mailed("overdue", reminder)
    assert grouping.add_event(spent, reminder) is None
    repost = reminder.model_copy(
        update={"event_id": "repost-1", "occurred_at": reminder.occurred_at + timedelta(days=7)}
    )
    assert grouping.add_event(spent, repost) is None


def test_a_reminder_of_the_same_level_a_week_later_is_a_new_reminder() -> None:
    reminder = overdue("P1", "L-1")
    spent = _mailed("overdue", reminder)
    later = reminder.model_copy(
        update={"event_id": "again-1", "occurred_at": reminder.occurred_at + timedelta(days=8)}
    )
    added = grouping.add_event(spent, later)
    assert added is not None and [p.event for p in added.events] == [later]


def test_the_next_level_and_other_loans_are_not_held_back() -> None:
    spent = _mailed("overdue", overdue("P1", "L-1", 1))
    for event in (overdue("P1", "L-1", 2), overdue("P1", "L-2", 1)):
        added = grouping.add_event(
            spent,
            event.model_copy(update={"event_id": f"e-{event.loan_id}-{event.reminder_level}"}),
        )
        assert added is not None and len(added.events) == 1


def test_tombstones_are_forgotten_after_their_date() -> None:
    spent = _mailed("hold_ready", hold_ready("P1", "H-1", SECURED, DEADLINE))
    assert grouping.prune(spent, DEADLINE) is spent  # its last day still counts
    gone = grouping.prune(spent, DEADLINE + timedelta(days=1))
    assert gone.recent == () and grouping.is_empty(gone)  # the key can be deleted


def test_a_release_forgets_past_tombstones_and_keeps_the_latest_date_of_an_item() -> None:
    old = Tombstone(item="H-0@2026-12-01", until=date(2026, 12, 1))
    same = Tombstone(item="H-1@2026-12-14", until=DEADLINE)
    ready = hold_ready("P1", "H-1", SECURED, DEADLINE)
    entry = PendingEntry(
        kind="hold_ready",
        patron_id="P1",
        events=(PendingEvent(event=ready, run=RUN),),
        recent=(old, same),
    )
    released = grouping.release(entry, RUN, date(2026, 12, 8))
    assert released.recent == (same,)


def test_assign_and_release_carry_the_tombstones_of_earlier_runs() -> None:
    spent = _mailed("hold_ready", hold_ready("P1", "H-1", SECURED, DEADLINE))
    second = hold_ready("P1", "H-2", SECURED + timedelta(days=1), DEADLINE + timedelta(days=1))
    entry = grouping.add_event(spent, second)
    assert entry is not None
    run = "hold-ready-2026-12-09"
    taken = grouping.assign(
        entry, run, grouping.hold_ready_eligible(date(2026, 12, 9)), grouping.never
    )
    assert taken.taken == (second,) and taken.entry.recent == spent.recent
    done = grouping.release(taken.entry, run, date(2026, 12, 9))
    assert [t.item for t in done.recent] == ["H-1@2026-12-14", "H-2@2026-12-15"]


def test_online_loan_releases_keep_no_dated_tombstones() -> None:
    spent = _mailed("online_loan", online_loan("P1", "L-1"))
    assert spent.recent == () and spent.mailed == ("L-1",)


def test_an_entry_without_tombstones_is_stored_as_before() -> None:
    """A mailer that predates ``recent`` still reads every entry that has none."""
    entry = PendingEntry(
        kind="overdue", patron_id="P1", events=(PendingEvent(event=overdue("P1", "L-1")),)
    )
    data = encode_entry(entry)
    assert b"recent" not in data
    spent = _mailed("overdue", overdue("P1", "L-1"))
    assert decode_entry("od.P1", encode_entry(spent)) == spent
