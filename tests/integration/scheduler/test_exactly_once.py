"""Exactly once on real NATS: replicas, a crashed leader, downtime and catch-up."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

from nats.js import JetStreamContext

from services.scheduler.engine import Scheduler
from services.scheduler.errors import StateConflict
from services.scheduler.records import TriggerState
from services.scheduler.store import StateStore
from shared.clock import JST, ManualClock
from shared.contracts.schedule import TRIGGER_NAMES, ServiceSuspended, TriggerFired, TriggerMissed
from tests.support.nats import wait_for
from tools.localservers import NatsServer

from .replicas import (
    Replica,
    all_initialised,
    fired_ids,
    schedule_events,
    start_replica,
    state_of,
)

MAIL_SAT = "weekly-loan-mail:2026-12-05T09:00:00+09:00"
OVERDUE_SAT = "daily-overdue:2026-12-05T10:00:00+09:00"
TAKEOVER = 40.0  # the lease TTL is 10 s; generous for a slow machine


def jst(d: int, h: int, mi: int = 0, *, month: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, d, h, mi, tzinfo=JST)


async def _has(js: JetStreamContext, occurrence_id: str) -> bool:
    return occurrence_id in await fired_ids(js)


async def _leader(replicas: list[Replica]) -> Replica:
    await wait_for(lambda: sum(r.leading for r in replicas) == 1, timeout=TAKEOVER)
    return next(r for r in replicas if r.leading)


async def test_two_replicas_leader_crash_each_occurrence_fired_once(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    clock = ManualClock(jst(5, 8, 59))
    replicas = [await start_replica(fresh_nats.url, n, clock) for n in ("a", "b")]
    leader = await _leader(replicas)
    standby = next(r for r in replicas if r is not leader)
    await wait_for(lambda: all_initialised(js, TRIGGER_NAMES))

    clock.set(jst(5, 9))
    await wait_for(lambda: _has(js, MAIL_SAT))
    await wait_for(lambda: state_of(js, "weekly-loan-mail"), timeout=5)
    await wait_for(
        lambda: _handled(js, "weekly-loan-mail", jst(5, 9)), timeout=5
    )  # recorded before the crash
    await leader.crash()

    clock.set(jst(5, 10, 0))
    await wait_for(lambda: _has(js, OVERDUE_SAT), timeout=TAKEOVER)
    assert standby.leading
    assert Counter(await fired_ids(js)) == Counter({MAIL_SAT: 1, OVERDUE_SAT: 1})
    assert leader.fired("weekly-loan-mail") + standby.fired("weekly-loan-mail") == 1
    assert not await schedule_events(js, "schedule.missed.>")
    await standby.shutdown()


async def _handled(js: JetStreamContext, trigger: str, through: datetime) -> bool:
    state = await state_of(js, trigger)
    return state is not None and state.handled_through >= through


def _hang_after_firing(release: asyncio.Event) -> object:
    """Patch a replica so it publishes, then stalls before recording (lease runs out)."""

    def patch(scheduler: Scheduler) -> None:
        store: StateStore = scheduler._state
        save = store.save

        async def stalled_save(trigger: str, state: TriggerState, last: int | None) -> int:
            if state.last_outcome == "fired":
                await release.wait()
            return await save(trigger, state, last)

        store.save = stalled_save  # type: ignore[method-assign]

    return patch


async def test_lease_expiring_mid_fire_is_fenced_and_the_fire_is_not_repeated(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    clock = ManualClock(jst(5, 8, 59))
    release = asyncio.Event()
    stalled = await start_replica(
        fresh_nats.url,
        "stalled",
        clock,
        patch=_hang_after_firing(release),  # type: ignore[arg-type]
    )
    await _leader([stalled])
    await wait_for(lambda: all_initialised(js, TRIGGER_NAMES))
    standby = await start_replica(fresh_nats.url, "standby", clock)

    clock.set(jst(5, 9))
    await wait_for(lambda: _has(js, MAIL_SAT))  # published, state not recorded: stuck
    await wait_for(lambda: _handled(js, "weekly-loan-mail", jst(5, 9)), timeout=TAKEOVER)
    assert standby.scheduler.leading  # took over after the lease expired, re-fired (dup)

    release.set()  # the old leader wakes up mid-fire: its compare-and-set must fail
    await wait_for(lambda: not stalled.scheduler.leading, timeout=10)
    assert not stalled.task.done()  # stepped down, standing by, not crashed
    assert Counter(await fired_ids(js))[MAIL_SAT] == 1
    state = await state_of(js, "weekly-loan-mail")
    assert state is not None and state.by == "standby"
    await stalled.shutdown()
    await standby.shutdown()


async def _start_and_stop(url: str, js: JetStreamContext, at: datetime) -> None:
    replica = await start_replica(url, "first", ManualClock(at))
    await wait_for(lambda: all_initialised(js, TRIGGER_NAMES))
    await replica.shutdown()


async def test_down_over_saturday_0900_back_at_1000_fires_the_mail_once(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    await _start_and_stop(fresh_nats.url, js, jst(4, 12))
    replica = await start_replica(fresh_nats.url, "back", ManualClock(jst(5, 10)))
    await wait_for(lambda: _handled(js, "weekly-loan-mail", jst(5, 9)), timeout=TAKEOVER)
    await wait_for(lambda: _handled(js, "daily-overdue", jst(5, 10)))  # the tick's last due

    fired = [e for e in await schedule_events(js, "schedule.fired.weekly-loan-mail")]
    assert len(fired) == 1 and isinstance(fired[0], TriggerFired)
    assert fired[0].occurrence_id == MAIL_SAT and fired[0].coalesced == 0
    assert fired[0].batch is not None and fired[0].batch.thursday.isoformat() == "2026-12-03"
    assert not await schedule_events(js, "schedule.missed.>")
    await replica.shutdown()


async def test_back_on_monday_the_saturday_mail_is_reported_missed_not_sent(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    await _start_and_stop(fresh_nats.url, js, jst(4, 12))
    replica = await start_replica(fresh_nats.url, "back", ManualClock(jst(7, 10, 30)))
    await wait_for(lambda: _handled(js, "weekly-loan-mail", jst(5, 9)), timeout=TAKEOVER)
    await wait_for(lambda: _handled(js, "weekly-bounce-digest", jst(7, 8, 45)))

    missed = await schedule_events(js, "schedule.missed.weekly-loan-mail")
    assert [type(e) for e in missed] == [TriggerMissed]
    assert missed[0].occurrence_id == MAIL_SAT and "grace" in missed[0].reason
    assert not await schedule_events(js, "schedule.fired.weekly-loan-mail")
    assert "weekly-bounce-digest:2026-12-07T08:45:00+09:00" in await fired_ids(js)
    await replica.shutdown()


async def test_a_suspended_week_publishes_one_service_suspended_and_no_batch_triggers(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    clock = ManualClock(jst(30, 12))
    replica = await start_replica(fresh_nats.url, "ny", clock)
    await wait_for(lambda: all_initialised(js, TRIGGER_NAMES))
    clock.set(jst(31, 8, 30))
    await wait_for(lambda: _handled(js, "weekly-cutoff", jst(31, 8, 30)))
    clock.set(jst(2, 9, month=1, year=2027))
    await wait_for(lambda: _handled(js, "weekly-loan-mail", jst(2, 9, month=1, year=2027)))

    suspended = await schedule_events(js, "schedule.suspended")
    assert [type(e) for e in suspended] == [ServiceSuspended]
    assert suspended[0].trigger == "weekly-cutoff" and suspended[0].reason == "年末年始"
    assert suspended[0].batch is not None
    assert suspended[0].batch.pickup_deadline.isoformat() == "2027-01-10"
    assert await fired_ids(js) == []  # dailies skip the closed days too
    await replica.shutdown()


async def test_a_stale_state_write_is_refused(js: JetStreamContext) -> None:
    store = await StateStore.open(js)
    state = TriggerState(handled_through=jst(5, 9), by="x", updated_at=jst(5, 9), lease_revision=1)
    revision = await store.save("weekly-cutoff", state, last=None)
    await store.save("weekly-cutoff", state, last=revision)
    try:
        await store.save("weekly-cutoff", state, last=revision)
    except StateConflict as exc:
        assert exc.key == "trigger.weekly-cutoff"
    else:
        raise AssertionError("a stale compare-and-set was accepted")
