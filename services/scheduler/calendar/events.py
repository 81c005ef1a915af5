"""Events built from occurrences. Pure: the time of publishing is a parameter.

Event ids (the Nats-Msg-Id) per kind, so that kinds never de-duplicate each other:
``<occurrence id>`` for a TriggerFired, ``<occurrence id>:forced:<UTC stamp>`` for a
deliberate re-run, ``missed:<occurrence id>`` for a TriggerMissed and
``suspended:batch-<Thursday>`` for a ServiceSuspended: one per suspended week, whichever of
the week's triggers reports it first.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.contracts.schedule import ServiceSuspended, TriggerFired, TriggerMissed

from .model import Occurrence


def fired_event(
    occ: Occurrence, now: datetime, *, coalesced: int = 0, forced: bool = False
) -> TriggerFired:
    event_id = occ.id
    if forced:
        event_id = f"{occ.id}:forced:{now.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"
    return TriggerFired(
        event_id=event_id,
        occurred_at=now,
        trigger=occ.trigger,
        occurrence_id=occ.id,
        nominal_time=occ.nominal,
        run_date=occ.run_date,
        batch=occ.batch,
        forced=forced,
        coalesced=coalesced,
    )


def missed_event(occ: Occurrence, now: datetime, reason: str) -> TriggerMissed:
    return TriggerMissed(
        event_id=f"missed:{occ.id}",
        occurred_at=now,
        trigger=occ.trigger,
        occurrence_id=occ.id,
        nominal_time=occ.nominal,
        batch=occ.batch,
        reason=reason,
    )


def suspended_event(occ: Occurrence, now: datetime, reason: str) -> ServiceSuspended:
    key = occ.batch.batch_id if occ.batch is not None else occ.id
    return ServiceSuspended(
        event_id=f"suspended:{key}",
        occurred_at=now,
        trigger=occ.trigger,
        occurrence_id=occ.id,
        nominal_time=occ.nominal,
        batch=occ.batch,
        reason=reason[:500],
    )
