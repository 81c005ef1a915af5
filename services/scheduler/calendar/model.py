"""The calendar's value types: triggers, closures, occurrences. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from shared.contracts.schedule import TRIGGER_NAMES, BatchWindow, TriggerName

from ..errors import UnknownTrigger

#: How Japanese public holidays count: not at all, as days without daily runs, or as closures.
HolidayPolicy = Literal["ignore", "skip-daily", "closed"]

#: What a closed day does to a trigger:
#: ``batch`` - suppressed when its batch's Thursday is closed (the weekly online-loan cycle);
#: ``skip`` - suppressed when its own day is closed; ``run`` - closures do not matter.
ClosedPolicy = Literal["batch", "skip", "run"]

ClosureSource = Literal["file", "runtime", "holiday"]

HolidayLookup = Callable[[date], str | None]


def no_holidays(day: date) -> str | None:
    """A holiday lookup that knows no holidays (tests, other countries)."""
    return None


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """One trigger: when it fires, how late it may still fire, what closures do to it."""

    name: TriggerName
    at: time
    grace: timedelta
    weekday: int | None = None  # Monday=0 .. Sunday=6; None: every day
    on_closed: ClosedPolicy = "skip"
    #: Days from the batch Thursday to the nominal day (cutoff 0, Saturday mail 2);
    #: None: the trigger has no batch.
    batch_offset: int | None = None

    @property
    def is_daily(self) -> bool:
        return self.weekday is None

    @property
    def is_cutoff(self) -> bool:
        """The batch's own Thursday trigger: the one that says whether it is processed."""
        return self.on_closed == "batch" and self.batch_offset == 0

    @property
    def follows_cutoff(self) -> bool:
        """A later trigger of the batch (the Saturday mail): it follows what the batch's
        cutoff did, where that is recorded (``CutoffRecord``)."""
        return self.on_closed == "batch" and bool(self.batch_offset)


@dataclass(frozen=True, slots=True)
class Closure:
    """Days (inclusive range) without online-lending processing, with the reason."""

    start: date
    end: date
    reason: str
    source: ClosureSource = "file"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"closure ends ({self.end}) before it starts ({self.start})")
        if not self.reason.strip():
            raise ValueError("closure needs a reason")

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class CutoffRecord:
    """What the cutoff of the batch processed on ``thursday`` did, as the SCHEDULE stream
    records it: fired (``suspended_by`` None: the items were processed), or suspended."""

    thursday: date
    suspended_by: str | None = None


@dataclass(frozen=True, slots=True)
class Calendar:
    """Everything the pure functions need: zone, triggers, closures, holiday handling."""

    tz: ZoneInfo
    triggers: tuple[TriggerSpec, ...]
    closures: tuple[Closure, ...] = ()
    holiday_policy: HolidayPolicy = "ignore"
    holiday_name: HolidayLookup = field(default=no_holidays)
    #: What the batches' cutoffs did (read from the stream); a batch without a record
    #: follows the closures.
    cutoffs: tuple[CutoffRecord, ...] = ()

    def trigger(self, name: str) -> TriggerSpec:
        for spec in self.triggers:
            if spec.name == name:
                return spec
        raise UnknownTrigger(name, tuple(t.name for t in self.triggers) or TRIGGER_NAMES)

    def with_closures(self, extra: tuple[Closure, ...]) -> Calendar:
        return replace(self, closures=self.closures + extra)

    def with_cutoffs(self, records: tuple[CutoffRecord, ...]) -> Calendar:
        """This calendar with these cutoff records (replacing any it had)."""
        return replace(self, cutoffs=records)

    def cutoff_record(self, thursday: date) -> CutoffRecord | None:
        return next((r for r in self.cutoffs if r.thursday == thursday), None)

    @property
    def cutoff(self) -> TriggerSpec | None:
        """The batch's cutoff trigger, if the calendar has one."""
        return next((t for t in self.triggers if t.is_cutoff), None)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One nominal firing of a trigger, with its batch and why it is suppressed (if it is)."""

    trigger: TriggerName
    nominal: datetime
    batch: BatchWindow | None = None
    suppressed_by: str | None = None
    holiday: str | None = None

    @property
    def id(self) -> str:
        """``<trigger>:<nominal ISO with offset>``: the Nats-Msg-Id of its TriggerFired."""
        return occurrence_id(self.trigger, self.nominal)

    @property
    def run_date(self) -> date:
        return self.nominal.date()

    @property
    def suppressed(self) -> bool:
        return self.suppressed_by is not None


def occurrence_id(trigger: str, nominal: datetime) -> str:
    return f"{trigger}:{nominal.isoformat()}"
