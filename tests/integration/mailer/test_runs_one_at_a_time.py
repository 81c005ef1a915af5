"""The runs' triggers: one durable consumer per kind, one trigger of a kind in hand at a
time, whichever replica takes it (``services/mailer/triggers.py``).

Found by a review: a past day's hold-ready run fired by hand while today's run was on took
today's marks as a failed run's (free again), and today's took its marks: both mailed the
same holds. With one trigger of a kind in hand at a time, the second run meets the first's
released entries (tombstones) and mails nothing twice. A second review: with one consumer
for every kind, a failing overdue run held the Saturday mail back for over an hour.
"""

from __future__ import annotations

from datetime import datetime

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from services.mailer.settings import MailerSettings
from services.mailer.triggers import LEGACY_DURABLE, durable_of, run_consumers
from shared.bus.consume import ConsumerSpec
from shared.bus.provision import provision
from shared.clock import JST
from shared.contracts.schedule import TriggerName
from tests.integration.mailer.events import fired


async def _declared(js: JetStreamContext) -> dict[str, ConsumerSpec]:
    specs = await run_consumers(js, MailerSettings())
    for spec in specs:
        await js.add_consumer(spec.stream, spec.config())
    return {spec.durable: spec for spec in specs}


async def _fire(js: JetStreamContext, trigger: TriggerName, day: int) -> None:
    event = fired(trigger, datetime(2026, 12, day, 8, 0, tzinfo=JST))
    await js.publish(event.subject(), event.model_dump_json().encode())


async def _pull(js: JetStreamContext, durable: str, n: int = 2) -> list[Msg]:
    """What one replica's pull gets now (nothing: an empty list)."""
    sub = await js.pull_subscribe_bind(durable, stream="SCHEDULE")
    try:
        return await sub.fetch(n, timeout=0.5)
    except TimeoutError:
        return []


async def test_a_second_trigger_of_a_kind_waits_until_the_first_is_acked(
    js: JetStreamContext,
) -> None:
    await provision(js)
    await _declared(js)
    for day in (4, 5):  # yesterday's run fired by hand, and today's
        await _fire(js, "daily-hold-ready", day)
    durable = durable_of("daily-hold-ready")
    (taken,) = await _pull(js, durable)  # one replica
    assert await _pull(js, durable) == []  # the other: nothing while it is in hand
    await taken.ack_sync()
    (then,) = await _pull(js, durable)
    assert then.metadata.sequence.stream == taken.metadata.sequence.stream + 1


async def test_a_trigger_in_hand_holds_up_only_its_own_kind(js: JetStreamContext) -> None:
    await provision(js)
    await _declared(js)
    await _fire(js, "daily-overdue", 5)  # its run keeps failing: it stays in hand
    await _fire(js, "weekly-loan-mail", 5)
    assert len(await _pull(js, durable_of("daily-overdue"))) == 1
    (mail,) = await _pull(js, durable_of("weekly-loan-mail"))
    assert mail.subject == "schedule.fired.weekly-loan-mail"


async def test_the_kinds_durables_start_after_what_the_shared_one_acked(
    js: JetStreamContext,
) -> None:
    """An update from the version with one durable for all kinds loses no trigger and
    runs none again; a durable created so keeps its start on the next start."""
    await provision(js)
    legacy = ConsumerConfig(
        durable_name=LEGACY_DURABLE,
        ack_policy=AckPolicy.EXPLICIT,
        filter_subjects=[f"schedule.fired.{t}" for t in ("weekly-loan-mail", "daily-overdue")],
    )
    await js.add_consumer("SCHEDULE", legacy)
    await _fire(js, "daily-overdue", 4)  # run and acked by the previous version
    await _fire(js, "daily-overdue", 5)  # fired, not yet run when the update came
    old = await js.pull_subscribe_bind(LEGACY_DURABLE, stream="SCHEDULE")
    (done, _) = await old.fetch(2, timeout=1)
    await done.ack_sync()

    specs = await _declared(js)
    (left,) = await _pull(js, durable_of("daily-overdue"))
    assert left.metadata.sequence.stream == done.metadata.sequence.stream + 1
    assert await _pull(js, durable_of("weekly-loan-mail")) == []
    # The next start finds the durables where they are (their start cannot change).
    assert await _declared(js) == specs
