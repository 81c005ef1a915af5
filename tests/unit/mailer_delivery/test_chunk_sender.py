"""The chunk handler's rules: each mail ends done or handed off, never the chunk nak'ed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from services.mailer.delivery.chunks import ChunkSender
from services.mailer.delivery.gates import GroupGates
from services.mailer.delivery.recording import to_the_end
from services.mailer.plan.model import MailWork, WorkChunk, carry
from services.mailer.plan.work import make_work
from shared.bus.consume import Delivery, Reject, Retry
from shared.contracts.base import Event
from shared.contracts.mail import CarrierGroup
from tests.unit.mailer.builders import BATCH, SATURDAY_MORNING, loan_item, online_loan


def _work(n: int) -> MailWork:
    event = online_loan([loan_item(n)], patron_id=f"P{n}", event_id=f"ev-{n:06d}")
    return make_work(
        "online_loan",
        [event],
        patron_id=f"P{n}",
        recipient=f"p{n}@example.jp",
        run_id=BATCH.batch_id,
        run_date=SATURDAY_MORNING.date(),
        batch=BATCH,
        nominal_time=SATURDAY_MORNING,
        now=SATURDAY_MORNING,
    )


def _chunk(n: int, domain: str = "example.jp") -> WorkChunk:
    works = [_work(i).model_copy(update={"recipient": f"p{i}@{domain}"}) for i in range(n)]
    chunk = carry(works, SATURDAY_MORNING)
    assert isinstance(chunk, WorkChunk)
    return chunk


class Admissions:
    def __init__(self, **limits: int) -> None:
        self.sems: dict[str, asyncio.Semaphore] = {}
        self.limits = limits

    def __call__(self, group: CarrierGroup) -> asyncio.Semaphore:
        if group not in self.sems:
            self.sems[group] = asyncio.Semaphore(self.limits.get(group, 100))
        return self.sems[group]


def _sender(
    send: Callable[[MailWork, Delivery], Awaitable[None]],
    published: Published,
    *,
    concurrency: int = 4,
    ack_wait: float = 60,
    admission: Admissions | None = None,
) -> ChunkSender:
    return ChunkSender(
        send,
        published,
        admission=admission or Admissions(),
        concurrency=concurrency,
        ack_wait=ack_wait,
    )


class FakeDelivery:
    def __init__(self) -> None:
        self.progress = 0
        self.beaten = asyncio.Event()

    async def in_progress(self) -> None:
        self.progress += 1
        if self.progress >= 2:
            self.beaten.set()


def _delivery(fake: FakeDelivery) -> Delivery:
    # ``Delivery.in_progress`` asks the raw message: the fake stands in for it.
    return Delivery("mail.send.online_loan.chunk", "chunk-x", 1, 7, raw=fake)  # type: ignore[arg-type]


class Published:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[Event] = []
        self.fail = fail

    async def __call__(self, event: Event) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.events.append(event)


async def test_mails_not_done_at_once_are_handed_off_and_the_chunk_ends() -> None:
    chunk = _chunk(5)
    outcomes = {
        chunk.works[1].mail_id: Retry("deferred: 452", delay=300),
        chunk.works[2].mail_id: Reject("cannot compose online_loan mail"),
        chunk.works[3].mail_id: KeyError("a bug"),
    }
    handled: list[str] = []

    async def send(work: MailWork, delivery: Delivery) -> None:
        handled.append(work.mail_id)
        problem = outcomes.get(work.mail_id)
        if problem is not None:
            raise problem

    published = Published()
    await _sender(send, published).handle(
        chunk, _delivery(FakeDelivery())
    )  # returns: the chunk is acked
    assert sorted(handled) == sorted(w.mail_id for w in chunk.works)
    assert sorted(e.event_id for e in published.events) == sorted(
        f"work-{w.mail_id}" for w in chunk.works[1:4]
    )
    assert all(isinstance(e, MailWork) for e in published.events)


async def test_a_hand_off_that_cannot_be_published_retries_the_chunk_after_all_ended() -> None:
    chunk = _chunk(3)
    finished: list[str] = []

    async def send(work: MailWork, delivery: Delivery) -> None:
        if work.mail_id == chunk.works[0].mail_id:
            raise Retry("deferred")
        await asyncio.sleep(0)
        finished.append(work.mail_id)

    with pytest.raises(ConnectionError):
        await _sender(send, Published(fail=True)).handle(chunk, _delivery(FakeDelivery()))
    assert sorted(finished) == sorted(w.mail_id for w in chunk.works[1:])


async def test_a_single_work_item_keeps_the_single_path() -> None:
    work = _work(1)

    async def send(w: MailWork, delivery: Delivery) -> None:
        raise Retry("deferred", delay=5)

    published = Published()
    with pytest.raises(Retry):
        await _sender(send, published, concurrency=1).handle(work, _delivery(FakeDelivery()))
    assert not published.events


async def test_mails_in_flight_are_bounded_whatever_carries_them() -> None:
    chunk = _chunk(12)
    running = 0
    most = 0
    gate = asyncio.Event()

    async def send(work: MailWork, delivery: Delivery) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        if most == 3:
            gate.set()
        await gate.wait()
        running -= 1

    await _sender(send, Published(), concurrency=3).handle(chunk, _delivery(FakeDelivery()))
    assert most == 3


async def test_a_chunk_in_hand_tells_the_server_it_is_alive_until_its_mails_end() -> None:
    chunk = _chunk(2)
    fake = FakeDelivery()

    async def send(work: MailWork, delivery: Delivery) -> None:
        await fake.beaten.wait()  # held until the chunk has said "in progress" twice

    ack_wait = timedelta(milliseconds=30).total_seconds()
    await asyncio.wait_for(
        _sender(send, Published(), concurrency=2, ack_wait=ack_wait).handle(chunk, _delivery(fake)),
        timeout=10,
    )
    assert fake.progress >= 2
    # Nothing keeps beating once the chunk has ended.
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_slow_carriers_mails_hold_only_their_groups_share_of_the_slots() -> None:
    docomo = _chunk(8, "docomo.ne.jp")
    other = _chunk(4, "example.jp")
    docomo_gate = asyncio.Event()
    others_done: list[str] = []

    async def send(work: MailWork, delivery: Delivery) -> None:
        if work.recipient.endswith("@docomo.ne.jp"):
            await docomo_gate.wait()  # docomo's pacer, held until the others are through
        else:
            others_done.append(work.mail_id)
            if len(others_done) == len(other.works):
                docomo_gate.set()

    sender = _sender(send, Published(), concurrency=3, admission=Admissions(docomo=2))
    # docomo's chunk first: without admission its mails would take all three slots.
    await asyncio.wait_for(
        asyncio.gather(
            sender.handle(docomo, _delivery(FakeDelivery())),
            sender.handle(other, _delivery(FakeDelivery())),
        ),
        timeout=10,
    )
    assert len(others_done) == 4


async def _admitted(sem: asyncio.Semaphore) -> int:
    n = 0
    while not sem.locked():
        await sem.acquire()
        n += 1
    return n


async def test_a_group_may_keep_its_connections_busy_but_never_hold_every_slot() -> None:
    table = {"docomo": 4.0, "gmail": 8.0, "other": 32.0}
    gates = GroupGates(table, {}, admission_cap=63)
    assert await _admitted(gates.admission("docomo")) == 8
    assert await _admitted(gates.admission("gmail")) == 16
    assert await _admitted(gates.admission("other")) == 63  # one slot always left
    assert await _admitted(GroupGates(table, {}).admission("other")) == 64


async def test_a_cancelled_chunk_lets_its_exchanges_end_and_cancels_the_waiting_mails() -> None:
    """SIGTERM past the grace: a mail inside its SMTP exchange and ``sent`` write ends
    them (and its outcome), a mail still waiting for a slot is cancelled, and the chunk's
    handler is cancelled (left unacked) once both have ended."""
    relay_answers, inside = asyncio.Event(), asyncio.Event()
    ended: list[str] = []

    async def exchange(work: MailWork) -> str:
        inside.set()
        await relay_answers.wait()
        return "250"

    async def send(work: MailWork, delivery: Delivery) -> None:
        reply = await to_the_end(exchange(work))
        ended.append(f"{work.mail_id} {reply}")  # the outcome would be published here

    chunk = _chunk(2)
    fake = FakeDelivery()
    handler = asyncio.create_task(
        _sender(send, Published(), concurrency=1).handle(chunk, _delivery(fake))
    )
    await inside.wait()  # the first mail holds the only slot, inside its exchange
    handler.cancel()
    await asyncio.sleep(0)  # a scheduling step: the waiting mail's cancellation lands
    assert not handler.done()  # still waiting for the exchange
    relay_answers.set()
    with pytest.raises(asyncio.CancelledError):
        await handler
    assert ended == [f"{chunk.works[0].mail_id} 250"]


async def test_a_mail_whose_slot_just_freed_does_not_start_after_the_cancel() -> None:
    """The cancellation and a freed slot in the same loop step: the waiting mail is
    cancelled before it runs, so no exchange starts once shutdown has begun (found by a
    review: the members were cancelled one step late, and this mail was then spared)."""
    chunk = _chunk(2)
    slot = asyncio.Semaphore(0)  # a connection slot, none free yet
    waiting, relay_answers = asyncio.Event(), asyncio.Event()
    started: list[str] = []

    async def exchange() -> str:
        started.append("MAIL FROM sent")
        await relay_answers.wait()
        return "250"

    async def send(work: MailWork, delivery: Delivery) -> None:
        if work is not chunk.works[0]:
            await asyncio.Event().wait()  # the other mail waits elsewhere
        waiting.set()
        async with slot:
            await to_the_end(exchange())

    handler = asyncio.create_task(
        _sender(send, Published(), concurrency=8).handle(chunk, _delivery(FakeDelivery()))
    )
    await waiting.wait()
    slot.release()  # a slot frees: the mail's wake-up is queued
    handler.cancel()  # SIGTERM past the grace, in the same loop step
    relay_answers.set()
    with pytest.raises(asyncio.CancelledError):
        await handler
    assert started == []
