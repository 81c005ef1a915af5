"""Values kept in the scheduler's KV buckets (JSON, validated when read)."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from .calendar.model import Closure

Outcome = Literal["init", "fired", "missed", "suspended", "skipped"]

#: Longest closure reason (calendar file and ``schedule close --reason``) and pause note
#: (``schedule pause --note``).
MAX_REASON = 200
#: The days the commands accept. The calendar looks weeks past the last day asked for (a
#: weekly run's window, a hold's pickup deadline): a day near ``date.max`` would overflow.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)


def not_blank(text: str) -> str:
    """``text`` without surrounding white space; a blank text is an error."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


def one_line(text: str) -> str:
    """``text`` if it has no control characters (newline, tab, escape, ...) nor line or
    paragraph separators: staff text is shown in one cell of a table."""
    for pos, char in enumerate(text, start=1):
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            raise ValueError(
                f"must not contain control characters (U+{ord(char):04X} at character {pos})"
            )
    return text


def staff_text(text: str) -> str:
    """A reason or note typed by staff, surrounding space dropped: not blank, at most
    ``MAX_REASON`` characters, one line (``ValueError`` saying which rule it breaks)."""
    stripped = not_blank(text)
    if len(stripped) > MAX_REASON:
        raise ValueError(f"at most {MAX_REASON} characters (this one has {len(stripped)})")
    return one_line(stripped)


def cell(text: str) -> str:
    """Staff text for one cell of a table: a record an older version stored may hold line
    breaks (read back as written), shown here on one line."""
    return " ".join(text.split())


def within_days(when: datetime) -> datetime:
    """A stored time between ``FIRST_DAY`` and ``LAST_DAY``: a value near the ends of
    ``datetime`` (written by hand, or by another tool) would overflow the calendar's
    arithmetic; it is unreadable instead."""
    if not FIRST_DAY <= when.date() <= LAST_DAY:
        raise ValueError(f"outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}")
    return when


#: A time kept in a record.
StoredTime = Annotated[AwareDatetime, AfterValidator(within_days)]

#: A closure's reason typed by staff (the calendar file; the commands check theirs with
#: ``staff_text``): shown to staff and sent in events.
StaffReason = Annotated[str, AfterValidator(staff_text)]
#: A stored closure's reason, read back as the rules stood when it was written: a record an
#: older version wrote (a line break in its reason) stays readable, or every trigger would
#: stop firing while it is unreadable.
Reason = Annotated[str, Field(max_length=MAX_REASON), AfterValidator(not_blank)]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TriggerState(_Record):
    """``schedule_state["trigger.<name>"]``: how far the trigger's occurrences are handled."""

    handled_through: StoredTime = Field(
        description="Every occurrence with a nominal time up to this one has been handled."
    )
    last_occurrence: str | None = Field(None, description="Occurrence id handled last.")
    last_outcome: Outcome = "init"
    by: str = Field(description="Replica that wrote this state.")
    lease_revision: int = Field(0, ge=0, description="Lease revision (fencing token) it held.")
    updated_at: StoredTime


class PauseRecord(_Record):
    """``schedule_state["pause.<name>"]``: present while the trigger is paused."""

    paused_at: StoredTime
    by: str
    note: str = ""  # checked when typed (``staff_text``); read back as written


class ForcedRecord(_Record):
    """``schedule_state["forced.<name>"]``: the last deliberate re-run (``fire --force``)."""

    occurrence_id: str
    event_id: str
    at: StoredTime
    by: str


class LeaseRecord(_Record):
    """``schedule_lease["leader"]``: who leads (the entry expires 10 s after its last write)."""

    holder: str
    acquired_at: StoredTime


class RuntimeClosure(_Record):
    """``schedule_closures["closure.<from>.<to>"]``: a closure added with ``schedule close``."""

    start: date
    end: date
    reason: Reason
    added_at: StoredTime
    by: str

    @model_validator(mode="after")
    def _ordered(self) -> RuntimeClosure:
        # Checked here, not only by ``Closure``: a value written by hand must be unreadable
        # when it is read, not fail later when the engine applies it.
        if self.end < self.start:
            raise ValueError(f"the closure ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def key(self) -> str:
        return closure_key(self.start, self.end)

    def closure(self) -> Closure:
        return Closure(self.start, self.end, self.reason, "runtime")


def closure_key(start: date, end: date) -> str:
    return f"closure.{start.isoformat()}.{end.isoformat()}"
