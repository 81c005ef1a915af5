"""Edges of the consume loop where a message used to end with no outcome (real NATS).

- a dead letter too large for one NATS message (the payload JSON-escaped past 1 MB);
- a handler raising CancelledError that its own task did not receive;
- a message waiting for a free handler, redelivered meanwhile (each copy counted against
  max_deliver, and past the server's limit the retried message was never redelivered);
- a dead letter's id reused after the stream is re-created (dropped as a duplicate).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from shared.bus.consume import Consumer, ConsumerSpec, Delivery, Retry
from shared.bus.provision import provision
from shared.bus.publish import publish
from shared.contracts import DeadLetter, LoanReturned
from shared.runtime.metrics import Metrics
from tests.support.nats import stream_messages, wait_for

SPEC = ConsumerSpec(
    stream="ILS",
    durable="rv",
    filter_subjects=("ils.loan.returned",),
    max_deliver=1,
    ack_wait=1.0,
    retry_delays=(0.05,),
    fetch_timeout=0.2,
)


def _returned(loan_id: str) -> LoanReturned:
    now = datetime.now(UTC)
    return LoanReturned(occurred_at=now, patron_id="P1", loan_id=loan_id, returned_at=now)


async def _letters(js: JetStreamContext) -> list[DeadLetter]:
    msgs = await stream_messages(js, "DEADLETTER", "deadletter.>")
    return [DeadLetter.model_validate_json(m.data) for m in msgs]  # type: ignore[attr-defined]


async def _advisories(js: JetStreamContext) -> list[object]:
    return await stream_messages(js, "DEADLETTER", "$JS.EVENT.ADVISORY.>")


def _count(metrics: Metrics, durable: str, outcome: str) -> float:
    return metrics.consumed.labels(consumer=durable, outcome=outcome)._value.get()


async def test_a_payload_escaping_past_max_payload_is_dead_lettered_without_it(
    js: JetStreamContext,
) -> None:
    """200 kB of U+0001 is valid UTF-8 (so payload_text), JSON-escaped 6x = 1.2 MB > the
    server's 1 MB max_payload: the dead-letter publish raises MaxPayloadError every time."""
    spec = dataclasses.replace(SPEC, durable="rv-big")
    metrics = Metrics("t")

    async def handler(_: object, __: Delivery) -> None:
        raise AssertionError("not called")

    consumer: Consumer[Any] = Consumer(js, spec, handler, service="t", metrics=metrics)
    task = asyncio.create_task(consumer.run(stop := asyncio.Event()))
    await js.publish("ils.loan.returned", b"\x01" * 200_000)  # accepted: < 1 MB

    async def settled() -> bool:
        return bool(await _letters(js)) or bool(await _advisories(js))

    await wait_for(settled, timeout=30)
    stop.set()
    await task
    assert await _letters(js), "message reached the server's max_deliver with no dead letter"


async def test_a_handler_raising_a_cancelled_error_it_did_not_receive_is_dead_lettered(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    """The handler awaits something that was cancelled (not the handler's task itself)."""
    caplog.set_level(logging.INFO)
    spec = dataclasses.replace(SPEC, durable="rv-cancel")
    metrics = Metrics("t")
    calls: list[int] = []

    async def handler(_: LoanReturned, d: Delivery) -> None:
        calls.append(d.num_delivered)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.cancel()
        await fut  # raises CancelledError although nobody cancels this task

    consumer: Consumer[Any] = Consumer(js, spec, handler, service="t", metrics=metrics)
    task = asyncio.create_task(consumer.run(stop := asyncio.Event()))
    await publish(js, _returned("L-cancel"))

    async def settled() -> bool:
        return bool(await _letters(js)) or bool(await _advisories(js))

    await wait_for(settled, timeout=30)
    assert not task.done()
    stop.set()
    await task
    assert await _letters(js), "handler raised; message ended with no dead letter"
    assert _count(metrics, "rv-cancel", "dead_letter") == 1


async def test_a_message_waiting_for_a_handler_keeps_its_deliveries(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrency 1 < batch: B waits for the handler behind A for over an ack deadline.
    It is kept from redelivery meanwhile (no copies counted against max_deliver), then
    retried and dead-lettered by the loop at its own max_deliver, with the reason."""
    caplog.set_level(logging.INFO, logger="shared.bus.consume")
    spec = dataclasses.replace(SPEC, durable="rv-inhand", max_deliver=2, batch=4, concurrency=1)
    b_seq = (await publish(js, _returned("A"))).seq + 1
    assert (await publish(js, _returned("B"))).seq == b_seq
    beats: list[int] = []
    original = Msg.in_progress

    async def counted(self: Msg) -> None:
        beats.append(self.metadata.sequence.stream)
        await original(self)

    monkeypatch.setattr(Msg, "in_progress", counted)
    seen: list[tuple[str, int]] = []

    async def handler(event: LoanReturned, d: Delivery) -> None:
        seen.append((event.loan_id, d.num_delivered))
        if event.loan_id == "A":  # a long, legitimate handler: 5 beats of B's at ack_wait/3
            await wait_for(lambda: beats.count(b_seq) >= 5, timeout=30)
            return
        raise Retry("carrier busy")

    consumer: Consumer[Any] = Consumer(js, spec, handler, service="t", metrics=Metrics("t"))
    task = asyncio.create_task(consumer.run(stop := asyncio.Event()))
    await wait_for(lambda: _has_letters(js), timeout=30)
    stop.set()
    await task
    drops = [
        r
        for r in caplog.records
        if r.getMessage() == "consumer.redelivered_in_hand"
        and getattr(r, "stream_seq", None) == b_seq
    ]
    assert drops == []
    assert seen == [("A", 1), ("B", 1), ("B", 2)]
    (letter,) = await _letters(js)
    assert letter.deliveries == 2 and "carrier busy" in letter.reason


async def _has_letters(js: JetStreamContext) -> bool:
    return bool(await _letters(js))


async def test_dead_letters_of_a_recreated_stream_are_all_kept(
    js: JetStreamContext,
) -> None:
    """The dead letter's event_id (its Nats-Msg-Id) is dl-<stream>-<seq>-<durable>: after a
    re-provisioned stream restarts at seq 1, another message's dead letter is a duplicate
    in the DEADLETTER window (2 days), dropped by the server, and the message is term'd."""
    spec = dataclasses.replace(SPEC, durable="rv-dup")

    async def handler(_: object, __: Delivery) -> None:
        raise AssertionError("not called")

    async def dead_letter_one(payload: bytes) -> None:
        consumer: Consumer[Any] = Consumer(js, spec, handler, service="t", metrics=Metrics("t"))
        task = asyncio.create_task(consumer.run(stop := asyncio.Event()))
        await js.publish("ils.loan.returned", payload)

        async def done() -> bool:
            try:
                info = await js.consumer_info("ILS", "rv-dup")
            except NotFoundError:  # the loop has not declared its consumer yet
                return False
            return info.num_ack_pending == 0 and info.delivered.stream_seq >= 1

        await wait_for(done, timeout=20)
        stop.set()
        await task

    await dead_letter_one(b"first bad payload")
    await js.delete_stream("ILS")
    await provision(js)  # the stream is declared anew: sequences restart at 1
    await dead_letter_one(b"second, different bad payload")
    payloads = [letter.payload() for letter in await _letters(js)]
    assert b"second, different bad payload" in payloads, payloads
