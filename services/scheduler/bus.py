"""The scheduler's side of JetStream: publish its events, look up what was fired.

A trigger fires at most once per JST run date (unless forced). The stream's duplicate
window (8 days, same ``Nats-Msg-Id``) only covers a re-publish soon after the first one, so
both the engine and ``otayori schedule fire`` ask the stream first: ``fired_on`` reads the
trigger's ``schedule.fired.<trigger>`` messages (the SCHEDULE stream keeps 120 days; a few
hundred small messages per trigger at most) and returns the latest one for that run date.
"""

from __future__ import annotations

import contextlib
from datetime import date

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from shared.bus.kvscan import ScanError
from shared.bus.publish import publish
from shared.contracts.base import Event
from shared.contracts.schedule import TriggerFired

SCHEDULE_STREAM = "SCHEDULE"
#: Messages asked for per fetch, and seconds a fetch may wait for counted messages.
FETCH_BATCH = 256
FETCH_TIMEOUT = 10.0


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
        """Every TriggerFired on ``subject``, in stream order (an ephemeral pull consumer:
        the server counts the messages when it is created, and exactly that many are read)."""
        info = await self._js.add_consumer(
            SCHEDULE_STREAM,
            ConsumerConfig(
                filter_subject=subject,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,
                mem_storage=True,
                inactive_threshold=30.0,
            ),
        )
        assert info.name is not None
        try:
            return await self._read(info.name, info.num_pending or 0)
        finally:
            with contextlib.suppress(NotFoundError):
                await self._js.delete_consumer(SCHEDULE_STREAM, info.name)

    async def _read(self, consumer: str, pending: int) -> list[TriggerFired]:
        if pending == 0:
            return []
        found: list[TriggerFired] = []
        sub = await self._js.pull_subscribe_bind(consumer=consumer, stream=SCHEDULE_STREAM)
        try:
            while pending > 0:
                try:
                    msgs = await sub.fetch(min(pending, FETCH_BATCH), timeout=FETCH_TIMEOUT)
                except TimeoutError as exc:
                    raise ScanError(f"{SCHEDULE_STREAM}: {pending} messages not delivered") from exc
                for msg in msgs:
                    pending = msg.metadata.num_pending
                    found.append(TriggerFired.model_validate_json(msg.data))
        finally:
            await sub.unsubscribe()
        return found
