"""Tombstones of the daily runs: a hold-ready or overdue mail is not sent again when its
event is collected again after the run (a redelivery, an ILS re-post), and the entries
forget them once they cannot matter."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.mailer.collect.store import decode_entry, encode_entry
from services.mailer.plan import eligibility, grouping, keys
from services.mailer.plan.model import PendingEntry, PendingEvent, PendingSource, Tombstone
from shared.clock import JST
from shared.contracts.ils import HoldReady, LoanOverdue
from shared.contracts.mail import MailKind
from tests.integration.mailer.events import hold_ready, online_loan, overdue

RUN = "hold-ready-2026-12-08"
SECURED = datetime(2026, 12, 6, 15, 0, tzinfo=JST)
DEADLINE = date(2026, 12, 14)
REMINDED = date(2026, 12, 4)  # the overdue events' JST day
KEEP = grouping.TOMBSTONE_DAYS


def _mailed(kind: MailKind, *events: PendingSource, today: date | None = None) -> PendingEntry:
    """The entry after a run took and released ``events`` on ``today``."""
    held = tuple(PendingEvent(event=e, run=RUN) for e in events)
    entry = PendingEntry(kind=kind, patron_id="P1", events=held)
    return grouping.release(entry, RUN, today)


def _later(event: LoanOverdue, days: int, event_id: str) -> LoanOverdue:
    return event.model_copy(
        update={"event_id": event_id, "occurred_at": event.occurred_at + timedelta(days=days)}
    )


def test_release_remembers_a_hold_until_its_pickup_deadline() -> None:
    spent = _mailed("hold_ready", hold_ready("P1", "H-1", SECURED, DEADLINE), today=DEADLINE)
    assert spent.events == () and spent.mailed == ()
    assert spent.recent == (Tombstone(item="H-1", until=DEADLINE, keep=DEADLINE),)
    assert not grouping.waiting(spent) and not grouping.is_empty(spent)  # kept, not deleted


def test_release_remembers_a_reminder_for_its_day_and_keeps_it_two_weeks() -> None:
    spent = _mailed("overdue", overdue("P1", "L-1", 2), today=REMINDED + timedelta(days=1))
    keep = REMINDED + timedelta(days=1 + KEEP)  # counted from the mail, the later day
    assert spent.recent == (Tombstone(item="L-1@2", until=REMINDED, keep=keep),)


def test_a_reminder_mailed_long_after_it_occurred_keeps_its_tombstone() -> None:
    """Daily runs skipped for a long closure: the mail goes out 9 days after the event,
    and a redelivery of that event afterwards is still recognised."""
    reminder = overdue("P1", "L-1")
    mailed_on = REMINDED + timedelta(days=9)
    spent = _mailed("overdue", reminder, today=mailed_on)
    assert [t.keep for t in spent.recent] == [mailed_on + timedelta(days=KEEP)]
    assert (
        grouping.add_event(grouping.prune(spent, mailed_on + timedelta(days=1)), reminder) is None
    )


def test_a_mailed_hold_collected_again_adds_nothing() -> None:
    ready = hold_ready("P1", "H-1", SECURED, DEADLINE)
    spent = _mailed("hold_ready", ready)
    assert grouping.add_event(spent, ready) is None  # a redelivery
    assert grouping.add_event(spent, ready.model_copy(update={"event_id": "repost-1"})) is None


def test_a_changed_deadline_is_not_mailed_again() -> None:
    """One ready mail per hold: a report giving another pickup deadline, before or after
    the mail, is a repeat (staff who change a deadline tell the patron)."""
    ready = hold_ready("P1", "H-1", SECURED, DEADLINE)
    waiting = PendingEntry(kind="hold_ready", patron_id="P1", events=(PendingEvent(event=ready),))
    assert grouping.add_event(waiting, _extended(ready)) is None
    marked = PendingEntry(
        kind="hold_ready", patron_id="P1", events=(PendingEvent(event=ready, run=RUN),)
    )
    assert grouping.add_event(marked, _extended(ready)) is None
    spent = _mailed("hold_ready", ready)
    assert grouping.add_event(spent, _extended(ready)) is None
    # After the first deadline, the tombstone is gone: a report then is a new ready mail.
    later = _extended(ready).model_copy(
        update={"occurred_at": datetime(2026, 12, 15, 9, 0, tzinfo=JST)}
    )
    assert grouping.add_event(grouping.prune(spent, date(2026, 12, 15)), later) is not None


def _extended(ready: HoldReady) -> HoldReady:
    return ready.model_copy(
        update={
            "event_id": "extended-1",
            "pickup_deadline": ready.pickup_deadline + timedelta(days=7),
            "occurred_at": ready.occurred_at + timedelta(hours=2),
        }
    )


def test_mails_of_different_reports_of_an_item_have_different_keys() -> None:
    """A run re-fired the same day that takes a new deadline (or a new reminder of the
    same level) makes a mail of its own, not one the ledger already calls sent."""
    ready = hold_ready("P1", "H-1", SECURED, DEADLINE)
    reminder = overdue("P1", "L-1", 3)
    cases: list[tuple[PendingSource, PendingSource, MailKind]] = [
        (ready, _extended(ready), "hold_ready"),
        (reminder, _later(reminder, 7, "weekly-1"), "overdue"),
    ]
    for first, second, kind in cases:
        assert keys.key_and_id(kind, "P1", RUN, [first]) != keys.key_and_id(
            kind, "P1", RUN, [second]
        )
        again = first.model_copy(update={"event_id": "repost-1"})
        assert keys.key_and_id(kind, "P1", RUN, [again]) == keys.key_and_id(
            kind, "P1", RUN, [first]
        )


def test_a_reminder_collected_again_the_same_day_adds_nothing() -> None:
    reminder = overdue("P1", "L-1")
    spent = _mailed("overdue", reminder, today=REMINDED)
    assert grouping.add_event(spent, reminder) is None
    repost = reminder.model_copy(
        update={"event_id": "repost-1", "occurred_at": reminder.occurred_at + timedelta(hours=12)}
    )
    assert grouping.add_event(spent, repost) is None


def test_a_reminder_of_the_same_level_on_a_later_day_is_a_new_reminder() -> None:
    """An ILS reminding weekly at level 3 gets every weekly reminder out."""
    reminder = overdue("P1", "L-1", 3)
    spent = _mailed("overdue", reminder, today=REMINDED)
    for days in (1, 7):
        later = _later(reminder, days, f"again-{days}")
        added = grouping.add_event(spent, later)
        assert added is not None and [p.event for p in added.events] == [later]


def test_the_day_of_a_reminder_is_its_day_in_japan() -> None:
    """15:30 UTC on 3 December is 00:30 on the 4th in Aomori."""
    reminder = overdue("P1", "L-1").model_copy(
        update={"occurred_at": datetime(2026, 12, 3, 15, 30, tzinfo=UTC)}
    )
    spent = _mailed("overdue", reminder, today=REMINDED)
    assert [t.until for t in spent.recent] == [REMINDED]
    same_day = reminder.model_copy(
        update={"event_id": "jst-4th", "occurred_at": datetime(2026, 12, 4, 14, 59, tzinfo=UTC)}
    )
    assert grouping.add_event(spent, same_day) is None
    next_day = same_day.model_copy(
        update={"event_id": "jst-5th", "occurred_at": datetime(2026, 12, 4, 15, 0, tzinfo=UTC)}
    )
    assert grouping.add_event(spent, next_day) is not None


def test_the_next_level_and_other_loans_are_not_held_back() -> None:
    spent = _mailed("overdue", overdue("P1", "L-1", 1), today=REMINDED)
    for event in (overdue("P1", "L-1", 2), overdue("P1", "L-2", 1)):
        again = event.model_copy(update={"event_id": f"e-{event.loan_id}-{event.reminder_level}"})
        added = grouping.add_event(spent, again)
        assert added is not None and len(added.events) == 1


def test_tombstones_are_forgotten_after_their_keep() -> None:
    spent = _mailed("hold_ready", hold_ready("P1", "H-1", SECURED, DEADLINE))
    assert grouping.prune(spent, DEADLINE) is spent  # its last day still counts
    gone = grouping.prune(spent, DEADLINE + timedelta(days=1))
    assert gone.recent == () and grouping.is_empty(gone)  # the key can be deleted


def test_a_release_forgets_past_tombstones_and_keeps_the_later_dates_of_an_item() -> None:
    old = Tombstone(item="H-0", until=date(2026, 12, 1), keep=date(2026, 12, 1))
    same = Tombstone(item="H-1", until=DEADLINE, keep=DEADLINE)
    ready = hold_ready("P1", "H-1", SECURED, DEADLINE)
    entry = PendingEntry(
        kind="hold_ready",
        patron_id="P1",
        events=(PendingEvent(event=ready, run=RUN),),
        recent=(old, same),
    )
    assert grouping.release(entry, RUN, date(2026, 12, 8)).recent == (same,)
    reminder = overdue("P1", "L-1")
    first = _mailed("overdue", reminder, today=REMINDED + timedelta(days=3))
    again = _later(reminder, 1, "again-1")
    entry = first.model_copy(update={"events": (PendingEvent(event=again, run=RUN),)})
    [merged] = grouping.release(entry, RUN, REMINDED + timedelta(days=1)).recent
    assert merged.until == REMINDED + timedelta(days=1)  # the later event's day
    assert merged.keep == REMINDED + timedelta(days=3 + KEEP)  # the first mail's, later


def test_assign_and_release_carry_the_tombstones_of_earlier_runs() -> None:
    spent = _mailed("hold_ready", hold_ready("P1", "H-1", SECURED, DEADLINE))
    second = hold_ready("P1", "H-2", SECURED + timedelta(days=1), DEADLINE + timedelta(days=1))
    entry = grouping.add_event(spent, second)
    assert entry is not None
    run = "hold-ready-2026-12-09"
    taken = grouping.assign(
        entry, run, eligibility.hold_ready_eligible(date(2026, 12, 9)), eligibility.never
    )
    assert taken.taken == (second,) and taken.entry.recent == spent.recent
    done = grouping.release(taken.entry, run, date(2026, 12, 9))
    assert [t.item for t in done.recent] == ["H-1", "H-2"]


def test_online_loan_releases_keep_no_dated_tombstones() -> None:
    spent = _mailed("online_loan", online_loan("P1", "L-1"), today=REMINDED)
    assert spent.recent == () and spent.mailed == ("L-1",)


def test_an_entry_without_tombstones_is_stored_as_before() -> None:
    """A mailer that predates ``recent`` still reads every entry that has none."""
    entry = PendingEntry(
        kind="overdue", patron_id="P1", events=(PendingEvent(event=overdue("P1", "L-1")),)
    )
    assert b"recent" not in encode_entry(entry)
    assert b"recent" not in entry.model_dump_json().encode()
    spent = _mailed("overdue", overdue("P1", "L-1"))
    assert decode_entry("od.P1", encode_entry(spent)) == spent


def test_a_return_leaves_a_reminder_a_run_has_marked() -> None:
    """The run's set is frozen: a re-run after a crash must make the same mail (same key),
    not a second one without the returned loan; the sender leaves the loan out."""
    run = "overdue-2026-12-05"
    entry = PendingEntry(
        kind="overdue",
        patron_id="P1",
        events=(
            PendingEvent(event=overdue("P1", "L-1"), run=run),
            PendingEvent(event=overdue("P1", "L-2"), run=run),
            PendingEvent(event=overdue("P1", "L-3")),
        ),
    )
    kept = grouping.drop_loans(entry, {"L-1", "L-3"})
    assert [p.event.loan_id for p in kept.events] == ["L-1", "L-2"]  # type: ignore[union-attr]
