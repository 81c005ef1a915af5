"""The scheduler's side of JetStream: publish its events, look up what was fired.

A trigger fires at most once per JST run date (unless forced). The stream's duplicate
window (8 days, same ``Nats-Msg-Id``) only covers a re-publish soon after the first one, so
both the engine and ``otayori schedule fire`` ask the stream first: ``fired_on`` reads the
trigger's ``schedule.fired.<trigger>`` messages (the SCHEDULE stream keeps 120 days; a few
hundred small messages per trigger at most) and returns the latest one for that run date.
"""

from __future__ import annotations

from datetime import date

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from shared.bus import kvscan
from shared.bus.publish import publish
from shared.contracts.base import Event
from shared.contracts.schedule import TriggerFired

SCHEDULE_STREAM = "SCHEDULE"


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
        subject = f"{TriggerFired.SUBJECT}.{trigger}"
        last = await self._last(subject)
        if last is None or last.run_date == run_date:
            return last  # nothing fired yet for this trigger, or the common re-fire
        matching = [e for e in await self._all(subject) if e.run_date == run_date]
        return matching[-1] if matching else None

    async def _last(self, subject: str) -> TriggerFired | None:
        try:
            msg = await self._js.get_last_msg(SCHEDULE_STREAM, subject)
        except NotFoundError:
            return None
        return TriggerFired.model_validate_json(msg.data) if msg.data else None

    async def _all(self, subject: str) -> list[TriggerFired]:
        """Every TriggerFired on ``subject``, in stream order."""
        msgs = await kvscan.subject_messages(self._js, SCHEDULE_STREAM, subject)
        return [TriggerFired.model_validate_json(m.data) for m in msgs]
