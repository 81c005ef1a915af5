"""The library's week as table tests: occurrences, batch dates, ids, year ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.scheduler.calendar import (
    batch_for_thursday,
    due,
    latest_at_or_before,
    next_fire,
    occurrence_at,
    occurrences,
)
from services.scheduler.errors import NotAnOccurrence, UnknownTrigger

from .support import calendar, jst

WEEKLY = {"weekly-cutoff", "weekly-loan-mail", "weekly-bounce-digest"}


def _week(start: datetime) -> list[tuple[str, str]]:
    occs = occurrences(start, start + timedelta(days=7), calendar())
    return [(o.trigger, o.nominal.isoformat()) for o in occs if o.trigger in WEEKLY]


def test_a_week_has_each_weekly_trigger_once_at_its_default_time() -> None:
    assert _week(jst(2026, 11, 30)) == [
        ("weekly-bounce-digest", "2026-11-30T08:45:00+09:00"),
        ("weekly-cutoff", "2026-12-03T08:30:00+09:00"),
        ("weekly-loan-mail", "2026-12-05T09:00:00+09:00"),
    ]


def test_daily_triggers_run_every_day_in_time_order() -> None:
    occs = occurrences(jst(2026, 12, 1), jst(2026, 12, 2), calendar())
    assert [(o.trigger, o.nominal.time()) for o in occs] == [
        ("daily-hold-ready", time(8, 0)),
        ("daily-overdue", time(10, 0)),
    ]


@pytest.mark.parametrize(
    ("thursday", "pickup_start", "deadline"),
    [
        pytest.param(date(2026, 12, 3), date(2026, 12, 6), date(2026, 12, 13), id="ordinary"),
        pytest.param(date(2026, 12, 24), date(2026, 12, 27), date(2027, 1, 3), id="deadline-2027"),
        pytest.param(date(2026, 12, 31), date(2027, 1, 3), date(2027, 1, 10), id="start-2027"),
        pytest.param(date(2028, 2, 24), date(2028, 2, 27), date(2028, 3, 5), id="leap-2028"),
        pytest.param(date(2027, 2, 25), date(2027, 2, 28), date(2027, 3, 7), id="no-leap-2027"),
    ],
)
def test_batch_pickup_starts_sunday_and_ends_on_day_8(
    thursday: date, pickup_start: date, deadline: date
) -> None:
    batch = batch_for_thursday(thursday)
    assert (batch.pickup_start, batch.pickup_deadline) == (pickup_start, deadline)
    assert batch.pickup_start.weekday() == batch.pickup_deadline.weekday() == 6
    assert (batch.pickup_deadline - batch.pickup_start).days + 1 == 8


def test_batch_refuses_a_day_that_is_not_thursday() -> None:
    with pytest.raises(ValueError, match="not a Thursday"):
        batch_for_thursday(date(2026, 12, 5))


def test_saturday_mail_carries_the_batch_of_its_thursday() -> None:
    occs = occurrences(jst(2026, 12, 21), jst(2026, 12, 28), calendar())
    cutoff = next(o for o in occs if o.trigger == "weekly-cutoff")
    mail = next(o for o in occs if o.trigger == "weekly-loan-mail")
    assert cutoff.batch == mail.batch == batch_for_thursday(date(2026, 12, 24))
    assert mail.batch is not None and mail.batch.pickup_deadline == date(2027, 1, 3)


def test_only_cutoff_and_loan_mail_carry_a_batch() -> None:
    occs = occurrences(jst(2026, 12, 1), jst(2026, 12, 8), calendar())
    assert {o.trigger for o in occs if o.batch is not None} == {
        "weekly-cutoff",
        "weekly-loan-mail",
    }


def test_occurrence_id_is_trigger_and_nominal_time_with_jst_offset() -> None:
    occ = occurrence_at(calendar().trigger("weekly-loan-mail"), date(2026, 12, 5), calendar())
    assert occ.id == "weekly-loan-mail:2026-12-05T09:00:00+09:00"


def test_times_given_in_utc_are_read_in_jst() -> None:
    # 2026-12-30 23:30 UTC is already Thursday 2026-12-31 08:30 JST.
    start = datetime(2026, 12, 30, 23, 15, tzinfo=UTC)
    occs = occurrences(start, start + timedelta(minutes=30), calendar())
    assert [o.id for o in occs] == ["weekly-cutoff:2026-12-31T08:30:00+09:00"]


def test_jst_has_no_dst_so_every_day_has_the_same_utc_time() -> None:
    occs = occurrences(jst(2027, 1, 1), jst(2028, 1, 1), calendar(), [calendar().triggers[2]])
    assert len(occs) == 365
    assert {o.nominal.astimezone(UTC).time() for o in occs} == {time(23, 0)}


def test_leap_day_2028_has_its_daily_runs() -> None:
    occs = occurrences(jst(2028, 2, 29), jst(2028, 3, 1), calendar())
    assert [o.id for o in occs] == [
        "daily-hold-ready:2028-02-29T08:00:00+09:00",
        "daily-overdue:2028-02-29T10:00:00+09:00",
    ]


def test_times_are_configurable() -> None:
    cal = calendar(scheduler_cutoff_time="09:15", scheduler_loan_mail_time="07:00")
    assert occurrence_at(cal.trigger("weekly-cutoff"), date(2026, 12, 3), cal).id == (
        "weekly-cutoff:2026-12-03T09:15:00+09:00"
    )
    assert occurrence_at(cal.trigger("weekly-loan-mail"), date(2026, 12, 5), cal).nominal.hour == 7


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(
            jst(2026, 12, 3, 8, 29), "weekly-cutoff:2026-12-03T08:30:00+09:00", id="before"
        ),
        pytest.param(jst(2026, 12, 3, 8, 30), "daily-overdue:2026-12-03T10:00:00+09:00", id="at"),
        pytest.param(jst(2026, 12, 31, 23), "daily-hold-ready:2027-01-01T08:00:00+09:00", id="ny"),
    ],
)
def test_next_fire_is_strictly_after_now(now: datetime, expected: str) -> None:
    upcoming = next_fire(now, calendar())
    assert upcoming is not None and upcoming.id == expected


def test_due_takes_occurrences_after_the_handled_mark_up_to_now() -> None:
    cal = calendar()
    spec = cal.trigger("weekly-loan-mail")
    mark = jst(2026, 12, 5, 9)
    assert due(spec, mark, jst(2026, 12, 12, 9), cal)[0].id.endswith("2026-12-12T09:00:00+09:00")
    assert due(spec, mark, jst(2026, 12, 12, 8, 59), cal) == []


def test_latest_at_or_before_finds_last_weeks_cutoff() -> None:
    cal = calendar()
    occ = latest_at_or_before(jst(2027, 1, 6), cal.trigger("weekly-cutoff"), cal)
    assert occ.id == "weekly-cutoff:2026-12-31T08:30:00+09:00"


def test_occurrence_at_rejects_a_time_that_is_not_nominal() -> None:
    cal = calendar()
    with pytest.raises(NotAnOccurrence, match="08:30"):
        occurrence_at(cal.trigger("weekly-cutoff"), jst(2026, 12, 3, 9), cal)
    with pytest.raises(NotAnOccurrence, match="Thursdays"):
        occurrence_at(cal.trigger("weekly-cutoff"), date(2026, 12, 4), cal)


def test_unknown_trigger_names_the_known_ones() -> None:
    with pytest.raises(UnknownTrigger, match="weekly-loan-mail"):
        calendar().trigger("weekly-mail")
