"""Tombstones: the loans a batch's runs have mailed stay in the entry, never mailed again."""

from __future__ import annotations

from datetime import date, timedelta

from services.mailer.plan import eligibility, grouping, keys
from services.mailer.plan.model import PendingEntry, PendingEvent, PendingSource
from shared.contracts.ils import LoanItem, LoanOnlineIssued
from tests.integration.mailer.events import BATCH, THURSDAY, online_loan

RUN = BATCH.batch_id
SIBLINGS = keys.batch_runs(RUN)


def _entry(
    *events: PendingSource, run: str | None = None, mailed: tuple[str, ...] = ()
) -> PendingEntry:
    held = tuple(PendingEvent(event=e, run=run) for e in events)
    return PendingEntry(kind="online_loan", patron_id="P1", events=held, mailed=mailed)


def _plus(event: LoanOnlineIssued, loan: str, **update: object) -> LoanOnlineIssued:
    item = LoanItem(loan_id=loan, item_id=f"item-{loan}", title="本", due_date=date(2026, 12, 20))
    return event.model_copy(update={"items": [*event.items, item], **update})


def test_release_keeps_the_released_loans_as_tombstones() -> None:
    sent, waiting = online_loan("P1", "L2", "L1"), online_loan("P1", "L3")
    entry = _entry(sent, run=RUN, mailed=("L0",))
    entry = entry.model_copy(update={"events": (*entry.events, PendingEvent(event=waiting))})
    released = grouping.release(entry, RUN)
    assert released.events == (PendingEvent(event=waiting),)
    assert released.mailed == ("L0", "L1", "L2")
    assert grouping.release(released, RUN) == released  # nothing of the run left: no write


def test_an_event_whose_loans_were_all_mailed_is_not_collected_again() -> None:
    event = online_loan("P1", "L1", "L2")
    spent = grouping.release(_entry(event, run=RUN), RUN)
    assert grouping.add_event(spent, event) is None  # a redelivery
    assert grouping.add_event(spent, event.model_copy(update={"event_id": "resent-1"})) is None
    assert grouping.add_event(spent, online_loan("P1", "L2")) is None  # a subset of them
    assert grouping.unmailed(spent, event) is None


def test_an_event_listing_one_more_loan_adds_that_loan_alone() -> None:
    event = online_loan("P1", "L1")
    spent = grouping.release(_entry(event, run=RUN), RUN)
    for again in (_plus(event, "L2"), _plus(event, "L2", event_id="resent-2")):
        added = grouping.add_event(spent, again)
        assert added is not None
        (held,) = added.events
        assert isinstance(held.event, LoanOnlineIssued)
        assert held.event.event_id == again.event_id
        assert [i.loan_id for i in held.event.items] == ["L2"]
        assert grouping.unmailed(spent, again) == held.event  # the late run's event
        assert added.mailed == ("L1",)


def test_a_late_run_of_the_new_loan_mails_it_and_tombstones_it() -> None:
    event = online_loan("P1", "L1")
    spent = grouping.release(_entry(event, run=RUN), RUN)
    again = _plus(event, "L2")
    added = grouping.add_event(spent, again)
    assert added is not None
    late = grouping.unmailed(added, again)
    assert late is not None
    run = keys.late_online_loan_run(RUN, late)
    result = grouping.assign(added, run, eligibility.same_items(late), eligibility.never, SIBLINGS)
    assert result.taken == (late,)
    done = grouping.release(result.entry, run)
    assert done.events == () and done.mailed == ("L1", "L2")
    assert grouping.add_event(done, again) is None


def test_an_entry_of_tombstones_only_gives_a_run_nothing_and_is_not_rewritten() -> None:
    spent = grouping.release(_entry(online_loan("P1", "L1"), run=RUN), RUN)
    assert not grouping.waiting(spent) and not grouping.is_empty(spent)
    for run in (RUN, keys.late_online_loan_run(RUN, online_loan("P1", "L1"))):
        result = grouping.assign(spent, run, eligibility.always, eligibility.never, SIBLINGS)
        assert result.taken == () and not result.changed and result.entry is spent
        assert grouping.release(result.entry, run) is spent


def test_an_entry_stored_before_tombstones_still_decodes() -> None:
    event = online_loan("P1", "L1")
    old = PendingEntry(kind="online_loan", patron_id="P1", events=(PendingEvent(event=event),))
    stored = old.model_dump_json(exclude={"mailed"})
    assert '"mailed"' not in stored
    decoded = PendingEntry.model_validate_json(stored)
    assert decoded == old and decoded.mailed == ()
    assert grouping.waiting(decoded) and not grouping.is_empty(decoded)


def test_a_weekly_run_purges_batches_more_than_four_weeks_old_going_back_a_year() -> None:
    batches = keys.expired_batches(THURSDAY)
    assert batches[0] == THURSDAY - timedelta(weeks=5)
    assert batches[-1] == THURSDAY - timedelta(weeks=57)
    assert len(batches) == 53 and len(set(batches)) == 53
    assert all(b.isoweekday() == 4 for b in batches)
    assert THURSDAY - timedelta(weeks=4) not in batches and THURSDAY not in batches


def test_a_late_run_mails_the_event_as_collected_even_if_a_shared_loan_was_mailed_since() -> None:
    first, second = online_loan("P1", "L1", "L2"), online_loan("P1", "L2", "L3")
    entry = _entry(first, second)  # both late, collected before either was mailed
    run = keys.late_online_loan_run(RUN, first)
    taken = grouping.assign(entry, run, eligibility.same_items(first), eligibility.never, SIBLINGS)
    after = grouping.release(taken.entry, run)
    assert after.mailed == ("L1", "L2")
    late = grouping.late_event(after, second)
    assert late == second  # not stuck: its run still matches the held event
    run = keys.late_online_loan_run(RUN, late)
    result = grouping.assign(after, run, eligibility.same_items(late), eligibility.never, SIBLINGS)
    assert result.taken == (second,)
    assert grouping.late_event(grouping.release(result.entry, run), second) is None


def test_a_repost_listing_held_loans_adds_only_its_new_loans() -> None:
    """E1 (L1) waits for its run; a re-post E2 (L1, L2) arrives before it is released:
    L1 is E1's, so E2 holds L2 alone and no loan is mailed twice."""
    first = online_loan("P1", "L1")
    for run in (None, RUN):  # waiting, or marked by the Saturday run
        entry = _entry(first, run=run)
        repost = _plus(first, "L2", event_id="repost-1")
        added = grouping.add_event(entry, repost)
        assert added is not None
        held = added.events[-1].event
        assert isinstance(held, LoanOnlineIssued)
        assert [i.loan_id for i in held.items] == ["L2"]
        assert grouping.late_event(added, repost) == held
        assert grouping.add_event(entry, first.model_copy(update={"event_id": "x"})) is None
