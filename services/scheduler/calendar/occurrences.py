"""Occurrences of the triggers between two instants, and the next one. Pure.

JST has no daylight saving time, so a nominal time is simply the trigger's wall-clock
time on a day, in the calendar's zone; the functions still work in any zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

from ..errors import NotAnOccurrence
from .batch import batch_for_day
from .closures import suppression
from .model import Calendar, Occurrence, TriggerSpec

WEEK = timedelta(days=7)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def occurrence_on(spec: TriggerSpec, day: date, calendar: Calendar) -> Occurrence | None:
    """The occurrence of ``spec`` on ``day`` (JST date), or None if it does not run that day."""
    if spec.weekday is not None and day.weekday() != spec.weekday:
        return None
    nominal = datetime.combine(day, spec.at, tzinfo=calendar.tz)
    batch = batch_for_day(day, spec.batch_offset) if spec.batch_offset is not None else None
    return Occurrence(
        trigger=spec.name,
        nominal=nominal,
        batch=batch,
        suppressed_by=suppression(spec, day, batch, calendar),
        holiday=calendar.holiday_name(day),
    )


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("times must be timezone-aware")
    return value


def occurrences(
    start: datetime,
    end: datetime,
    calendar: Calendar,
    triggers: Iterable[TriggerSpec] | None = None,
) -> list[Occurrence]:
    """Every occurrence with ``start <= nominal < end``, suppressed ones included, by time."""
    start, end = _aware(start), _aware(end)
    specs = tuple(triggers) if triggers is not None else calendar.triggers
    first = start.astimezone(calendar.tz).date()
    last = end.astimezone(calendar.tz).date()
    found: list[Occurrence] = []
    for day in _days(first, last):
        for spec in specs:
            occ = occurrence_on(spec, day, calendar)
            if occ is not None and start <= occ.nominal < end:
                found.append(occ)
    return sorted(found, key=lambda o: (o.nominal, o.trigger))


def due(spec: TriggerSpec, after: datetime, now: datetime, calendar: Calendar) -> list[Occurrence]:
    """Occurrences of ``spec`` with ``after < nominal <= now`` (what a tick must handle)."""
    tick = timedelta(microseconds=1)
    return occurrences(after + tick, now + tick, calendar, (spec,))


def next_fire(
    now: datetime, calendar: Calendar, triggers: Iterable[TriggerSpec] | None = None
) -> Occurrence | None:
    """The first occurrence strictly after ``now`` (suppressed or not: it needs handling)."""
    upcoming = occurrences(
        now + timedelta(microseconds=1), now + WEEK + timedelta(days=1), calendar, triggers
    )
    return upcoming[0] if upcoming else None


def latest_at_or_before(now: datetime, spec: TriggerSpec, calendar: Calendar) -> Occurrence:
    """The most recent occurrence of ``spec`` whose nominal time is not after ``now``."""
    start = now - WEEK - timedelta(days=1)
    return occurrences(start, now + timedelta(microseconds=1), calendar, (spec,))[-1]


def occurrence_at(spec: TriggerSpec, at: datetime | date, calendar: Calendar) -> Occurrence:
    """The occurrence named by ``at``: its exact nominal time, or a day it runs on."""
    if isinstance(at, datetime):
        occ = occurrence_on(spec, _aware(at).astimezone(calendar.tz).date(), calendar)
        if occ is not None and occ.nominal == at:
            return occ
        hint = f"its nominal time is {spec.at.isoformat('minutes')} JST"
    else:
        occ = occurrence_on(spec, at, calendar)
        if occ is not None:
            return occ
        hint = "it runs on " + _weekday_name(spec.weekday)
    raise NotAnOccurrence(spec.name, at, hint)


def _weekday_name(weekday: int | None) -> str:
    names = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
    return "every day" if weekday is None else names[weekday]
