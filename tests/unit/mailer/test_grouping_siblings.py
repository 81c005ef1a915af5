"""Marks of other runs: a batch's Saturday and late runs respect each other's marks."""

from __future__ import annotations

from datetime import date, datetime

from services.mailer.plan import eligibility, grouping, keys
from services.mailer.plan.model import PendingEntry, PendingEvent, PendingSource
from shared.clock import JST
from tests.integration.mailer.events import BATCH, hold_ready, online_loan

BATCH_RUN = BATCH.batch_id
SIBLINGS = keys.batch_runs(BATCH_RUN)
X, L, M = online_loan("P1", "L-X"), online_loan("P1", "L-L"), online_loan("P1", "L-M")
LATE_L = keys.late_online_loan_run(BATCH_RUN, L)


def _entry(*marked: tuple[PendingSource, str | None]) -> PendingEntry:
    events = tuple(PendingEvent(event=e, run=run) for e, run in marked)
    return PendingEntry(kind="online_loan", patron_id="P1", events=events)


def _late(event: PendingSource, entry: PendingEntry) -> grouping.Assignment:
    run = keys.late_online_loan_run(BATCH_RUN, event)
    return grouping.assign(entry, run, eligibility.same_items(event), eligibility.never, SIBLINGS)


def test_a_late_run_takes_only_its_own_event() -> None:
    result = _late(L, _entry((X, None), (L, None)))
    assert result.taken == (L,)
    assert result.entry.events == (PendingEvent(event=X), PendingEvent(event=L, run=LATE_L))


def test_a_late_run_id_depends_on_the_items_only() -> None:
    assert keys.late_online_loan_run(BATCH_RUN, L.model_copy(update={"event_id": "x"})) == LATE_L
    assert keys.late_online_loan_run(BATCH_RUN, M) != LATE_L
    assert LATE_L.startswith(f"{BATCH_RUN}-late-") and SIBLINGS(LATE_L)
    assert not SIBLINGS(f"{BATCH_RUN}-late") and not SIBLINGS("batch-2026-12-10")


def test_concurrent_late_runs_leave_each_other_alone() -> None:
    entry = _entry((L, LATE_L), (M, None))
    result = _late(M, entry)
    assert result.taken == (M,)
    assert result.entry.events[0] == PendingEvent(event=L, run=LATE_L)
    released = grouping.release(result.entry, LATE_L)
    assert [p.event for p in released.events] == [M]


def test_the_saturday_run_skips_an_event_a_late_run_is_mailing() -> None:
    entry = _entry((X, None), (L, LATE_L))
    result = grouping.assign(entry, BATCH_RUN, eligibility.always, eligibility.never, SIBLINGS)
    assert result.taken == (X,)
    assert result.entry.events[1] == PendingEvent(event=L, run=LATE_L)


def test_a_late_run_skips_an_event_the_saturday_run_is_mailing() -> None:
    entry = _entry((X, BATCH_RUN), (L, BATCH_RUN))
    result = _late(L, entry)
    assert result.taken == () and not result.changed


def test_a_rerun_of_a_late_run_publishes_the_same_set() -> None:
    entry = _entry((L, LATE_L), (online_loan("P1", "L-L", "L-N"), None))
    assert _late(L, entry).taken == (L,)


def test_daily_runs_still_take_a_failed_runs_events() -> None:
    secured = datetime(2026, 12, 6, 15, 0, tzinfo=JST)
    ready = hold_ready("P1", "H-1", secured, date(2026, 12, 14))
    stale = PendingEntry(
        kind="hold_ready",
        patron_id="P1",
        events=(PendingEvent(event=ready, run="hold-ready-2026-12-07"),),
    )
    run_date = date(2026, 12, 8)
    result = grouping.assign(
        stale,
        keys.hold_ready_run(run_date),
        eligibility.hold_ready_eligible(run_date),
        eligibility.hold_ready_useless(run_date),
    )
    assert result.taken == (ready,)
