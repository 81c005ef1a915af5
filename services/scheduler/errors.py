"""Errors of the scheduler. ``SchedulerError`` is the root; each carries structured fields."""

from __future__ import annotations

from datetime import date, datetime


class SchedulerError(Exception):
    """Root of every scheduler error."""


class UnknownTrigger(SchedulerError):
    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown trigger {name!r}; known triggers: {', '.join(known)}")
        self.name = name
        self.known = known


class NotAnOccurrence(SchedulerError):
    """``--at`` does not name a nominal time (or day) of the trigger."""

    def __init__(self, trigger: str, at: datetime | date, hint: str) -> None:
        super().__init__(f"{trigger} has no occurrence at {at.isoformat()}; {hint}")
        self.trigger = trigger
        self.at = at


class CalendarFileError(SchedulerError):
    """The calendar file is missing or an entry is invalid."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail


class LeaseLost(SchedulerError):
    """This replica no longer holds the leader lease (another one took over)."""


class StateConflict(SchedulerError):
    """A compare-and-set on ``schedule_state`` failed: another writer got there first."""

    def __init__(self, key: str) -> None:
        super().__init__(f"schedule_state[{key}] was changed by another writer")
        self.key = key
