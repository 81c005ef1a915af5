"""Settings of the scheduler (env prefix ``OTAYORI_``; see ``docs/scheduler.md``)."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field

from shared.settings import CommonSettings

#: Grace windows stay inside the SCHEDULE stream's 8-day duplicate window.
MAX_GRACE = timedelta(days=7)


class SchedulerSettings(CommonSettings):
    scheduler_calendar_file: Path = Field(
        Path("config/calendar.yaml"),
        description="Calendar file with the library's closures (dates or ranges, reason).",
    )
    scheduler_holidays: Literal["ignore", "skip-daily", "closed"] = Field(
        "ignore",
        description=(
            "Japanese public holidays: ignore (the library opens on holidays), skip-daily "
            "(no daily runs on holidays), closed (a holiday is a closed day, a Thursday "
            "holiday suspends that week's batch)."
        ),
    )
    scheduler_daily_on_closed: Literal["skip", "run"] = Field(
        "skip", description="Daily runs (hold-ready, overdue) on closed days: skip or run."
    )
    scheduler_cutoff_time: time = Field(
        time(8, 30), description="weekly-cutoff: Thursday time (JST) the weekly batch closes."
    )
    scheduler_loan_mail_time: time = Field(
        time(9, 0), description="weekly-loan-mail: Saturday time (JST) of the online loan mail."
    )
    scheduler_hold_ready_time: time = Field(
        time(8, 0), description="daily-hold-ready: daily time (JST) of the ready-for-pickup run."
    )
    scheduler_overdue_time: time = Field(
        time(10, 0), description="daily-overdue: daily time (JST) of the overdue-reminder run."
    )
    scheduler_bounce_digest_time: time = Field(
        time(8, 45), description="weekly-bounce-digest: Monday time (JST) of the staff digest."
    )
    scheduler_cutoff_grace: timedelta = Field(
        timedelta(hours=6),
        le=MAX_GRACE,
        description="How late weekly-cutoff may still fire after downtime (seconds or PT6H).",
    )
    scheduler_loan_mail_grace: timedelta = Field(
        timedelta(hours=6),
        le=MAX_GRACE,
        description="How late weekly-loan-mail may still fire; later ones are reported missed.",
    )
    scheduler_hold_ready_grace: timedelta = Field(
        timedelta(hours=4), le=MAX_GRACE, description="How late daily-hold-ready may still fire."
    )
    scheduler_overdue_grace: timedelta = Field(
        timedelta(hours=6), le=MAX_GRACE, description="How late daily-overdue may still fire."
    )
    scheduler_bounce_digest_grace: timedelta = Field(
        timedelta(hours=24),
        le=MAX_GRACE,
        description="How late weekly-bounce-digest may still fire.",
    )
    scheduler_lease_renew: float = Field(
        3.0,
        gt=0,
        lt=10,
        description="Seconds between leader-lease renewals (the lease expires after 10 s).",
    )
    scheduler_replica_id: str | None = Field(
        None, description="Name of this replica in the lease (default: host name and pid)."
    )
