"""A single work item waiting in hand is kept from redelivery like a chunk.

A prompt mail, a late mail or a handed-off one waits for its carrier's admission and a
slot like the mails of a chunk. Without ``in_progress`` the server redelivered it every
``ack_wait``; each copy counted against the consumer's max_deliver, and past the server's
limit the message was dropped from pending while still in hand: its deferral's nak was
then ignored and the mail never tried again. Real NATS, the real consume loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.js import JetStreamContext

from services.mailer.delivery.chunks import ChunkSender
from services.mailer.plan.model import MailWork, decode_send
from shared.bus import consume
from shared.bus.consume import Consumer, ConsumerSpec, Delivery, Retry
from shared.bus.publish import publish
from shared.runtime.metrics import Metrics
from tests.support.nats import wait_for
from tests.unit.mailer_delivery.test_chunk_sender import _work

ACK_WAIT = 1.0


async def test_a_single_item_waiting_in_hand_is_not_redelivered(
    js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    beats: list[int] = []
    original = consume.Delivery.in_progress

    async def counted(self: Delivery) -> None:
        beats.append(self.num_delivered)
        await original(self)

    monkeypatch.setattr(consume.Delivery, "in_progress", counted)
    spec = ConsumerSpec(
        "MAIL", "mailer-send", ("mail.send.>",), max_deliver=3, ack_wait=ACK_WAIT,
        batch=8, concurrency=8, confirm_ack=False, fetch_timeout=0.2, max_ack_pending=1000,
    )  # fmt: skip
    admission = asyncio.Semaphore(1)
    await admission.acquire()  # the carrier group is full (a throttled pacer)
    calls: list[int] = []

    async def send(work: MailWork, delivery: Delivery) -> None:
        calls.append(delivery.num_delivered)
        if len(calls) == 1:
            raise Retry("deferred: 421", delay=0.2)  # as Sender._defer

    async def no_hand_off(_: Any) -> None:
        raise AssertionError("a single item is never handed off")

    chunks = ChunkSender(
        send, no_hand_off, admission=lambda group: admission, concurrency=4, ack_wait=ACK_WAIT
    )
    stop = asyncio.Event()
    consumer: Consumer[Any] = Consumer(
        js, spec, chunks.handle, service="t", metrics=Metrics("t"), decoder=decode_send
    )
    task = asyncio.create_task(consumer.run(stop))
    try:
        await publish(js, _work(1))
        # Seven beats at a third of ack_wait each: more than two ack deadlines in hand.
        await wait_for(lambda: len(beats) >= 7, timeout=30)
        info = await js.consumer_info("MAIL", "mailer-send")
        assert (info.num_redelivered, info.delivered.consumer_seq) == (0, 1)
        admission.release()  # the carrier lets it through: 421, deferred, nak'ed
        await wait_for(lambda: len(calls) >= 2, timeout=10)  # and tried again
        assert calls == [1, 2]
    finally:
        if admission.locked():
            admission.release()  # let a failing run end instead of waiting forever
        stop.set()
        await task
