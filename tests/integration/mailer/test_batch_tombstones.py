"""A batch's tombstones in ``mail_pending``: kept after its mail, purged weeks later.

The collector runs in-process against a real nats-server, with a recording publish.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, timedelta

import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from services.mailer.collect.handlers import Collector
from services.mailer.collect.store import PendingStore
from services.mailer.plan import keys
from shared.bus import kvscan
from shared.clock import ManualClock
from tests.integration.mailer.conftest import SATURDAY
from tests.integration.mailer.events import (
    BATCH,
    DELIVERY,
    THURSDAY,
    WorkRecorder,
    online_loan,
    saturday_trigger,
)

PATRON = "P1"
ENTRY = keys.online_loan_pending_key(THURSDAY, PATRON)


class FailingPurge(PendingStore):
    async def purge(self, patterns: Iterable[str]) -> None:
        raise NatsTimeoutError


async def _collector(
    js: JetStreamContext, store: PendingStore | None = None
) -> tuple[Collector, WorkRecorder]:
    recorder = WorkRecorder()
    collector = Collector(
        store=store or await PendingStore.open(js),
        publish=recorder,
        clock=ManualClock(SATURDAY),
        staff_address="s@example.jp",
    )
    return collector, recorder


def _weeks_before(weeks: int) -> date:
    return THURSDAY - timedelta(weeks=weeks)


async def _collect_in_batch(store: PendingStore, thursday: date, patron: str) -> str:
    key = keys.online_loan_pending_key(thursday, patron)
    event = online_loan(patron, f"L-{thursday.isoformat()}")
    assert await store.add(
        key, "online_loan", patron, event.model_copy(update={"batch_thursday": thursday})
    )
    return key


async def test_a_redelivered_event_after_the_saturday_run_makes_no_work_item(
    js: JetStreamContext,
) -> None:
    collector, recorder = await _collector(js)
    event = online_loan(PATRON, "L-1", "L-2")
    await collector.on_ils(event, DELIVERY)
    await collector.on_trigger(saturday_trigger(), DELIVERY)
    await collector.on_ils(event, DELIVERY)  # redelivered: its ack was lost

    assert [w.run_id for w in recorder.works] == [BATCH.batch_id]
    held = await (await PendingStore.open(js)).read(ENTRY)
    assert held is not None and held.entry.events == () and held.entry.mailed == ("L-1", "L-2")


async def test_a_refired_saturday_trigger_leaves_tombstone_only_entries_alone(
    js: JetStreamContext,
) -> None:
    store = await PendingStore.open(js)
    collector, recorder = await _collector(js, store)
    await collector.on_ils(online_loan(PATRON, "L-1"), DELIVERY)
    await collector.on_trigger(saturday_trigger(), DELIVERY)
    before = await store.read(ENTRY)
    assert await store.scan(keys.online_loan_batch_filter(THURSDAY)) == []

    refire = saturday_trigger().model_copy(update={"event_id": "refire-00001"})
    await collector.on_trigger(refire, DELIVERY)

    assert len(recorder.works) == 1
    assert await store.read(ENTRY) == before  # same revision: nothing written


async def test_a_weekly_run_purges_the_entries_of_batches_past_their_retention(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    store = await PendingStore.open(js)
    collector, recorder = await _collector(js, store)
    expired = [await _collect_in_batch(store, _weeks_before(w), "P9") for w in (5, 12, 57)]
    kept = [await _collect_in_batch(store, _weeks_before(w), "P9") for w in (4, 58, -1)]
    old_marker = keys.fired_marker(_weeks_before(5))
    await store.put_marker(old_marker, b"{}")
    await collector.on_ils(online_loan(PATRON, "L-1"), DELIVERY)

    with caplog.at_level(logging.INFO):
        await collector.on_trigger(saturday_trigger(), DELIVERY)
        await collector.on_trigger(saturday_trigger(), DELIVERY)  # idempotent

    left = set(await kvscan.keys(js, "mail_pending"))
    assert not left & set(expired)
    # Within retention, beyond the year looked back, a later batch, this batch's
    # tombstones and the batches' markers all stay.
    assert left == {*kept, ENTRY, old_marker, keys.fired_marker(THURSDAY)}
    assert len(recorder.works) == 1
    purged = [r for r in caplog.records if r.getMessage() == "collect.batches_purged"]
    assert len(purged) == 2 and purged[0].batches == 53  # type: ignore[attr-defined]


async def test_a_failed_purge_does_not_fail_the_run(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    pending = await js.key_value("mail_pending")
    returned = await js.key_value("mail_returned")
    store = FailingPurge(js, pending, returned)
    collector, recorder = await _collector(js, store)
    old = await _collect_in_batch(store, _weeks_before(6), "P9")
    await collector.on_ils(online_loan(PATRON, "L-1"), DELIVERY)

    await collector.on_trigger(saturday_trigger(), DELIVERY)

    assert len(recorder.works) == 1
    assert await store.read(old) is not None  # left for the next weekly run
    assert "collect.batches_purge_failed" in [r.getMessage() for r in caplog.records]


async def test_the_purge_names_entries_that_were_never_mailed(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    store = await PendingStore.open(js)
    collector, _ = await _collector(js, store)
    await _collect_in_batch(store, _weeks_before(5), "P9")  # its Saturday run never came

    with caplog.at_level(logging.WARNING):
        await collector.on_trigger(saturday_trigger(), DELIVERY)

    [warning] = [r for r in caplog.records if r.getMessage() == "collect.batch_purged_unmailed"]
    assert warning.patron_ids == ["P9"]  # type: ignore[attr-defined]
    assert warning.batch_thursday == _weeks_before(5).isoformat()  # type: ignore[attr-defined]


async def test_a_trigger_forced_for_a_future_batch_purges_nothing_current(
    js: JetStreamContext,
) -> None:
    """``otayori schedule fire --force`` with a mistyped date five weeks ahead: the batches
    of the last weeks are still current and keep their entries."""
    store = await PendingStore.open(js)
    collector, _ = await _collector(js, store)
    current = await _collect_in_batch(store, THURSDAY, "P9")
    future = THURSDAY + timedelta(weeks=5)
    batch = BATCH.model_copy(
        update={
            "thursday": future,
            "pickup_start": BATCH.pickup_start + timedelta(weeks=5),
            "pickup_deadline": BATCH.pickup_deadline + timedelta(weeks=5),
        }
    )
    forced = saturday_trigger().model_copy(update={"event_id": "forced-0001", "batch": batch})

    await collector.on_trigger(forced, DELIVERY)

    assert await store.read(current) is not None
