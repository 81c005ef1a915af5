"""What a batch's cutoff did, as the SCHEDULE stream records it. Pure.

The Saturday mail of a batch follows its Thursday cutoff (``closures.batch_suppression``):
the adapters read the stream for the batches that matter (``followed_batches``) and turn
what they find into ``CutoffRecord``s (``cutoff_record``) on the calendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from shared.contracts.schedule import ServiceSuspended, TriggerFired

from .model import Calendar, CutoffRecord, Occurrence


def cutoff_record(
    thursday: date, fired: TriggerFired | None, suspended: ServiceSuspended | None
) -> CutoffRecord | None:
    """The record of the cutoff of the batch processed on ``thursday``, given the fire of
    the cutoff for that day (forced or not) and the ServiceSuspended of that batch found in
    the stream. A fire wins: the items were processed (also when staff fired the cutoff by
    hand after the week had been reported suspended). Neither: no record."""
    if fired is not None:
        return CutoffRecord(thursday)
    if suspended is not None:
        return CutoffRecord(thursday, suspended_by=suspended.reason)
    return None


def followed_batches(occs: Iterable[Occurrence], calendar: Calendar) -> tuple[date, ...]:
    """The Thursdays of the batches whose cutoff record decides some of ``occs``."""
    days = {
        occ.batch.thursday
        for occ in occs
        if occ.batch is not None and calendar.trigger(occ.trigger).follows_cutoff
    }
    return tuple(sorted(days))
