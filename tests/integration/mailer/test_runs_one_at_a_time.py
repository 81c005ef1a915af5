"""One run of a kind at a time, whichever replica takes its trigger (``collect/runlock.py``),
on a real nats-server.

Found by a review: a past day's hold-ready run fired by hand while today's run was on (on
the other replica) took today's marks as a failed run's (free again), and today's took
its marks: both mailed the same holds. A second review: serialising every trigger on the
consumer held the Saturday mail back behind a failing overdue run for over an hour, and
one durable per kind could run a trigger twice during a rolling update.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from services.mailer.collect.handlers import Collector
from services.mailer.collect.runlock import RunLocks, lock_key
from services.mailer.collect.store import PENDING_BUCKET, PendingStore
from shared.bus.consume import Delivery, Retry
from shared.bus.provision import provision
from shared.clock import JST, ManualClock
from shared.contracts.base import Event
from tests.integration.mailer.events import fired
from tests.support.nats import wait_for

STALE = 300.0
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


async def _kv(js: JetStreamContext) -> KeyValue:
    await provision(js)
    return await js.key_value(PENDING_BUCKET)


async def test_a_second_run_of_a_kind_waits_and_another_kind_does_not(
    js: JetStreamContext,
) -> None:
    kv = await _kv(js)
    clock = ManualClock(NOW)
    one, other = RunLocks(kv, clock, "a", STALE), RunLocks(kv, clock, "b", STALE)
    async with one.exclusive("hold_ready"):
        with pytest.raises(Retry) as waits:
            async with other.exclusive("hold_ready"):
                raise AssertionError("two hold-ready runs side by side")
        assert waits.value.delay is not None and 1.0 <= waits.value.delay <= 60.0
        async with other.exclusive("online_loan"):  # the Saturday mail goes on
            pass
    async with other.exclusive("hold_ready"):  # released: the next one runs
        pass
    with pytest.raises(KeyNotFoundError):
        await kv.get(lock_key("hold_ready"))  # released again at its end


async def test_a_failing_run_releases_its_kind(js: JetStreamContext) -> None:
    kv = await _kv(js)
    locks = RunLocks(kv, ManualClock(NOW), "a", STALE)
    with pytest.raises(RuntimeError):
        async with locks.exclusive("overdue"):
            raise RuntimeError("the run failed: retried later by the consumer")
    async with RunLocks(kv, ManualClock(NOW), "b", STALE).exclusive("overdue"):
        pass


async def test_the_lock_of_a_run_that_died_is_taken_over_once_stale(
    js: JetStreamContext,
) -> None:
    kv = await _kv(js)
    clock = ManualClock(NOW)
    dead = RunLocks(kv, clock, "dead", STALE)
    await dead._take(lock_key("overdue"), "overdue")  # taken, never released (kill -9)
    alive = RunLocks(kv, clock, "b", STALE)
    clock.set(NOW + timedelta(seconds=STALE - 1))
    with pytest.raises(Retry) as waits:
        async with alive.exclusive("overdue"):
            pass
    assert waits.value.delay == 1.0  # tried again as it goes stale
    clock.set(NOW + timedelta(seconds=STALE))
    async with alive.exclusive("overdue"):
        entry = await kv.get(lock_key("overdue"))
        assert entry.value is not None and b'"holder":"b"' in entry.value


async def test_a_trigger_whose_kind_is_running_elsewhere_is_retried_untouched(
    js: JetStreamContext,
) -> None:
    """The collector's run: nothing read or published while another replica runs the kind."""
    kv = await _kv(js)
    clock = ManualClock(NOW)
    published: list[Event] = []

    async def publish(event: Event) -> None:
        published.append(event)

    collector = Collector(
        store=await PendingStore.open(js),
        publish=publish,
        clock=clock,
        staff_address="staff@plib.pref.aomori.lg.jp",
        runs=RunLocks(kv, clock, "b", STALE),
    )
    trigger = fired("daily-hold-ready", datetime(2026, 12, 4, 8, 0, tzinfo=JST))
    delivery = Delivery("schedule.fired.daily-hold-ready", trigger.event_id, 1, 1, raw=None)  # type: ignore[arg-type]
    async with RunLocks(kv, clock, "a", STALE).exclusive("hold_ready"):
        with pytest.raises(Retry):
            await collector.on_trigger(trigger, delivery)
    assert published == []
    await collector.on_trigger(trigger, delivery)  # then it runs (nothing pending here)


async def test_a_long_run_keeps_its_lock_fresh(js: JetStreamContext) -> None:
    kv = await _kv(js)
    clock = ManualClock(NOW)
    locks = RunLocks(kv, clock, "a", stale_after=0.3)  # renewed every 0.1 s (a timer)
    async with locks.exclusive("online_loan"):
        first = (await kv.get(lock_key("online_loan"))).revision
        clock.set(NOW + timedelta(hours=1))

        async def renewed() -> bool:
            entry = await kv.get(lock_key("online_loan"))
            return entry.revision > first and entry.value is not None and b"10:00" in entry.value

        await wait_for(renewed)
