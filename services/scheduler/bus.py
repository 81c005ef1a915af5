"""The scheduler's side of JetStream: publish its events, look up the last fired one."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

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

    async def last_fired(self, trigger: str) -> str | None:
        """Occurrence id of the last TriggerFired of ``trigger`` in the stream, if any."""
        try:
            msg = await self._js.get_last_msg(SCHEDULE_STREAM, f"{TriggerFired.SUBJECT}.{trigger}")
        except NotFoundError:
            return None
        if msg.data is None:
            return None
        return TriggerFired.model_validate_json(msg.data).occurrence_id
