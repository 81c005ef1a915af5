"""The trigger settings as the environment gives them: grace windows in plain seconds or
ISO 8601, at least a minute; times of day in the library's zone, without a UTC offset."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from pydantic import ValidationError

from services.scheduler.calendar import Fire, decide, due
from services.scheduler.calendar.model import no_holidays
from services.scheduler.settings import SchedulerSettings
from services.scheduler.triggers import build_calendar

from .support import jst

GRACES = ("cutoff", "loan_mail", "hold_ready", "overdue", "bounce_digest")
TIMES = GRACES


def from_env(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> SchedulerSettings:
    monkeypatch.setenv(f"OTAYORI_SCHEDULER_{name.upper()}", value)
    return SchedulerSettings()


@pytest.mark.parametrize("trigger", GRACES)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3600", timedelta(hours=1)),
        ("90.5", timedelta(seconds=90.5)),
        ("PT6H", timedelta(hours=6)),
        ("604800", timedelta(days=7)),
    ],
)
def test_a_grace_window_is_seconds_or_iso_8601(
    monkeypatch: pytest.MonkeyPatch, trigger: str, text: str, expected: timedelta
) -> None:
    settings = from_env(monkeypatch, f"{trigger}_grace", text)
    assert getattr(settings, f"scheduler_{trigger}_grace") == expected


@pytest.mark.parametrize("trigger", GRACES)
@pytest.mark.parametrize("text", ["-PT1H", "PT0S", "0", "-3600", "P0D", "5", "PT59S", "0.0001"])
def test_a_grace_window_of_zero_or_less_is_refused(
    monkeypatch: pytest.MonkeyPatch, trigger: str, text: str
) -> None:
    # With no window every occurrence would be reported missed, none ever fired.
    with pytest.raises(ValidationError, match="must be at least 60 seconds"):
        from_env(monkeypatch, f"{trigger}_grace", text)


@pytest.mark.parametrize("text", ["P8D", "604801"])
def test_a_grace_window_past_the_duplicate_window_is_refused(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    with pytest.raises(ValidationError, match="at most 7 days"):
        from_env(monkeypatch, "overdue_grace", text)


def test_a_grace_in_seconds_fires_an_occurrence_inside_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = from_env(monkeypatch, "loan_mail_grace", "3600")
    cal = build_calendar(settings, (), no_holidays)
    spec = cal.trigger("weekly-loan-mail")
    now = jst(2026, 12, 5, 9, 30)
    (action,) = decide(due(spec, jst(2026, 12, 5, 8), now, cal), now, spec, paused=False)
    assert isinstance(action, Fire)


@pytest.mark.parametrize("trigger", TIMES)
@pytest.mark.parametrize("text", ["09:00+00:00", "09:00Z", "09:00:00+09:00"])
def test_a_time_with_a_utc_offset_is_refused(
    monkeypatch: pytest.MonkeyPatch, trigger: str, text: str
) -> None:
    # The calendar reads a time as wall-clock time of OTAYORI_TIMEZONE: 09:00+00:00 would
    # have fired at 09:00 JST.
    with pytest.raises(ValidationError, match="local time of OTAYORI_TIMEZONE without"):
        from_env(monkeypatch, f"{trigger}_time", text)


@pytest.mark.parametrize("trigger", TIMES)
def test_a_local_time_is_taken(monkeypatch: pytest.MonkeyPatch, trigger: str) -> None:
    settings = from_env(monkeypatch, f"{trigger}_time", "07:15")
    assert getattr(settings, f"scheduler_{trigger}_time") == time(7, 15)
