"""The scheduler's side of JetStream: publish its events, look up what was fired.

A trigger fires at most once per JST run date (unless forced). The stream's duplicate
window (8 days, same ``Nats-Msg-Id``) only covers a re-publish soon after the first one, so
both the engine and ``otayori schedule fire`` ask the stream first: ``fired_on`` reads the
trigger's ``schedule.fired.<trigger>`` messages (the SCHEDULE stream keeps 120 days; a few
hundred small messages per trigger at most) and returns the latest one for that run date.

Any client can publish on that subject, and an older or newer version may have: a message
that is not a valid ``TriggerFired`` of the subject's trigger is not a fire record. It is
skipped with a warning (``scheduler.fired_unreadable``: stream sequence and subject, never
the payload), and the answer comes from the valid ones. A record whose occurrence id or
run date disagrees with its nominal time is not one either.

The Saturday mail of a batch follows what the batch's cutoff did (``cutoff_records``): a
fire of the cutoff for its Thursday, or the batch's ``ServiceSuspended`` on
``schedule.suspended`` (read the same way: one that is not a valid ServiceSuspended of a
consistent batch is skipped with the warning ``scheduler.suspended_unreadable``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TypeVar

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from shared.bus import kvscan
from shared.bus.publish import publish
from shared.contracts.base import Event
from shared.contracts.schedule import ServiceSuspended, TriggerFired

from .calendar import (
    Calendar,
    CutoffRecord,
    Occurrence,
    batch_for_thursday,
    cutoff_record,
    followed_batches,
)
from .calendar.model import occurrence_id
from .errors import problems

SCHEDULE_STREAM = "SCHEDULE"

log = logging.getLogger(__name__)
#: A record read from the stream (a fire, a suspension).
E = TypeVar("E", TriggerFired, ServiceSuspended)


def _subject(trigger: str) -> str:
    return f"{TriggerFired.SUBJECT}.{trigger}"


def _read_fire(data: bytes | None, trigger: str) -> TriggerFired | str:
    """The fire record in ``data``, or what is wrong with it (never the value itself)."""
    try:
        event = TriggerFired.model_validate_json(data or b"")
    except ValidationError as exc:
        return problems(exc)
    if event.trigger != trigger:
        return f"a fire of {event.trigger}, not of {trigger}"
    if event.occurrence_id != occurrence_id(trigger, event.nominal_time):
        return "its occurrence id is not the one of its nominal time"
    if event.run_date != event.nominal_time.date():
        # The nominal time carries the calendar's offset: its date is the run date. A
        # record that disagrees would stand for a fire on a day it did not happen.
        return "its run date is not the day of its nominal time"
    return event


def _read_suspension(data: bytes | None) -> ServiceSuspended | str:
    """The ServiceSuspended of a batch in ``data``, or what is wrong with it."""
    try:
        event = ServiceSuspended.model_validate_json(data or b"")
    except ValidationError as exc:
        return problems(exc)
    if event.batch is None:
        return "it names no batch"
    try:
        expected = batch_for_thursday(event.batch.thursday)
    except ValueError as exc:
        return str(exc)
    if event.batch != expected:
        return "its pickup dates are not those of its Thursday"
    if event.occurrence_id != occurrence_id(event.trigger, event.nominal_time):
        return "its occurrence id is not the one of its nominal time"
    return event


class ScheduleBus:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def publish(self, event: Event) -> bool:
        """Publish; False when the stream already held this event id (a duplicate)."""
        ack = await publish(self._js, event)
        return not ack.duplicate

    async def fired_on(self, trigger: str, run_date: date) -> TriggerFired | None:
        """The latest TriggerFired (forced or not) of ``trigger`` for ``run_date`` in the
        stream, if any. Raises ``ScanError`` when the server does not deliver what it
        counted (transient: the caller retries)."""
        msg = await self._last(trigger)
        if msg is None:
            return None  # nothing fired yet for this trigger
        last = _read_fire(msg.data, trigger)
        if isinstance(last, TriggerFired) and last.run_date == run_date:
            return last  # the common re-fire
        # An earlier run date, or not a fire record (logged by the scan): look at them all.
        matching = [e for e in await self.fires(trigger) if e.run_date == run_date]
        return matching[-1] if matching else None

    async def latest_fired(self, trigger: str, now: datetime) -> TriggerFired | None:
        """The valid TriggerFired of ``trigger`` with the latest nominal time not after
        ``now``, if any: the occurrence fired last (a forced re-run of an earlier one does
        not count as later; a record of an occurrence still to come is not believed)."""
        fired = [e for e in await self.fires(trigger) if e.nominal_time <= now]
        return max(fired, key=lambda e: e.nominal_time, default=None)

    async def suspended_for(self, thursday: date) -> ServiceSuspended | None:
        """The first ServiceSuspended of the batch processed on ``thursday``, if any."""
        found = [e for e in await self.suspensions() if _thursday(e) == thursday]
        return found[0] if found else None

    async def cutoff_records(
        self, cutoff: str, thursdays: Iterable[date]
    ) -> tuple[CutoffRecord, ...]:
        """What the cutoff trigger ``cutoff`` did for each batch of ``thursdays``, where
        the stream says it (``calendar.cutoff_record``); the others are left out."""
        days = tuple(thursdays)
        if not days:
            return ()
        fires, suspended = await self.fires(cutoff), await self.suspensions()
        records: list[CutoffRecord] = []
        for day in days:
            fired = next((e for e in reversed(fires) if e.run_date == day), None)
            first = next((e for e in suspended if _thursday(e) == day), None)
            record = cutoff_record(day, fired, first)
            if record is not None:
                records.append(record)
        return tuple(records)

    async def with_cutoff_records(self, cal: Calendar, occs: Iterable[Occurrence]) -> Calendar:
        """``cal`` with the cutoff records of the batches whose later triggers (the
        Saturday mail) are among ``occs``: their occurrences, from this calendar, are what
        the engine decides (the engine's due ones; ``plan``, ``status``, ``fire``).
        Unchanged without a cutoff."""
        if cal.cutoff is None:
            return cal
        days = followed_batches(occs, cal)
        return cal.with_cutoffs(await self.cutoff_records(cal.cutoff.name, days))

    async def suspensions(self) -> list[ServiceSuspended]:
        """Every valid ServiceSuspended of a batch, in stream order (the others skipped)."""
        return await self._valid(ServiceSuspended.SUBJECT, _read_suspension, "suspended")

    async def _last(self, trigger: str) -> RawStreamMsg | None:
        try:
            return await self._js.get_last_msg(SCHEDULE_STREAM, _subject(trigger))
        except NotFoundError:
            return None

    async def fires(self, trigger: str) -> list[TriggerFired]:
        """Every valid TriggerFired of ``trigger``, in stream order (the others skipped)."""
        return await self._valid(_subject(trigger), lambda data: _read_fire(data, trigger), "fired")

    async def _valid(
        self, subject: str, read: Callable[[bytes | None], E | str], what: str
    ) -> list[E]:
        """The messages on ``subject`` that ``read`` accepts, in stream order; each other
        one is logged (``scheduler.<what>_unreadable``, never its payload) and skipped."""
        found: list[E] = []
        for msg in await kvscan.subject_messages(self._js, SCHEDULE_STREAM, subject):
            event = read(msg.data)
            if not isinstance(event, str):
                found.append(event)
                continue
            log.warning(
                f"scheduler.{what}_unreadable",
                extra={
                    "sequence": msg.metadata.sequence.stream,
                    "subject": msg.subject,
                    "detail": event,
                },
            )
        return found


def _thursday(event: ServiceSuspended) -> date | None:
    return event.batch.thursday if event.batch is not None else None
