"""Publishing events: subject from the event, ``event_id`` as ``Nats-Msg-Id``."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import PubAck

from shared.contracts.base import Event

MSG_ID = "Nats-Msg-Id"


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()


async def publish(js: JetStreamContext, event: Event, *, timeout: float = 5.0) -> PubAck:
    """Publish and wait for the stream's ack; a duplicate (same event_id) is stored once."""
    return await js.publish(
        event.subject(), encode(event), timeout=timeout, headers={MSG_ID: event.event_id}
    )
