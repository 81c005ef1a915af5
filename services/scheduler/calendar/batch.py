"""The weekly online-loan batch (Q18, Q20, Q21), computed here and nowhere else.

Holds placed by Thursday 08:30 are processed that Thursday; the online loan mail goes out
on Saturday; pickup starts on Sunday at every cooperating library; the pickup deadline is
the 8th day counting that Sunday as day 1, i.e. the following Sunday.
"""

from __future__ import annotations

from datetime import date, timedelta

from shared.contracts.schedule import BatchWindow

THURSDAY = 3
PICKUP_START_AFTER_THURSDAY = timedelta(days=3)  # Thursday -> Sunday
PICKUP_DAYS = 8  # Sunday is day 1, the following Sunday day 8


def batch_for_thursday(thursday: date) -> BatchWindow:
    """The batch processed on ``thursday``."""
    if thursday.weekday() != THURSDAY:
        raise ValueError(f"{thursday.isoformat()} is not a Thursday")
    start = thursday + PICKUP_START_AFTER_THURSDAY
    return BatchWindow(
        thursday=thursday,
        pickup_start=start,
        pickup_deadline=start + timedelta(days=PICKUP_DAYS - 1),
    )


def batch_for_day(day: date, offset: int) -> BatchWindow:
    """The batch of a weekly trigger that fires ``offset`` days after its Thursday."""
    return batch_for_thursday(day - timedelta(days=offset))
