"""The library's calendar as pure functions: ``now`` and the calendar in, occurrences out."""

from .batch import batch_for_day, batch_for_thursday
from .catchup import Action, Fire, Miss, Skip, Suspend, decide
from .closures import batch_suppression, closed_reason, suppression
from .cutoffs import cutoff_record, followed_batches
from .events import fired_event, missed_event, suspended_event
from .model import (
    Calendar,
    Closure,
    CutoffRecord,
    HolidayPolicy,
    Occurrence,
    TriggerSpec,
    no_holidays,
    occurrence_id,
)
from .occurrences import due, latest_at_or_before, next_fire, occurrence_at, occurrences

__all__ = [
    "Action",
    "Calendar",
    "Closure",
    "CutoffRecord",
    "Fire",
    "HolidayPolicy",
    "Miss",
    "Occurrence",
    "Skip",
    "Suspend",
    "TriggerSpec",
    "batch_for_day",
    "batch_for_thursday",
    "batch_suppression",
    "closed_reason",
    "cutoff_record",
    "decide",
    "due",
    "fired_event",
    "followed_batches",
    "latest_at_or_before",
    "missed_event",
    "next_fire",
    "no_holidays",
    "occurrence_at",
    "occurrence_id",
    "occurrences",
    "suppression",
    "suspended_event",
]
