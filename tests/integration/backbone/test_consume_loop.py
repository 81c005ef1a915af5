"""The one consume loop: every message gets an explicit outcome, on a real nats-server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from shared.bus.consume import Consumer, ConsumerSpec, Delivery, Reject, Retry
from shared.bus.provision import provision
from shared.bus.publish import publish
from shared.contracts import DeadLetter, LoanReturned
from shared.runtime.metrics import Metrics
from tests.support.nats import stream_messages, wait_for
from tools.localservers import start_nats

SPEC = ConsumerSpec(
    stream="ILS",
    durable="test-returned",
    filter_subjects=("ils.loan.returned",),
    max_deliver=3,
    retry_delays=(0.05,),
    fetch_timeout=0.2,
)


def _returned(loan_id: str = "L1") -> LoanReturned:
    now = datetime.now(UTC)
    return LoanReturned(occurred_at=now, patron_id="P1", loan_id=loan_id, returned_at=now)


async def _run(
    js: JetStreamContext, handler: Callable[[Any, Delivery], Awaitable[None]]
) -> tuple[asyncio.Event, asyncio.Task[None], Metrics]:
    stop = asyncio.Event()
    metrics = Metrics("test")
    consumer: Consumer[Any] = Consumer(js, SPEC, handler, service="test", metrics=metrics)
    return stop, asyncio.create_task(consumer.run(stop)), metrics


async def _dead_letters(js: JetStreamContext) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(m.data) for m in await stream_messages(js, "DEADLETTER")]  # type: ignore[attr-defined]


async def _wait_for_one_dead_letter(js: JetStreamContext) -> None:
    async def lettered() -> bool:
        return len(await _dead_letters(js)) == 1

    await wait_for(lettered)


async def test_an_invalid_event_is_dead_lettered_with_the_field_named(js: JetStreamContext) -> None:
    handled: list[object] = []

    async def handler(event: object, _: Delivery) -> None:
        handled.append(event)

    stop, task, _ = await _run(js, handler)
    bad = {"event_id": "bad-000001", "occurred_at": "2026-12-01T10:00:00+09:00", "patron_id": "P1"}
    await js.publish("ils.loan.returned", json.dumps(bad).encode())

    await _wait_for_one_dead_letter(js)
    stop.set()
    await task
    [letter] = await _dead_letters(js)
    assert handled == []
    assert letter.original_subject == "ils.loan.returned"
    assert letter.reason == "payload failed validation"
    assert "loan_id: Field required" in letter.errors
    assert json.loads(letter.payload()) == bad


async def test_a_rejected_event_is_dead_lettered_once_with_the_reason(js: JetStreamContext) -> None:
    async def handler(event: LoanReturned, _: Delivery) -> None:
        raise Reject("loan unknown to the mailer", errors=[f"loan_id: {event.loan_id}"])

    stop, task, metrics = await _run(js, handler)
    await publish(js, _returned("L-404"))

    await _wait_for_one_dead_letter(js)
    stop.set()
    await task
    [letter] = await _dead_letters(js)
    assert letter.reason == "loan unknown to the mailer"
    assert letter.errors == ["loan_id: L-404"]
    assert metrics.consumed.labels(consumer=SPEC.durable, outcome="dead_letter")._value.get() == 1


async def test_retries_are_bounded_and_end_in_a_dead_letter(js: JetStreamContext) -> None:
    deliveries: list[int] = []

    async def handler(_: LoanReturned, delivery: Delivery) -> None:
        deliveries.append(delivery.num_delivered)
        raise Retry("SMTP relay unavailable")

    stop, task, _ = await _run(js, handler)
    await publish(js, _returned())

    await _wait_for_one_dead_letter(js)
    stop.set()
    await task
    assert deliveries == [1, 2, 3]
    [letter] = await _dead_letters(js)
    assert letter.reason == "gave up after 3 deliveries: SMTP relay unavailable"


async def test_an_unexpected_error_is_retried_not_acked(js: JetStreamContext) -> None:
    calls: list[int] = []

    async def handler(_: LoanReturned, delivery: Delivery) -> None:
        calls.append(delivery.num_delivered)
        if delivery.num_delivered == 1:
            raise RuntimeError("bug")

    stop, task, _ = await _run(js, handler)
    await publish(js, _returned())
    await wait_for(lambda: calls == [1, 2])
    stop.set()
    await task
    assert await _dead_letters(js) == []


async def test_publishing_the_same_event_twice_stores_it_once(js: JetStreamContext) -> None:
    event = _returned()
    first = await publish(js, event)
    second = await publish(js, event)
    assert second.duplicate and second.seq == first.seq


@pytest.mark.parametrize("payload", [b"\xff\xfe not json", b"[]"])
async def test_undecodable_bytes_are_kept_in_the_dead_letter(
    js: JetStreamContext, payload: bytes
) -> None:
    async def handler(_: object, __: Delivery) -> None:
        raise AssertionError("must not be called")

    stop, task, _ = await _run(js, handler)
    await js.publish("ils.loan.returned", payload)

    await _wait_for_one_dead_letter(js)
    stop.set()
    await task
    [letter] = await _dead_letters(js)
    assert letter.payload() == payload


async def test_a_nats_restart_while_a_handler_finishes_loses_nothing_and_kills_nothing(
    tmp_path: Path,
) -> None:
    server = start_nats(tmp_path / "nats")
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        js = nc.jetstream()
        await provision(js)
        await publish(js, _returned("L-blip"))
        seen: list[int] = []
        first, gate = asyncio.Event(), asyncio.Event()

        async def handler(_: LoanReturned, delivery: Delivery) -> None:
            seen.append(delivery.num_delivered)
            if len(seen) == 1:
                first.set()
                await gate.wait()

        spec = dataclasses.replace(SPEC, durable="test-blip", ack_wait=1.0)
        stop, metrics = asyncio.Event(), Metrics("test")
        consumer: Consumer[Any] = Consumer(js, spec, handler, service="test", metrics=metrics)
        task = asyncio.create_task(consumer.run(stop))
        await asyncio.wait_for(first.wait(), 20)

        server.stop()  # NATS goes away while the handler finishes: its ack cannot be sent
        gate.set()

        def counted(outcome: str) -> float:
            return metrics.consumed.labels(consumer="test-blip", outcome=outcome)._value.get()

        await wait_for(lambda: counted("outcome_failed") == 1, timeout=20)
        server = start_nats(server.store_dir, port=server.port)  # back, same store
        await wait_for(lambda: counted("ack") == 1, timeout=30)
        assert not task.done()  # the loop survived the outage
        assert seen == [1, 2]  # redelivered after ack_wait, handled again, acked
        stop.set()
        await task
    finally:
        await nc.close()
        server.stop()


async def test_a_message_the_server_stops_redelivering_is_kept_in_the_dead_letter_stream(
    js: JetStreamContext,
) -> None:
    # A consumer whose deliveries never get an outcome (as in a crash loop) reaches the
    # server's max_deliver: the server stops silently, but its advisory is kept.
    await publish(js, _returned("L-crashloop"))
    await js.add_consumer(
        "ILS",
        ConsumerConfig(
            durable_name="crash-loop",
            filter_subject="ils.loan.returned",
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=1.0,
            max_deliver=1,
        ),
    )
    sub = await js.pull_subscribe_bind("crash-loop", stream="ILS")
    [msg] = await sub.fetch(1, timeout=5)  # delivered once, never acked

    async def advised() -> bool:
        return bool(await stream_messages(js, "DEADLETTER", "$JS.EVENT.ADVISORY.>"))

    await wait_for(advised, timeout=20)
    [advisory] = await stream_messages(js, "DEADLETTER", "$JS.EVENT.ADVISORY.>")
    body = json.loads(advisory.data)  # type: ignore[attr-defined]
    assert (body["stream"], body["consumer"]) == ("ILS", "crash-loop")
    assert body["stream_seq"] == msg.metadata.sequence.stream
    await sub.unsubscribe()


async def test_a_deleted_durable_consumer_is_declared_again(js: JetStreamContext) -> None:
    handled: list[str] = []
    started = asyncio.Event()

    async def handler(event: LoanReturned, _: Delivery) -> None:
        handled.append(event.loan_id)
        started.set()

    stop, task, _ = await _run(js, handler)
    await publish(js, _returned("L-before"))
    await asyncio.wait_for(started.wait(), 20)
    await js.delete_consumer("ILS", SPEC.durable)  # an operator, or a re-provisioned stream

    await publish(js, _returned("L-after"))
    await wait_for(lambda: "L-after" in handled, timeout=30)
    assert not task.done()
    stop.set()
    await task
    # The new consumer starts from the stream's beginning (DeliverPolicy.ALL): what was
    # handled before may come again, which the idempotent handlers absorb.
    assert handled[0] == "L-before" and handled.count("L-after") == 1


async def test_one_slow_message_does_not_hold_the_messages_after_it(js: JetStreamContext) -> None:
    """A throttled carrier's mail waits in its handler: the loop keeps pulling and handling
    the rest (with a batch of 4, the 11 after it) instead of waiting for its whole batch."""
    spec = dataclasses.replace(SPEC, durable="test-slow-one", batch=4, concurrency=4)
    release = asyncio.Event()
    handled: list[str] = []

    async def handler(event: LoanReturned, _: Delivery) -> None:
        if event.loan_id == "slow":
            await release.wait()
        handled.append(event.loan_id)

    stop = asyncio.Event()
    consumer: Consumer[Any] = Consumer(js, spec, handler, service="test", metrics=Metrics("t"))
    task = asyncio.create_task(consumer.run(stop))
    for loan in ["slow", *(f"L{n}" for n in range(11))]:
        await publish(js, _returned(loan))
    await wait_for(lambda: len(handled) == 11)  # all but the slow one, while it still waits
    assert "slow" not in handled
    release.set()
    await wait_for(lambda: "slow" in handled)
    stop.set()
    await task


async def test_a_cancelled_loop_cancels_its_messages_in_hand_and_acks_none(
    js: JetStreamContext,
) -> None:
    spec = dataclasses.replace(SPEC, durable="test-cancel", batch=4, concurrency=4)
    started = asyncio.Event()
    cancelled: list[str] = []

    async def handler(event: LoanReturned, _: Delivery) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # never returns by itself
        except asyncio.CancelledError:
            cancelled.append(event.loan_id)
            raise

    consumer: Consumer[Any] = Consumer(js, spec, handler, service="test", metrics=Metrics("t"))
    task = asyncio.create_task(consumer.run(asyncio.Event()))
    await publish(js, _returned("stuck"))
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled == ["stuck"]
    info = await js.consumer_info("ILS", "test-cancel")
    assert info.num_ack_pending == 1  # not acked: the server redelivers it


async def test_a_message_redelivered_while_in_hand_is_not_handled_twice_alongside(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    """The handler outlasts ``ack_wait``: the server redelivers, the loop (pulling on) gets
    the copy while the first delivery is still in hand, and drops it."""
    spec = dataclasses.replace(
        SPEC, durable="test-in-hand", batch=4, concurrency=2, ack_wait=1.0, max_deliver=10
    )
    release = asyncio.Event()
    calls: list[int] = []

    async def handler(_: LoanReturned, delivery: Delivery) -> None:
        calls.append(delivery.num_delivered)
        await release.wait()

    caplog.set_level(logging.INFO, logger="shared.bus.consume")
    consumer: Consumer[Any] = Consumer(js, spec, handler, service="test", metrics=Metrics("t"))
    task = asyncio.create_task(consumer.run(stop := asyncio.Event()))
    await publish(js, _returned("long"))
    await wait_for(
        lambda: any(r.getMessage() == "consumer.redelivered_in_hand" for r in caplog.records)
    )
    assert calls == [1]
    release.set()

    async def settled() -> bool:
        return (await js.consumer_info("ILS", "test-in-hand")).num_ack_pending == 0

    await wait_for(settled)
    stop.set()
    await task
    assert calls == [1]


async def test_an_exception_escaping_a_handler_stops_the_loop(
    js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Consumer[Any], msg: Any) -> None:
        raise RuntimeError("escaped")

    monkeypatch.setattr(Consumer, "handle", broken)
    consumer: Consumer[Any] = Consumer(
        js,
        dataclasses.replace(SPEC, durable="test-escape"),
        _never,
        service="t",
        metrics=Metrics("t"),
    )
    task = asyncio.create_task(consumer.run(asyncio.Event()))
    await publish(js, _returned("boom"))
    with pytest.raises(RuntimeError, match="escaped"):
        await asyncio.wait_for(task, 10)


async def _never(_: LoanReturned, __: Delivery) -> None:
    raise AssertionError("not called")


def test_max_ack_pending_can_make_room_for_long_deferrals() -> None:
    assert SPEC.config().max_ack_pending == 256
    assert dataclasses.replace(SPEC, max_ack_pending=100_000).config().max_ack_pending == 100_000
