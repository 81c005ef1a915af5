"""Online-loan items arriving after the batch's Saturday run ("late items"), under races.

The collector runs in-process against a real nats-server (``mail_pending`` with its
compare-and-set writes); the interleavings are forced by holding a chosen work-item
publish until the test lets it go, so each race happens on every run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from nats.js import JetStreamContext

from services.mailer.collect.handlers import Collector
from services.mailer.collect.store import PendingStore
from services.mailer.plan import keys
from services.mailer.plan.model import MailWork
from shared.clock import ManualClock
from shared.contracts.base import Event
from shared.contracts.ils import LoanOnlineIssued
from tests.integration.mailer.conftest import SATURDAY
from tests.integration.mailer.events import BATCH, DELIVERY, THURSDAY, online_loan, saturday_trigger

PATRON = "P1"
ENTRY = keys.online_loan_pending_key(THURSDAY, PATRON)


class HeldPublish:
    """Records work items; holds the first one matching ``hold`` until ``release()``."""

    def __init__(self, hold: Callable[[MailWork], bool]) -> None:
        self.works: list[MailWork] = []
        self.holding = asyncio.Event()
        self._hold = hold
        self._gate = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        assert isinstance(event, MailWork)
        self.works.append(event)
        if self._hold(event) and not self.holding.is_set():
            self.holding.set()
            await self._gate.wait()

    def release(self) -> None:
        self._gate.set()

    def mailed_loans(self) -> Counter[str]:
        """How many distinct mails (business keys) list each loan."""
        by_key = {w.business_key: w for w in self.works}
        return Counter(
            item.loan_id
            for w in by_key.values()
            for e in w.events
            if isinstance(e, LoanOnlineIssued)
            for item in e.items
        )


def _late(work: MailWork) -> bool:
    return work.run_id != BATCH.batch_id


def _main(work: MailWork) -> bool:
    return work.run_id == BATCH.batch_id


async def _collector(js: JetStreamContext, publish: HeldPublish) -> tuple[Collector, PendingStore]:
    store = await PendingStore.open(js)
    collector = Collector(
        store=store, publish=publish, clock=ManualClock(SATURDAY), staff_address="s@example.jp"
    )
    return collector, store


async def _left_behind(store: PendingStore) -> tuple[str, ...]:
    """The entry's tombstones (mailed loans), asserting that no event waits any more."""
    stored = await store.read(ENTRY)
    assert stored is not None and stored.entry.events == ()
    return stored.entry.mailed


async def test_concurrent_late_items_of_one_patron_are_all_mailed(js: JetStreamContext) -> None:
    publish = HeldPublish(_late)
    collector, store = await _collector(js, publish)
    await collector.on_trigger(saturday_trigger(), DELIVERY)  # the batch's run is done

    task_a = asyncio.create_task(collector.on_ils(online_loan(PATRON, "L-A"), DELIVERY))
    await asyncio.wait_for(publish.holding.wait(), 10)  # A is assigned and being published
    await collector.on_ils(online_loan(PATRON, "L-B"), DELIVERY)
    publish.release()
    await task_a

    assert publish.mailed_loans() == {"L-A": 1, "L-B": 1}
    assert await _left_behind(store) == ("L-A", "L-B")  # nothing left but tombstones


async def test_a_late_item_redelivered_is_the_same_mail(js: JetStreamContext) -> None:
    publish = HeldPublish(lambda work: False)
    collector, store = await _collector(js, publish)
    await collector.on_trigger(saturday_trigger(), DELIVERY)
    late = online_loan(PATRON, "L-A")
    await collector.on_ils(late, DELIVERY)
    await collector.on_ils(late, DELIVERY)  # redelivered after it was released
    await collector.on_ils(late.model_copy(update={"event_id": "ils-resent-0001"}), DELIVERY)

    assert len({w.mail_id for w in publish.works}) == 1
    assert await _left_behind(store) == ("L-A",)


async def test_a_late_item_taken_while_the_saturday_run_waits_is_mailed_once(
    js: JetStreamContext,
) -> None:
    publish = HeldPublish(_late)
    collector, store = await _collector(js, publish)
    await collector.on_ils(online_loan(PATRON, "L-X"), DELIVERY)  # collected before Saturday
    trigger = saturday_trigger()
    # The Saturday run has written its marker and not yet reached this patron's entry
    # when the late event is handled.
    await store.put_marker(keys.fired_marker(THURSDAY), trigger.model_dump_json().encode())
    late = asyncio.create_task(collector.on_ils(online_loan(PATRON, "L-L"), DELIVERY))
    await asyncio.wait_for(publish.holding.wait(), 10)  # the late mail is being published
    await collector.on_trigger(trigger, DELIVERY)  # the Saturday run reaches the entry
    publish.release()
    await late

    assert publish.mailed_loans() == {"L-X": 1, "L-L": 1}
    assert await _left_behind(store) == ("L-L", "L-X")


async def test_a_late_item_already_in_the_saturday_mail_is_not_mailed_again(
    js: JetStreamContext,
) -> None:
    publish = HeldPublish(_main)
    collector, store = await _collector(js, publish)
    late = online_loan(PATRON, "L-L")
    await collector.on_ils(online_loan(PATRON, "L-X"), DELIVERY)
    # The late event's handler has added it (the Saturday marker was not there yet) and
    # reads the marker only after the Saturday run has taken the entry.
    await store.add(ENTRY, "online_loan", PATRON, late)
    run = asyncio.create_task(collector.on_trigger(saturday_trigger(), DELIVERY))
    await asyncio.wait_for(publish.holding.wait(), 10)  # the Saturday mail is being published
    await collector.on_ils(late, DELIVERY)
    publish.release()
    await run

    assert publish.mailed_loans() == {"L-X": 1, "L-L": 1}
    assert await _left_behind(store) == ("L-L", "L-X")
