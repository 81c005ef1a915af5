"""The pipelined publisher answers exactly as ``js.publish`` / nats-py's KV writes do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import (
    APIError,
    BadRequestError,
    InvalidKeyError,
    KeyWrongLastSequenceError,
    NoStreamResponseError,
    NotFoundError,
)

from shared.bus import kvscan
from shared.bus.fastpub import FastKV, FastPublisher
from shared.bus.provision import provision
from shared.clock import JST
from shared.contracts.schedule import TriggerFired
from tools.localservers import NatsServer


@pytest.fixture
async def pub(nc: Client) -> AsyncIterator[FastPublisher]:
    publisher = FastPublisher(nc, timeout=0.5, tick=0.05)
    await publisher.start()
    yield publisher
    await publisher.close()


def trigger(event_id: str) -> TriggerFired:
    at = datetime(2026, 12, 5, 9, 0, tzinfo=JST)
    return TriggerFired(
        event_id=event_id,
        occurred_at=at,
        trigger="daily-overdue",
        occurrence_id=f"daily-overdue:{event_id}",
        nominal_time=at,
        run_date=date(2026, 12, 5),
    )


async def test_an_ack_names_the_stream_and_sequence(
    pub: FastPublisher, js: JetStreamContext
) -> None:
    first = await pub.publish("mail.send.test", b"one")
    second = await js.publish("mail.send.test", b"two")
    third = await pub.publish("mail.send.test", b"three")
    assert (first.stream, first.seq, first.duplicate) == ("MAIL", 1, None)
    assert (second.seq, third.seq) == (2, 3)
    assert (await js.get_msg("MAIL", 3)).data == b"three"


async def test_many_publishes_in_flight_each_get_their_own_ack(
    pub: FastPublisher, js: JetStreamContext
) -> None:
    acks = await asyncio.gather(*(pub.publish("mail.send.x", b"%d" % n) for n in range(500)))
    assert sorted(a.seq for a in acks) == list(range(1, 501))
    for n in (0, 123, 499):
        assert (await js.get_msg("MAIL", acks[n].seq)).data == b"%d" % n
    assert (await js.stream_info("MAIL")).state.messages == 500


async def test_the_same_event_id_is_stored_once(pub: FastPublisher, js: JetStreamContext) -> None:
    event = trigger("fire-0001")
    first = await pub.publish_event(event)
    again = await pub.publish_event(event)
    assert not first.duplicate
    assert again.duplicate and again.seq == first.seq
    stored = await js.get_msg("SCHEDULE", first.seq)
    assert TriggerFired.model_validate_json(stored.data or b"") == event
    assert stored.headers is not None and stored.headers["Nats-Msg-Id"] == "fire-0001"


async def test_a_jetstream_error_is_the_exception_js_publish_raises(
    pub: FastPublisher, js: JetStreamContext
) -> None:
    headers = {"Nats-Expected-Stream": "NOT-MAIL"}
    with pytest.raises(APIError) as theirs:
        await js.publish("mail.send.x", b"x", headers=dict(headers))
    with pytest.raises(BadRequestError) as ours:
        await pub.publish("mail.send.x", b"x", headers=headers)
    assert type(ours.value) is type(theirs.value)
    assert (ours.value.code, ours.value.err_code) == (theirs.value.code, theirs.value.err_code)
    assert ours.value.description == theirs.value.description


async def test_no_stream_on_the_subject_is_no_stream_response(pub: FastPublisher) -> None:
    with pytest.raises(NoStreamResponseError):
        await pub.publish("nobody.listens.here", b"x")


async def test_a_silent_responder_times_out(pub: FastPublisher, nc: Client) -> None:
    silent = await nc.subscribe("silent.x")  # interest, but never an answer
    with pytest.raises(NatsTimeoutError) as caught:
        await pub.publish("silent.x", b"x", timeout=0.1)
    assert isinstance(caught.value, asyncio.TimeoutError)
    await silent.unsubscribe()
    assert (await pub.publish("mail.send.after", b"ok")).stream == "MAIL"


async def test_a_closed_connection_fails_waiting_and_new_publishes(
    fresh_nats: NatsServer,
) -> None:
    client = await nats.connect(fresh_nats.url)
    await provision(client.jetstream())
    await client.subscribe("silent.y")
    publisher = FastPublisher(client, timeout=30.0, tick=0.05)
    await publisher.start()
    waiting = asyncio.create_task(publisher.publish("silent.y", b"x"))
    await asyncio.sleep(0)  # let it send; the answer never comes
    await client.close()
    with pytest.raises(ConnectionClosedError):
        await waiting
    with pytest.raises(ConnectionClosedError):
        await publisher.publish("mail.send.x", b"x")
    await publisher.close()


async def test_publishing_after_close_is_refused(pub: FastPublisher) -> None:
    await pub.close()
    with pytest.raises(ConnectionClosedError):
        await pub.publish("mail.send.x", b"x")


async def test_kv_create_and_update_follow_nats_py(
    pub: FastPublisher, js: JetStreamContext
) -> None:
    kv = await js.key_value("mail_ledger")
    fast = FastKV(pub, kv, "mail_ledger")
    rev = await fast.create("m1", b"v1")
    entry = await kv.get("m1")
    assert (entry.value, entry.revision) == (b"v1", rev)
    with pytest.raises(KeyWrongLastSequenceError):
        await fast.create("m1", b"again")
    with pytest.raises(KeyWrongLastSequenceError):
        await fast.update("m1", b"stale", last=rev - 1 if rev > 1 else rev + 5)
    newer = await fast.update("m1", b"v2", last=rev)
    assert newer > rev
    assert (await kv.get("m1")).value == b"v2"
    with pytest.raises(KeyWrongLastSequenceError):
        await kv.update("m1", b"stale", last=rev)  # nats-py agrees on the conflict


async def test_kv_create_over_a_deleted_key_succeeds(
    pub: FastPublisher, js: JetStreamContext
) -> None:
    kv = await js.key_value("mail_ledger")
    fast = FastKV(pub, kv, "mail_ledger")
    await fast.create("m2", b"v1")
    await kv.delete("m2")
    rev = await fast.create("m2", b"v2")
    entry = await kv.get("m2")
    assert (entry.value, entry.revision) == (b"v2", rev)


async def test_kv_rejects_keys_nats_py_rejects(pub: FastPublisher, js: JetStreamContext) -> None:
    fast = FastKV(pub, await js.key_value("mail_ledger"), "mail_ledger")
    for key in ("", ".a", "a.", "a b", "a*"):
        with pytest.raises(InvalidKeyError):
            await fast.update(key, b"x", last=0)


async def test_kv_delete_with_last_follows_nats_py(
    pub: FastPublisher, js: JetStreamContext
) -> None:
    kv = await js.key_value("mail_pending")
    fast = FastKV(pub, kv, "mail_pending")
    rev = await fast.create("hr.P1", b"v1")
    with pytest.raises(APIError) as theirs:
        await kv.delete("hr.P1", last=rev + 7)
    with pytest.raises(APIError) as ours:
        await fast.delete("hr.P1", last=rev + 7)
    assert type(ours.value) is type(theirs.value)
    assert ours.value.err_code == theirs.value.err_code == 10071
    assert await fast.delete("hr.P1", last=rev) is True
    assert await fast.create("hr.P1", b"again") > rev  # over the delete marker


async def test_an_unreadable_reply_raises_in_its_caller(pub: FastPublisher, nc: Client) -> None:
    async def answer(msg: Msg) -> None:
        await msg.respond(b"{not json")

    await nc.subscribe("garbled.x", cb=answer)
    with pytest.raises(ValueError):  # json's decode error, not a publish waiting forever
        await pub.publish("garbled.x", b"x")


async def test_last_sequence_is_the_stream_info_answer(
    pub: FastPublisher, js: JetStreamContext
) -> None:
    kv = await js.create_key_value(bucket="lastseq")
    assert (
        await pub.last_sequence("KV_lastseq") == 0 == await kvscan.last_sequence(js, "KV_lastseq")
    )
    await kv.put("a", b"1")
    revision = await kv.put("b", b"2")
    assert await pub.last_sequence("KV_lastseq") == revision
    assert await kvscan.last_sequence(js, "KV_lastseq") == revision
    with pytest.raises(NotFoundError):
        await pub.last_sequence("KV_no_such_bucket")
