"""The five triggers, built from settings (names are a public interface)."""

from __future__ import annotations

from shared.contracts.schedule import TRIGGER_NAMES

from .calendar.model import Calendar, ClosedPolicy, Closure, HolidayLookup, TriggerSpec
from .settings import SchedulerSettings

MONDAY, THURSDAY, SATURDAY = 0, 3, 5


def trigger_specs(s: SchedulerSettings) -> tuple[TriggerSpec, ...]:
    daily: ClosedPolicy = "skip" if s.scheduler_daily_on_closed == "skip" else "run"
    specs = (
        TriggerSpec(
            "weekly-cutoff",
            s.scheduler_cutoff_time,
            s.scheduler_cutoff_grace,
            weekday=THURSDAY,
            on_closed="batch",
            batch_offset=0,
        ),
        TriggerSpec(
            "weekly-loan-mail",
            s.scheduler_loan_mail_time,
            s.scheduler_loan_mail_grace,
            weekday=SATURDAY,
            on_closed="batch",
            batch_offset=2,
        ),
        TriggerSpec(
            "daily-hold-ready",
            s.scheduler_hold_ready_time,
            s.scheduler_hold_ready_grace,
            on_closed=daily,
        ),
        TriggerSpec(
            "daily-overdue", s.scheduler_overdue_time, s.scheduler_overdue_grace, on_closed=daily
        ),
        # A staff report: it waits in the inbox, so closures do not stop it.
        TriggerSpec(
            "weekly-bounce-digest",
            s.scheduler_bounce_digest_time,
            s.scheduler_bounce_digest_grace,
            weekday=MONDAY,
            on_closed="run",
        ),
    )
    assert tuple(spec.name for spec in specs) == TRIGGER_NAMES
    return specs


def build_calendar(
    s: SchedulerSettings, closures: tuple[Closure, ...], holiday_name: HolidayLookup
) -> Calendar:
    return Calendar(
        tz=s.tz,
        triggers=trigger_specs(s),
        closures=closures,
        holiday_policy=s.scheduler_holidays,
        holiday_name=holiday_name,
    )
