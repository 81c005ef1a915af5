"""Closures and holidays: suspended weeks, skipped daily runs, each holiday policy."""

from __future__ import annotations

from datetime import date

import pytest

from services.scheduler.calendar import Calendar, Closure, occurrence_at, occurrences
from services.scheduler.calendar.holidays_jp import JapaneseHolidays
from services.scheduler.calendar_file import load_calendar_file, parse_calendar
from services.scheduler.errors import CalendarFileError

from .support import NEW_YEAR_2026, STOCK_TAKING_2027, calendar, jp_calendar, jst

# Thursday 2027-04-29 is 昭和の日; 2027-02-11 (Thu) is 建国記念の日.
SHOWA_DAY = date(2027, 4, 29)
SHOWA = "祝日（昭和の日）"


def _status(cal: Calendar, trigger: str, day: date) -> str | None:
    return occurrence_at(cal.trigger(trigger), day, cal).suppressed_by


@pytest.mark.parametrize(
    ("trigger", "day", "reason"),
    [
        pytest.param("weekly-cutoff", date(2026, 12, 31), "年末年始", id="ny-cutoff"),
        pytest.param("weekly-loan-mail", date(2027, 1, 2), "年末年始", id="ny-mail"),
        pytest.param("weekly-cutoff", date(2026, 12, 24), None, id="before-ny-cutoff"),
        pytest.param("weekly-loan-mail", date(2026, 12, 26), None, id="before-ny-mail"),
        pytest.param("weekly-cutoff", date(2027, 1, 7), None, id="after-ny-cutoff"),
        pytest.param("daily-hold-ready", date(2026, 12, 29), "年末年始", id="ny-first-day"),
        pytest.param("daily-overdue", date(2027, 1, 3), "年末年始", id="ny-last-day"),
        pytest.param("daily-overdue", date(2027, 1, 4), None, id="ny-over"),
        pytest.param("weekly-cutoff", date(2027, 6, 10), "蔵書点検", id="stock-taking-cutoff"),
        pytest.param("weekly-loan-mail", date(2027, 6, 12), "蔵書点検", id="stock-taking-mail"),
        pytest.param("daily-hold-ready", date(2027, 6, 12), None, id="stock-taking-over"),
        pytest.param("weekly-bounce-digest", date(2027, 6, 7), None, id="digest-runs"),
    ],
)
def test_closures_suspend_the_week_of_a_closed_thursday_and_closed_daily_runs(
    trigger: str, day: date, reason: str | None
) -> None:
    cal = calendar(NEW_YEAR_2026, STOCK_TAKING_2027)
    assert _status(cal, trigger, day) == reason


def test_a_closed_saturday_alone_does_not_stop_the_mail_of_an_open_thursday() -> None:
    cal = calendar(Closure(date(2026, 12, 5), date(2026, 12, 5), "臨時休館"))
    assert _status(cal, "weekly-loan-mail", date(2026, 12, 5)) is None
    assert _status(cal, "daily-overdue", date(2026, 12, 5)) == "臨時休館"


def test_daily_runs_can_run_on_closed_days_by_configuration() -> None:
    cal = calendar(NEW_YEAR_2026, scheduler_daily_on_closed="run")
    assert _status(cal, "daily-overdue", date(2026, 12, 30)) is None
    assert _status(cal, "weekly-cutoff", date(2026, 12, 31)) == "年末年始"


@pytest.mark.parametrize(
    ("policy", "cutoff", "mail", "hold_ready"),
    [
        pytest.param("ignore", None, None, None, id="ignore"),
        pytest.param("skip-daily", None, None, SHOWA, id="skip-daily"),
        pytest.param(
            "closed", "祝日（昭和の日）", "祝日（昭和の日）", "祝日（昭和の日）", id="closed"
        ),
    ],
)
def test_a_thursday_holiday_under_each_policy(
    policy: str, cutoff: str | None, mail: str | None, hold_ready: str | None
) -> None:
    cal = jp_calendar(policy=policy)
    assert _status(cal, "weekly-cutoff", SHOWA_DAY) == cutoff
    assert _status(cal, "weekly-loan-mail", date(2027, 5, 1)) == mail
    assert _status(cal, "daily-hold-ready", SHOWA_DAY) == hold_ready


def test_holidays_are_named_in_every_occurrence_for_the_plan() -> None:
    occs = occurrences(jst(2027, 4, 29), jst(2027, 4, 30), jp_calendar(policy="ignore"))
    assert {o.holiday for o in occs} == {"昭和の日"}


def test_substitute_holidays_come_from_the_maintained_package() -> None:
    assert JapaneseHolidays()(date(2027, 3, 22)) == "振替休日"  # 春分の日 fell on a Sunday
    assert JapaneseHolidays()(date(2027, 3, 23)) is None


def test_a_closure_has_precedence_over_a_holiday_name() -> None:
    cal = jp_calendar(NEW_YEAR_2026, policy="closed")
    assert _status(cal, "daily-overdue", date(2027, 1, 1)) == "年末年始"


def test_the_repository_calendar_file_closes_new_year_2026_2027() -> None:
    closures = load_calendar_file(__import__("pathlib").Path("config/calendar.yaml"))
    cal = calendar(*closures)
    assert _status(cal, "weekly-cutoff", date(2026, 12, 31)) == "年末年始"
    assert _status(cal, "weekly-cutoff", date(2027, 12, 30)) == "年末年始"
    assert any(c.reason == "蔵書点検" for c in closures)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("closures: [{date: 2026-12-01}]", "reason", id="no-reason"),
        pytest.param(
            "closures: [{from: 2026-12-05, to: 2026-12-01, reason: x}]", "before", id="reversed"
        ),
        pytest.param("closures: [{from: 2026-12-05, reason: x}]", "both", id="half-range"),
        pytest.param("closures: [{date: 2026-13-01, reason: x}]", "date", id="bad-date"),
        pytest.param("closures: [{date: 2026-12-01, reason: x, kind: y}]", "kind", id="bad-kind"),
        pytest.param("closures: [", "YAML", id="not-yaml"),
    ],
)
def test_a_bad_calendar_file_entry_gets_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(CalendarFileError, match=message):
        parse_calendar(text, "calendar.yaml")


def test_a_missing_calendar_file_is_an_error() -> None:
    with pytest.raises(CalendarFileError, match="cannot read"):
        load_calendar_file(__import__("pathlib").Path("/nonexistent/calendar.yaml"))


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param("{date: 2026-12-29, to: 2027-01-03, reason: 年末年始}", id="date-and-to"),
        pytest.param("{date: 2027-01-03, from: 2026-12-29, reason: 年末年始}", id="date-and-from"),
        pytest.param(
            "{date: 2026-12-29, from: 2026-12-29, to: 2027-01-03, reason: 年末年始}",
            id="date-and-range",
        ),
        pytest.param("{to: 2027-01-03, reason: 年末年始}", id="to-only"),
        pytest.param("{reason: 年末年始}", id="no-day"),
    ],
)
def test_an_entry_mixing_date_with_a_range_is_refused_not_read_as_one_day(entry: str) -> None:
    text = f"closures: [{{date: 2026-06-08, reason: 蔵書点検}}, {entry}]"
    with pytest.raises(CalendarFileError, match=r"closures\.1: .*either 'date' or both"):
        parse_calendar(text, "calendar.yaml")


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        pytest.param('" "', "must not be blank", id="blank"),
        pytest.param('""', "must not be blank", id="empty"),
        pytest.param("x" * 201, "at most 200", id="too-long"),
    ],
)
def test_a_blank_or_overlong_reason_is_an_error_naming_the_entry(reason: str, message: str) -> None:
    text = f"closures:\n  - date: 2026-09-17\n    reason: {reason}\n"
    with pytest.raises(CalendarFileError, match=rf"closures\.0\.reason: .*{message}"):
        parse_calendar(text, "config/calendar.yaml")


def test_a_reason_is_read_without_surrounding_space() -> None:
    (closure,) = parse_calendar("closures: [{date: 2026-09-17, reason: ' 臨時休館 '}]")
    assert (closure.start, closure.end, closure.reason) == (
        date(2026, 9, 17),
        date(2026, 9, 17),
        "臨時休館",
    )


@pytest.mark.parametrize("on_closed", ["skip", "run"])
def test_skip_daily_keeps_daily_runs_off_holidays_whatever_the_closed_day_setting(
    on_closed: str,
) -> None:
    cal = calendar(
        NEW_YEAR_2026,
        holidays=JapaneseHolidays(),
        scheduler_holidays="skip-daily",
        scheduler_daily_on_closed=on_closed,
    )
    assert _status(cal, "daily-hold-ready", SHOWA_DAY) == SHOWA
    assert _status(cal, "daily-overdue", SHOWA_DAY) == SHOWA
    assert _status(cal, "weekly-cutoff", SHOWA_DAY) is None
    # a closed day that is no holiday follows DAILY_ON_CLOSED
    closed = _status(cal, "daily-overdue", date(2026, 12, 30))
    assert closed == ("年末年始" if on_closed == "skip" else None)
