"""Which days are closed, and which occurrences that suppresses. Pure."""

from __future__ import annotations

from datetime import date

from shared.contracts.schedule import BatchWindow

from .model import Calendar, TriggerSpec


def holiday_reason(name: str) -> str:
    return f"祝日（{name}）"


def closed_reason(day: date, calendar: Calendar) -> str | None:
    """The reason ``day`` is closed (first matching closure, then holidays), else None."""
    for closure in calendar.closures:
        if closure.covers(day):
            return closure.reason
    if calendar.holiday_policy == "closed":
        name = calendar.holiday_name(day)
        if name:
            return holiday_reason(name)
    return None


def suppression(
    spec: TriggerSpec, day: date, batch: BatchWindow | None, calendar: Calendar
) -> str | None:
    """Why the occurrence of ``spec`` on ``day`` does not fire, or None when it fires.

    Weekly batch triggers follow their batch's Thursday: a week whose Thursday processing
    is suspended gets neither the cutoff nor the Saturday mail (``batch_suppression``).
    Daily triggers follow their own day (unless their closed-day policy is ``run``). Under
    ``skip-daily`` a public holiday is not a closed day but a day without daily runs, so
    daily triggers skip it whatever their closed-day policy says.
    """
    if spec.on_closed == "batch" and batch is not None:
        return batch_suppression(spec, batch, calendar)
    reason = closed_reason(day, calendar) if spec.on_closed != "run" else None
    if reason is None and spec.is_daily and calendar.holiday_policy == "skip-daily":
        name = calendar.holiday_name(day)
        reason = holiday_reason(name) if name else None
    return reason


def batch_suppression(spec: TriggerSpec, batch: BatchWindow, calendar: Calendar) -> str | None:
    """Why the occurrence of the weekly batch trigger ``spec`` for ``batch`` does not fire.

    The cutoff follows the closures of its Thursday. A later trigger of the batch (the
    Saturday mail) follows what the cutoff did, when the calendar holds its record: it
    fires when the cutoff fired (the items were processed, even if that Thursday was
    closed afterwards) and not when the cutoff was suspended (even if that Thursday was
    reopened afterwards). Without a record (the scheduler was down on Thursday, a first
    start, records expired) it follows the closures of the Thursday as they are now.
    """
    if spec.follows_cutoff:
        record = calendar.cutoff_record(batch.thursday)
        if record is not None:
            return record.suspended_by
    return closed_reason(batch.thursday, calendar)
