"""Events the scheduler emits. Trigger names are a public interface (plan/fire/pause)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import Event

TriggerName = Literal[
    "weekly-cutoff",
    "weekly-loan-mail",
    "daily-hold-ready",
    "daily-overdue",
    "weekly-bounce-digest",
]
TRIGGER_NAMES: tuple[TriggerName, ...] = (
    "weekly-cutoff",
    "weekly-loan-mail",
    "daily-hold-ready",
    "daily-overdue",
    "weekly-bounce-digest",
)


class BatchWindow(BaseModel):
    """The weekly online-loan batch, computed once by the scheduler (Q18, Q20, Q21)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    thursday: date = Field(description="Cutoff and processing day (Thursday 08:30).")
    pickup_start: date = Field(description="That Sunday: first pickup day at every library.")
    pickup_deadline: date = Field(description="The following Sunday (day 8 counting day 1).")

    @property
    def batch_id(self) -> str:
        return f"batch-{self.thursday.isoformat()}"


class TriggerFired(Event):
    """One occurrence of a trigger. ``occurrence_id`` = ``<trigger>:<nominal ISO>``."""

    SUBJECT: ClassVar[str] = "schedule.fired"
    trigger: TriggerName
    occurrence_id: str = Field(min_length=3, max_length=120)
    nominal_time: AwareDatetime = Field(description="When the occurrence was due (JST).")
    run_date: date = Field(description="The JST date this run is for.")
    batch: BatchWindow | None = Field(None, description="For weekly-cutoff / weekly-loan-mail.")
    forced: bool = Field(False, description="A deliberate re-run by an operator (--force).")
    coalesced: int = Field(0, ge=0, description="Missed occurrences folded into this one.")

    def subject(self) -> str:
        return f"{self.SUBJECT}.{self.trigger}"


class TriggerMissed(Event):
    """An occurrence found too late (outside its grace window): not fired, reported."""

    SUBJECT: ClassVar[str] = "schedule.missed"
    trigger: TriggerName
    occurrence_id: str = Field(min_length=3, max_length=120)
    nominal_time: AwareDatetime
    batch: BatchWindow | None = None
    reason: str = Field(max_length=500)

    def subject(self) -> str:
        return f"{self.SUBJECT}.{self.trigger}"


class ServiceSuspended(Event):
    """A week whose Thursday processing is suspended (stock-taking, New Year, ad hoc)."""

    SUBJECT: ClassVar[str] = "schedule.suspended"
    trigger: TriggerName
    occurrence_id: str = Field(min_length=3, max_length=120)
    nominal_time: AwareDatetime
    batch: BatchWindow | None = None
    reason: str = Field(max_length=500, description="The closure's reason, e.g. 蔵書点検.")
