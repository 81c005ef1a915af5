"""Calendars for the scheduler's unit tests (default settings, no environment)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.scheduler.calendar import Calendar, Closure
from services.scheduler.calendar.holidays_jp import JapaneseHolidays
from services.scheduler.calendar.model import HolidayLookup, no_holidays
from services.scheduler.settings import SchedulerSettings
from services.scheduler.triggers import build_calendar
from shared.clock import JST

NEW_YEAR_2026 = Closure(date(2026, 12, 29), date(2027, 1, 3), "年末年始")
STOCK_TAKING_2027 = Closure(date(2027, 6, 7), date(2027, 6, 11), "蔵書点検")


def settings(**overrides: Any) -> SchedulerSettings:
    return SchedulerSettings.model_validate(overrides)


def calendar(
    *closures: Closure, holidays: HolidayLookup | None = None, **overrides: Any
) -> Calendar:
    return build_calendar(settings(**overrides), closures, holidays or no_holidays)


def jp_calendar(*closures: Closure, policy: str) -> Calendar:
    return calendar(*closures, holidays=JapaneseHolidays(), scheduler_holidays=policy)


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=JST)
