"""Settings of the scheduler (env prefix ``OTAYORI_``; see ``docs/scheduler.md``)."""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from shared.settings import CommonSettings

#: Grace windows stay inside the SCHEDULE stream's 8-day duplicate window.
MAX_GRACE = timedelta(days=7)
#: Several lease lifetimes (10 s) and renewals: a takeover fits inside the grace window.
MIN_GRACE = timedelta(seconds=60)

#: A number of seconds, as the environment gives it (``3600``, ``90.5``).
_SECONDS = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?")


def _seconds(value: object) -> object:
    """Plain seconds (``3600``) as a number, which pydantic reads as seconds; anything else
    (ISO 8601 ``PT6H``, ``HH:MM:SS``) is left to pydantic."""
    if isinstance(value, str) and _SECONDS.fullmatch(value.strip()):
        return float(value)
    return value


def _grace_window(value: timedelta) -> timedelta:
    """At least ``MIN_GRACE`` (a leader's replacement must still fire what was due while
    the lease expired) and at most ``MAX_GRACE``."""
    if value < MIN_GRACE:
        raise ValueError(
            "must be at least 60 seconds (seconds or ISO 8601, e.g. 3600 or PT1H): a leader "
            "that stops just before a trigger is replaced once its lease expires, and the "
            "new one must still fire it; with less, the occurrence would be reported missed"
        )
    if value > MAX_GRACE:
        raise ValueError(
            "must be at most 7 days (604800 or P7D): grace windows stay inside the "
            "SCHEDULE stream's 8-day duplicate window"
        )
    return value


def _local_time(value: time) -> time:
    """A wall-clock time of ``OTAYORI_TIMEZONE``: an offset (``09:00+00:00``) would be
    ignored by the calendar, so it is refused rather than read as 09:00 local time."""
    if value.tzinfo is not None:
        raise ValueError(
            "give the local time of OTAYORI_TIMEZONE without a UTC offset (e.g. 09:00)"
        )
    return value


#: How late an occurrence may still fire: seconds or ISO 8601, ``MIN_GRACE``..``MAX_GRACE``.
Grace = Annotated[timedelta, BeforeValidator(_seconds), AfterValidator(_grace_window)]
#: A trigger's time of day in the library's zone (HH:MM, no offset).
LocalTime = Annotated[time, AfterValidator(_local_time)]


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
    scheduler_cutoff_time: LocalTime = Field(
        time(8, 30), description="weekly-cutoff: Thursday time (JST) the weekly batch closes."
    )
    scheduler_loan_mail_time: LocalTime = Field(
        time(9, 0), description="weekly-loan-mail: Saturday time (JST) of the online loan mail."
    )
    scheduler_hold_ready_time: LocalTime = Field(
        time(8, 0), description="daily-hold-ready: daily time (JST) of the ready-for-pickup run."
    )
    scheduler_overdue_time: LocalTime = Field(
        time(10, 0), description="daily-overdue: daily time (JST) of the overdue-reminder run."
    )
    scheduler_bounce_digest_time: LocalTime = Field(
        time(8, 45), description="weekly-bounce-digest: Monday time (JST) of the staff digest."
    )
    scheduler_cutoff_grace: Grace = Field(
        timedelta(hours=6),
        description="How late weekly-cutoff may still fire after downtime (seconds or PT6H).",
    )
    scheduler_loan_mail_grace: Grace = Field(
        timedelta(hours=6),
        description="How late weekly-loan-mail may still fire; later ones are reported missed.",
    )
    scheduler_hold_ready_grace: Grace = Field(
        timedelta(hours=4), description="How late daily-hold-ready may still fire."
    )
    scheduler_overdue_grace: Grace = Field(
        timedelta(hours=6), description="How late daily-overdue may still fire."
    )
    scheduler_bounce_digest_grace: Grace = Field(
        timedelta(hours=24),
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
