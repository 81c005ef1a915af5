"""The pipelined publisher answers exactly as ``js.publish`` / nats-py's KV writes do."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import cast

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import BadHeaderError, ConnectionClosedError, MaxPayloadError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import (
    APIError,
    BadRequestError,
    InvalidKeyError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoStreamResponseError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from shared.bus import fastpub, kvscan, natswire
from shared.bus.fastpub import FastKV, FastPublisher, pub_ack
from shared.bus.provision import provision
from shared.clock import JST
from shared.contracts.schedule import TriggerFired
from tests.support.nats import wait_for
from tools.localservers import NatsServer, start_nats


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


async def test_writes_sent_together_answer_each_as_alone(
    pub: FastPublisher, js: JetStreamContext
) -> None:
    """``write_all``: each write's revision or its own error, the same through ``FastKV``
    (sent together) and through nats-py's bucket (one task each)."""
    for bucket in ("mail_pending", "mail_ledger"):
        kv = await js.key_value(bucket)
        first = await kv.create("a", b"1")
        await kv.create("b", b"1")
        writers: list[kvscan.KvWrites] = [FastKV(pub, kv, bucket), kv]
        for n, writes in enumerate(writers):
            entry_a, entry_b = await kv.get("a"), await kv.get("b")
            answers = await fastpub.write_all(
                writes,
                [
                    ("a", f"v{n}".encode(), entry_a.revision or 0),
                    ("a", b"conflict", entry_a.revision or 0),  # the first moved it on
                    ("b", None, entry_b.revision or 0),  # a delete marker
                    ("bad key", b"x", 1),
                ],
            )
            assert isinstance(answers[0], int) and answers[0] > first
            assert isinstance(answers[1], KeyWrongLastSequenceError)
            assert not isinstance(answers[2], Exception)
            assert isinstance(answers[3], InvalidKeyError)
            assert (await kv.get("a")).value == f"v{n}".encode()
            with pytest.raises(KeyNotFoundError):  # deleted
                await kv.get("b")
            await kv.put("b", b"again")  # for the next writer


async def test_writes_sent_together_and_cancelled_leave_no_unread_error(
    pub: FastPublisher, nc: Client
) -> None:
    """``write_all`` cancelled while it waits for its first ack (shutdown, a stalled
    server): the other writes' answers are awaited by nobody, so they are cancelled too;
    left to the sweeper's timeout they each logged "exception was never retrieved"."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    seen: list[Msg] = []

    async def silent(msg: Msg) -> None:  # a subscriber that never answers
        seen.append(msg)

    await nc.subscribe("$KV.stall.>", cb=silent)
    fast = FastKV(pub, cast(KeyValue, None), "stall")  # the bucket is for reads only
    writes = asyncio.create_task(fast.write_all([("a", b"1", 1), ("b", b"2", 1), ("c", None, 1)]))
    await wait_for(lambda: len(seen) == 3)
    writes.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writes
    del writes
    await wait_for(lambda: not pub._pending)  # the sweeper has dropped every write
    gc.collect()  # an unread exception is reported when its future is collected
    assert reported == []


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


# What the hot path does differently from nats-py (see ``fastpub``'s docstring): the same
# answers for every ack shape, the same bytes and errors on the wire, the same reconnect
# buffering, and replies that never queue. These fail if the nats-py internals change.


def reply(data: bytes) -> Msg:
    return Msg(cast(Client, None), subject="_INBOX.x.1", data=data)


def as_js_publish(data: bytes) -> PubAck:
    """What ``js.publish`` answers for ``data``, reduced to the fields ``pub_ack`` keeps."""
    resp = json.loads(data)
    if "error" in resp:
        raise APIError.from_error(resp["error"])
    ack = PubAck.from_response(resp)
    return PubAck(stream=ack.stream, seq=ack.seq, domain=ack.domain, duplicate=ack.duplicate)


ACK_SHAPES = {
    "plain": b'{"stream":"MAIL","seq":7}',
    "duplicate": b'{"stream":"MAIL","seq":7,"duplicate": true}',
    "duplicate-unspaced": b'{"stream":"MAIL","seq":7,"duplicate":true}',
    "domain": b'{"stream":"MAIL","domain":"hub","seq":7}',
    "domain-duplicate": b'{"stream":"MAIL","domain":"hub","seq":7,"duplicate": true}',
    "domain-after-seq": b'{"stream":"MAIL","seq":7,"domain":"hub","duplicate":true}',
    "empty-name": b'{"stream":"","seq":0}',
    "escaped-name": b'{"stream":"M\\u0041IL","seq":7}',
    "quoted-name": b'{"stream":"M\\"IL","seq":7}',
    "utf8-name": '{"stream":"メール","seq":7}'.encode(),
    "white-space": b'{"stream": "MAIL", "seq": 7}',
    "other-field": b'{"stream":"MAIL","seq":7,"val":"3"}',
    "duplicate-false": b'{"stream":"MAIL","seq":7,"duplicate":false}',
    "reordered": b'{"seq":7,"stream":"MAIL"}',
    "big-seq": b'{"stream":"MAIL","seq":18446744073709551615}',
}
BAD_ACKS = {
    "api-error": b'{"error":{"code":400,"err_code":10060,"description":"expected stream"}}',
    "leading-zero": b'{"stream":"MAIL","seq":07}',
    "truncated": b'{"stream":"MAIL","seq":7',
    "not-utf8": b'{"stream":"M\xffIL","seq":7}',
    "control-char": b'{"stream":"M\x01IL","seq":7}',
}


@pytest.mark.parametrize("data", ACK_SHAPES.values(), ids=ACK_SHAPES.keys())
def test_every_ack_shape_decodes_as_js_publish_decodes_it(data: bytes) -> None:
    assert pub_ack(reply(data)) == as_js_publish(data)


@pytest.mark.parametrize("data", BAD_ACKS.values(), ids=BAD_ACKS.keys())
def test_a_bad_ack_raises_as_js_publish_raises(data: bytes) -> None:
    with pytest.raises(Exception) as theirs:
        as_js_publish(data)
    with pytest.raises(Exception) as ours:
        pub_ack(reply(data))
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


async def test_the_servers_acks_take_the_fast_path(pub: FastPublisher) -> None:
    # Not a behaviour but the reason for it: if the server's ack changes, json decodes it.
    headers = {"Nats-Msg-Id": "fast-1"}
    first = await pub.request("mail.send.fast", b"x", headers=headers)
    again = await pub.request("mail.send.fast", b"x", headers=headers)
    assert fastpub._ACK.fullmatch(first.data) and fastpub._ACK.fullmatch(again.data)
    assert pub_ack(again).duplicate is True


WIRE_CASES = {
    "no-headers": ("mail.send.x", None, b"one"),
    "empty-headers": ("mail.send.x", {}, b""),
    "msg-id": ("mail.send.x", {"Nats-Msg-Id": "fire-0001"}, b"x" * 900),
    "cas": ("$KV.mail_ledger.m1", {"Nats-Expected-Last-Subject-Sequence": "0"}, b"v"),
    "kv-delete": (
        "$KV.b.k",
        {"KV-Operation": "DEL", "Nats-Expected-Last-Subject-Sequence": "9"},
        b"",
    ),
    "untidy": ("s.t", {" Padded ": "  a\r\nb  ", " ": "skipped", "X-Name": "図書館"}, b"\r\n"),
}


@pytest.mark.parametrize("case", WIRE_CASES.values(), ids=WIRE_CASES.keys())
async def test_the_wire_writes_what_nats_py_writes(
    nc: Client, monkeypatch: pytest.MonkeyPatch, case: tuple[str, dict[str, str] | None, bytes]
) -> None:
    subject, headers, payload = case
    sent: list[bytes] = []

    async def capture(cmd: bytes, priority: bool = False) -> None:
        sent.append(cmd)

    monkeypatch.setattr(nc, "_send_command", capture)
    wire = natswire.Wire(nc)
    before = dict(nc.stats)
    await nc.publish(subject, payload, reply="_INBOX.r.1", headers=headers)
    theirs = dict(nc.stats)
    for _ in range(2):  # the second time with the header names already encoded
        await wire.publish(subject, b"_INBOX.r.1", payload, headers)
    ours = dict(nc.stats)
    assert sent == [sent[0]] * 3
    for stat in ("out_msgs", "out_bytes"):
        assert ours[stat] - theirs[stat] == 2 * (theirs[stat] - before[stat])


REFUSALS: dict[str, tuple[str, dict[str, str] | None, int, int | None]] = {
    # subject, headers, payload size, client status while publishing (None: connected)
    "empty-subject": ("", None, 1, None),
    "space-in-subject": ("a b", None, 1, None),
    "crlf-in-subject": ("a\r\nPUB x 1", None, 1, None),
    "bad-header-name": ("s", {"Bad Name": "x"}, 1, None),
    "over-max-payload": ("s", None, 1024 * 1024 + 1, None),
    "draining": ("s", None, 1, Client.DRAINING_PUBS),
    "buffer-full-while-reconnecting": ("s", None, 3 * 1024 * 1024, Client.RECONNECTING),
    "closed": ("s", None, 1, Client.CLOSED),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
async def test_the_wire_refuses_what_nats_py_refuses(
    nc: Client,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[str, dict[str, str] | None, int, int | None],
) -> None:
    subject, headers, size, status = case
    sent: list[bytes] = []

    async def capture(cmd: bytes, priority: bool = False) -> None:
        sent.append(cmd)

    monkeypatch.setattr(nc, "_send_command", capture)
    assert nc.max_payload == 1024 * 1024
    connected = nc._status
    # Both refuse before their first suspension point: no other task sees this status.
    nc._status = connected if status is None else status
    try:
        with pytest.raises(Exception) as theirs:
            await nc.publish(subject, b"x" * size, reply="_INBOX.r.1", headers=headers)
        with pytest.raises(Exception) as ours:
            await natswire.Wire(nc).publish(subject, b"_INBOX.r.1", b"x" * size, headers)
    finally:
        nc._status = connected
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)
    assert sent == []


async def test_a_refused_publish_leaves_nothing_waiting(
    pub: FastPublisher, js: JetStreamContext, nc: Client
) -> None:
    too_big = b"x" * (nc.max_payload + 1)
    with pytest.raises(MaxPayloadError):
        await js.publish("mail.send.x", too_big)
    with pytest.raises(MaxPayloadError):
        await pub.publish("mail.send.x", too_big)
    with pytest.raises(BadHeaderError):
        await pub.publish("mail.send.x", b"x", headers={"Bad Name": "x"})
    assert pub._pending == {}


async def test_a_cancelled_publish_leaves_nothing_waiting(pub: FastPublisher, nc: Client) -> None:
    await nc.subscribe("silent.z")  # interest, but never an answer
    waiting = asyncio.create_task(pub.publish("silent.z", b"x", timeout=60))
    await wait_for(lambda: pub._pending)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await wait_for(lambda: not pub._pending)  # well before its 60 s timeout
    assert (await pub.publish("mail.send.after", b"ok")).stream == "MAIL"


async def test_replies_are_routed_without_a_queue_or_task(pub: FastPublisher) -> None:
    acks = await asyncio.gather(*(pub.publish("mail.send.q", b"q") for _ in range(200)))
    assert len({a.seq for a in acks}) == 200
    sub = pub._sub
    assert sub is not None
    assert (sub.delivered, sub.pending_msgs, sub.pending_bytes) == (200, 0, 0)
    assert sub._wait_for_msgs_task is None


async def test_a_publish_made_while_reconnecting_is_sent_once_reconnected(
    fresh_nats: NatsServer,
) -> None:
    client = await nats.connect(fresh_nats.url, reconnect_time_wait=0.05, max_reconnect_attempts=-1)
    await provision(client.jetstream())
    publisher = FastPublisher(client, timeout=60.0, tick=0.05)
    await publisher.start()
    fresh_nats.stop()
    await wait_for(lambda: client.is_reconnecting)
    waiting = asyncio.create_task(publisher.publish("mail.send.later", b"buffered"))
    await wait_for(lambda: publisher._pending)
    assert client.is_reconnecting and client.pending_data_size > 0  # buffered, not sent
    server = start_nats(fresh_nats.store_dir, port=fresh_nats.port)
    try:
        ack = await waiting
        assert (await client.jetstream().get_msg("MAIL", ack.seq)).data == b"buffered"
        assert (await publisher.publish("mail.send.later", b"next")).seq == ack.seq + 1
        await publisher.close()
        await client.close()
    finally:
        server.stop()
