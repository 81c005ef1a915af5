"""Errors of the scheduler. ``SchedulerError`` is the root; each carries structured fields."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import ValidationError


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


class UnreadableRecord(SchedulerError):
    """A stored value that is not a valid record (written by another client, or by an older
    or newer version). ``detail`` says which fields are wrong, never the value (it may hold
    anything); ``revision`` is the entry's, for a compare-and-set over it."""

    def __init__(self, bucket: str, key: str, revision: int, detail: str) -> None:
        super().__init__(f"{bucket}[{key}] (revision {revision}) is unreadable: {detail}")
        self.bucket = bucket
        self.key = key
        self.revision = revision
        self.detail = detail

    @classmethod
    def of(cls, bucket: str, key: str, revision: int, exc: ValidationError) -> UnreadableRecord:
        return cls(bucket, key, revision, problems(exc))


class UnreadableClosures(SchedulerError):
    """Runtime closures that cannot be read: which days are closed is unknown, so nothing
    fires until they are removed (or rewritten)."""

    def __init__(self, records: tuple[UnreadableRecord, ...]) -> None:
        super().__init__("; ".join(str(r) for r in records))
        self.records = records

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.records]


def problems(exc: ValidationError, limit: int = 200) -> str:
    """What is wrong with a value, by field, without the value itself."""
    parts: list[str] = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        if err["type"] == "extra_forbidden":
            text = "fields the record does not have"  # their names come from the value
        else:
            where = ".".join(str(p) for p in err["loc"])
            text = f"{where}: {err['msg']}" if where else err["msg"]
        if text not in parts:
            parts.append(text)
    return "; ".join(parts)[:limit]
