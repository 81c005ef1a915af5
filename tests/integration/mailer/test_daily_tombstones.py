"""The daily runs' tombstones in ``mail_pending``: a hold-ready or overdue event collected
again after the run that mailed it (its ack was lost, the ILS posted it again) makes no
second mail the next day, and the entries are deleted once their tombstones are past.

The collector runs in-process against a real nats-server, with a recording publish.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from services.mailer.collect.handlers import Collector
from services.mailer.collect.store import Change, PendingStore, Stored
from services.mailer.plan import keys
from services.mailer.plan.model import MailWork, WorkChunk
from shared.bus import kvscan
from shared.clock import JST, ManualClock
from shared.contracts.base import Event
from shared.contracts.ils import HoldReady
from tests.integration.mailer.events import DELIVERY, fired, hold_ready, overdue

MONDAY = datetime(2026, 12, 7, 8, 0, tzinfo=JST)
SECURED = datetime(2026, 12, 6, 15, 0, tzinfo=JST)
DEADLINE = MONDAY.date() + timedelta(days=7)


class Recorder:
    def __init__(self) -> None:
        self.works: list[MailWork] = []

    async def __call__(self, event: Event) -> None:
        self.works.extend(event.works if isinstance(event, WorkChunk) else [event])  # type: ignore[list-item]


async def _collector(js: JetStreamContext) -> tuple[Collector, Recorder, ManualClock]:
    recorder, clock = Recorder(), ManualClock(MONDAY)
    collector = Collector(
        store=await PendingStore.open(js), publish=recorder, clock=clock, staff_address="s@x.jp"
    )
    return collector, recorder, clock


async def _run(collector: Collector, clock: ManualClock, trigger: str, day: int) -> None:
    clock.set(MONDAY + timedelta(days=day))
    await collector.on_trigger(fired(trigger, clock.now()), DELIVERY)  # type: ignore[arg-type]


async def test_a_hold_ready_event_collected_again_after_its_mail_is_not_mailed_again(
    js: JetStreamContext,
) -> None:
    collector, recorder, clock = await _collector(js)
    ready = hold_ready("P1", "H-1", SECURED, DEADLINE)
    await collector.on_ils(ready, DELIVERY)
    await _run(collector, clock, "daily-hold-ready", 0)
    assert [w.patron_id for w in recorder.works] == ["P1"]

    await collector.on_ils(ready, DELIVERY)  # redelivered: its ack was lost
    await collector.on_ils(ready.model_copy(update={"event_id": "repost-0001"}), DELIVERY)
    await _run(collector, clock, "daily-hold-ready", 1)

    assert len(recorder.works) == 1


async def test_an_overdue_event_collected_again_after_its_mail_is_not_mailed_again(
    js: JetStreamContext,
) -> None:
    collector, recorder, clock = await _collector(js)
    reminder = overdue("P2", "L-1")
    await collector.on_ils(reminder, DELIVERY)
    await _run(collector, clock, "daily-overdue", 0)
    await collector.on_ils(reminder, DELIVERY)
    await _run(collector, clock, "daily-overdue", 1)
    assert len(recorder.works) == 1

    # The next level is a new reminder.
    await collector.on_ils(overdue("P2", "L-1", 2), DELIVERY)
    await _run(collector, clock, "daily-overdue", 2)
    assert [w.events[0].reminder_level for w in recorder.works] == [1, 2]  # type: ignore[union-attr]


async def test_entries_holding_only_past_tombstones_are_deleted_by_a_later_run(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    collector, _, clock = await _collector(js)
    await collector.on_ils(hold_ready("P3", "H-3", SECURED, DEADLINE), DELIVERY)
    await _run(collector, clock, "daily-hold-ready", 0)
    key = keys.hold_ready_pending_key("P3")
    store = await PendingStore.open(js)

    await _run(collector, clock, "daily-hold-ready", 7)  # the deadline itself: still kept
    held = await store.read(key)
    assert held is not None and held.entry.recent and not held.entry.events

    with caplog.at_level(logging.INFO):
        await _run(collector, clock, "daily-hold-ready", 8)
    assert key not in await kvscan.keys(js, "mail_pending")
    assert "collect.tombstones_forgotten" in [r.getMessage() for r in caplog.records]


async def test_a_run_forced_for_a_later_date_forgets_nothing_early(js: JetStreamContext) -> None:
    collector, recorder, clock = await _collector(js)
    ready = hold_ready("P4", "H-4", SECURED, DEADLINE)
    await collector.on_ils(ready, DELIVERY)
    await _run(collector, clock, "daily-hold-ready", 0)
    forced = fired("daily-hold-ready", MONDAY + timedelta(days=30))
    await collector.on_trigger(forced, DELIVERY)  # mistyped date, run today

    await collector.on_ils(ready, DELIVERY)
    await _run(collector, clock, "daily-hold-ready", 1)
    assert len(recorder.works) == 1


class AddsDuringSweep(PendingStore):
    """A collector adding an event to an entry just as the run's sweep writes it."""

    racer: HoldReady | None = None

    async def change(
        self, key: str, change: Change, *, hint: Stored | None = None
    ) -> Stored | None:
        racer, self.racer = self.racer, None
        if racer is not None:
            assert await self.add(key, "hold_ready", racer.patron_id, racer)
        return await super().change(key, change, hint=hint)


class FailingSweep(PendingStore):
    async def change(
        self, key: str, change: Change, *, hint: Stored | None = None
    ) -> Stored | None:
        raise NatsTimeoutError


async def _store(js: JetStreamContext, cls: type[PendingStore]) -> PendingStore:
    return cls(js, await js.key_value("mail_pending"), await js.key_value("mail_returned"))


async def test_an_event_collected_while_the_sweep_deletes_its_entry_is_kept(
    js: JetStreamContext,
) -> None:
    store = await _store(js, AddsDuringSweep)
    assert isinstance(store, AddsDuringSweep)
    recorder, clock = Recorder(), ManualClock(MONDAY)
    collector = Collector(store=store, publish=recorder, clock=clock, staff_address="s@x.jp")
    await collector.on_ils(hold_ready("P5", "H-5", SECURED, DEADLINE), DELIVERY)
    await _run(collector, clock, "daily-hold-ready", 0)
    later = datetime(2026, 12, 15, 9, 0, tzinfo=JST)
    store.racer = hold_ready("P5", "H-6", later, later.date() + timedelta(days=7))

    await _run(collector, clock, "daily-hold-ready", 8)  # the sweep meets the new event

    held = await store.read(keys.hold_ready_pending_key("P5"))
    assert held is not None and [p.event.hold_id for p in held.entry.events] == ["H-6"]  # type: ignore[union-attr]
    assert held.entry.recent == ()  # the past tombstone went all the same
    await _run(collector, clock, "daily-hold-ready", 9)
    assert [w.events[0].hold_id for w in recorder.works] == ["H-5", "H-6"]  # type: ignore[union-attr]


async def test_a_failed_sweep_does_not_fail_the_run(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    store = await _store(js, FailingSweep)
    recorder, clock = Recorder(), ManualClock(MONDAY)
    collector = Collector(store=store, publish=recorder, clock=clock, staff_address="s@x.jp")
    await collector.on_ils(hold_ready("P6", "H-7", SECURED, DEADLINE), DELIVERY)
    await _run(collector, clock, "daily-hold-ready", 0)
    await collector.on_ils(hold_ready("P7", "H-8", SECURED, DEADLINE + timedelta(days=9)), DELIVERY)

    with caplog.at_level(logging.WARNING):
        await _run(collector, clock, "daily-hold-ready", 8)  # P6's tombstone is past

    assert [w.patron_id for w in recorder.works] == ["P6", "P7"]
    assert "collect.tombstones_forget_failed" in [r.getMessage() for r in caplog.records]
    assert await store.read(keys.hold_ready_pending_key("P6")) is not None  # left for later
