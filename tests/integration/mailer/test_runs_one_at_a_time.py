"""The runs' triggers are handed out one at a time, whichever replica takes them.

Found by a review: a past day's hold-ready run fired by hand while today's run was on took
today's marks as a failed run's (free again), and today's took its marks: both mailed the
same holds. With one trigger in hand at a time, the second run meets the first's released
entries (tombstones) and mails nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from nats.js import JetStreamContext

from services.mailer.service import trigger_consumer
from services.mailer.settings import MailerSettings
from shared.bus.provision import provision
from shared.clock import JST
from tests.integration.mailer.events import fired


async def test_a_second_trigger_waits_until_the_first_is_acked(js: JetStreamContext) -> None:
    await provision(js)
    spec = trigger_consumer(MailerSettings())
    await js.add_consumer(spec.stream, spec.config())
    for day in (4, 5):  # yesterday's run fired by hand, and today's
        trigger = fired("daily-hold-ready", datetime(2026, 12, day, 8, 0, tzinfo=JST))
        await js.publish(trigger.subject(), trigger.model_dump_json().encode())
    # Two replicas pulling: the first gets a trigger, the second nothing while it is in hand.
    first = await js.pull_subscribe_bind(spec.durable, stream=spec.stream)
    second = await js.pull_subscribe_bind(spec.durable, stream=spec.stream)
    (taken,) = await first.fetch(2, timeout=1)
    assert await _nothing(second)
    await taken.ack_sync()
    (then,) = await second.fetch(2, timeout=1)
    assert then.metadata.sequence.stream == taken.metadata.sequence.stream + 1


async def _nothing(sub: JetStreamContext.PullSubscription) -> bool:
    try:
        await sub.fetch(1, timeout=0.5)
    except TimeoutError:
        return True
    return False
