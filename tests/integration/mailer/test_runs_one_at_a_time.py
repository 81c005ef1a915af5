"""One run of a kind at a time, whichever replica takes its trigger (``collect/runlock.py``),
on a real nats-server.

Found by a review: a past day's hold-ready run fired by hand while today's run was on (on
the other replica) took today's marks as a failed run's (free again), and today's took
its marks: both mailed the same holds. A second review: serialising every trigger on the
consumer held the Saturday mail back behind a failing overdue run for over an hour, and
one durable per kind could run a trigger twice during a rolling update.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from services.mailer.collect import runlock
from services.mailer.collect.handlers import Collector, _together
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


async def test_the_lock_of_a_run_that_died_is_taken_over_once_seen_unchanged_long_enough(
    js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Judged on the waiting replica's own monotonic time, never on the replicas' clocks
    (a review: replicas with demo clocks started apart took a live lock at once)."""
    kv = await _kv(js)
    ticks = [1000.0]
    monkeypatch.setattr(runlock.time, "monotonic", lambda: ticks[0])
    dead = RunLocks(kv, ManualClock(NOW), "dead", STALE)
    await dead._take(lock_key("overdue"), "overdue")  # taken, never released (kill -9)
    alive = RunLocks(kv, ManualClock(NOW + timedelta(days=1)), "b", STALE)  # its clock ahead
    for waited in (0.0, STALE - 1):
        ticks[0] = 1000.0 + waited
        with pytest.raises(Retry) as waits:
            async with alive.exclusive("overdue"):
                raise AssertionError("a lock seen for less than stale_after was taken")
        assert waits.value.delay == min(max(STALE - waited, 1.0), 60.0)
    ticks[0] = 1000.0 + STALE
    async with alive.exclusive("overdue"):
        entry = await kv.get(lock_key("overdue"))
        assert entry.value is not None and b'"holder":"b"' in entry.value


async def test_a_renewal_whose_answer_was_lost_keeps_the_lock(js: JetStreamContext) -> None:
    """A review: the next renewal met its own write as a conflict, gave the lock up and let
    the run go on unrenewed. It reads the lock back and keeps it (its nonce)."""
    kv = await _kv(js)
    lossy = _LosesOneAnswer(kv)
    locks = RunLocks(lossy, ManualClock(NOW), "a", stale_after=0.3)  # type: ignore[arg-type]
    async with locks.exclusive("online_loan"):
        first = (await kv.get(lock_key("online_loan"))).revision
        lossy.armed = True

        async def renewed_after_the_loss() -> bool:
            return not lossy.armed and (await kv.get(lock_key("online_loan"))).revision > first + 1

        await wait_for(renewed_after_the_loss)
    with pytest.raises(KeyNotFoundError):
        await kv.get(lock_key("online_loan"))  # released: the run kept it to its end


async def test_a_run_whose_lock_was_taken_over_has_its_trigger_retried(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    """The run is not cancelled (a cancellation mid-fan-out would leave marks, and asyncio
    may swallow it): it ends, then its trigger is retried, the lock left to its holder."""
    kv = await _kv(js)
    locks = RunLocks(kv, ManualClock(NOW), "a", stale_after=0.3)
    with pytest.raises(Retry, match="lost its lock"):
        async with locks.exclusive("hold_ready"):
            entry = await kv.get(lock_key("hold_ready"))
            await kv.update(lock_key("hold_ready"), b"taken by b", last=entry.revision)
            await wait_for(
                lambda: _logged(caplog, "collect.run_lock_lost")
            )  # the run goes on until it ends
    assert (await kv.get(lock_key("hold_ready"))).value == b"taken by b"  # left alone


async def test_renewals_that_never_land_count_as_a_lost_lock(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    """A review: a refused renewal found the lock still holding this run's nonce (at the
    old revision) and counted as renewed, while waiters saw the revision unchanged."""
    kv = await _kv(js)
    refusing = _Refuses(kv)
    locks = RunLocks(refusing, ManualClock(NOW), "a", stale_after=0.3)  # type: ignore[arg-type]
    with pytest.raises(Retry, match="lost its lock"):
        async with locks.exclusive("overdue"):
            refusing.on = True
            await wait_for(lambda: _logged(caplog, "collect.run_lock_lost"))
            # The run's own tasks see it, and stop at their next chunk.
            assert await asyncio.create_task(_still_held()) is False
            refusing.on = False  # the broker is back before the run ends
    # Still this run's (nobody took it): freed at once, not held for stale_after more.
    with pytest.raises(KeyNotFoundError):
        await kv.get(lock_key("overdue"))


async def _still_held() -> bool:
    return runlock.still_held()


async def _logged(caplog: pytest.LogCaptureFixture, event: str) -> bool:
    return any(r.getMessage() == event for r in caplog.records)


class _Refuses:
    """The bucket, refusing every update while ``on`` (nothing stored)."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self.on = False

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        if self.on:
            raise NatsTimeoutError
        return await self._kv.update(key, value, last=last)

    def __getattr__(self, name: str) -> object:
        return getattr(self._kv, name)


class _LosesOneAnswer:
    """The bucket, whose next update once ``armed`` lands but answers with a timeout."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self.armed = False

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        revision = await self._kv.update(key, value, last=last)
        if self.armed:
            self.armed = False
            raise NatsTimeoutError
        return revision

    def __getattr__(self, name: str) -> object:
        return getattr(self._kv, name)


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


async def test_a_failing_chunk_stops_the_rest_of_its_run() -> None:
    """A review: ``gather`` left the other chunks publishing after the run's handler (and
    its lock) had ended; the first failure now cancels them, and waits, before it is
    raised."""
    blocked = asyncio.Event()
    stopped: list[str] = []

    async def fails() -> None:
        await blocked.wait()
        raise RuntimeError("a chunk's publish timed out")

    async def goes_on() -> None:
        try:
            blocked.set()
            await asyncio.Event().wait()
        finally:
            stopped.append("cancelled before the failure was raised")

    with pytest.raises(RuntimeError, match="timed out"):
        await _together([goes_on(), fails()])
    assert stopped == ["cancelled before the failure was raised"]
