"""The Saturday mail follows its batch's cutoff record; the closures decide only without one."""

from __future__ import annotations

from datetime import date

import pytest

from services.scheduler.calendar import (
    Calendar,
    Closure,
    CutoffRecord,
    cutoff_record,
    decide,
    due,
    fired_event,
    followed_batches,
    occurrence_at,
    occurrences,
    suspended_event,
)

from .support import calendar, jst

THU, SAT = date(2026, 12, 10), date(2026, 12, 12)
CLOSED_THU = Closure(THU, THU, "臨時休館")
FIRED = CutoffRecord(THU)
SUSPENDED = CutoffRecord(THU, suspended_by="蔵書点検")


def _suppressed_by(cal: Calendar, trigger: str, day: date) -> str | None:
    return occurrence_at(cal.trigger(trigger), day, cal).suppressed_by


@pytest.mark.parametrize(
    ("closures", "records", "mail"),
    [
        pytest.param((CLOSED_THU,), (FIRED,), None, id="fired-then-closed"),
        pytest.param((), (SUSPENDED,), "蔵書点検", id="suspended-then-reopened"),
        pytest.param((CLOSED_THU,), (SUSPENDED,), "蔵書点検", id="suspended-still-closed"),
        pytest.param((), (FIRED,), None, id="fired-still-open"),
        pytest.param((CLOSED_THU,), (), "臨時休館", id="no-record-closed"),
        pytest.param((), (), None, id="no-record-open"),
        pytest.param((CLOSED_THU,), (CutoffRecord(date(2026, 12, 3)),), "臨時休館", id="other"),
    ],
)
def test_the_saturday_mail_follows_the_record_of_its_cutoff(
    closures: tuple[Closure, ...], records: tuple[CutoffRecord, ...], mail: str | None
) -> None:
    cal = calendar(*closures).with_cutoffs(records)
    assert _suppressed_by(cal, "weekly-loan-mail", SAT) == mail


def test_the_cutoff_itself_and_the_other_triggers_follow_the_closures() -> None:
    cal = calendar(CLOSED_THU).with_cutoffs((FIRED,))
    assert _suppressed_by(cal, "weekly-cutoff", THU) == "臨時休館"
    assert _suppressed_by(cal, "daily-overdue", THU) == "臨時休館"
    assert _suppressed_by(calendar().with_cutoffs((SUSPENDED,)), "weekly-cutoff", THU) is None


def test_decide_fires_the_mail_of_a_processed_batch_and_suspends_the_other() -> None:
    spec = calendar().trigger("weekly-loan-mail")
    after, now = jst(2026, 12, 11, 12), jst(2026, 12, 12, 9)
    fired = calendar(CLOSED_THU).with_cutoffs((FIRED,))
    suspended = calendar().with_cutoffs((SUSPENDED,))
    kinds = [
        [type(a).__name__ for a in decide(due(spec, after, now, cal), now, spec, paused=False)]
        for cal in (fired, suspended)
    ]
    assert kinds == [["Fire"], ["Suspend"]]


def test_a_fire_of_the_cutoff_wins_over_a_report_of_the_week_suspended() -> None:
    # Closed on Thursday (reported suspended), reopened and fired by hand: processed.
    cal = calendar()
    cutoff = occurrence_at(cal.trigger("weekly-cutoff"), THU, cal)
    fired = fired_event(cutoff, jst(2026, 12, 11, 9))
    suspended = suspended_event(cutoff, jst(2026, 12, 10, 8, 30), "臨時休館")
    assert cutoff_record(THU, fired, suspended) == FIRED
    assert cutoff_record(THU, None, suspended) == CutoffRecord(THU, "臨時休館")
    assert cutoff_record(THU, None, None) is None


def test_only_the_batches_of_the_saturday_mail_need_a_record() -> None:
    cal = calendar()
    week = occurrences(jst(2026, 12, 3, 12), jst(2026, 12, 13), cal)
    # The mail of Saturday 12-05 (batch of 12-03) and of 12-12 (batch of 12-10); the cutoff
    # of 12-10 is decided by the closures and needs none.
    assert followed_batches(week, cal) == (date(2026, 12, 3), THU)
    assert cal.cutoff is not None and cal.cutoff.name == "weekly-cutoff"
