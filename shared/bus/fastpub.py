"""Pipelined JetStream publishes: one reply subscription, one plain future per publish.

``js.publish`` goes through nats-py's ``Client.request``: a NUID plus random token bytes
per request, an ``asyncio.wait_for`` (a wrapper and a timer handle) per request, and a
done-callback to clean the response map. On a hot path doing several publishes per
message that machinery costs more CPU than the publish itself. ``FastPublisher`` keeps one
wildcard reply subscription per connection, sends each publish with the reply subject
``<inbox>.<n>`` and awaits a plain future that its reply resolves. Timeouts are enforced
by one sweeper task for all publishes (every ``tick`` seconds), not a timer each: a
publish fails with ``nats.errors.TimeoutError`` between ``timeout`` and
``timeout + tick`` seconds after it was sent.

Results and errors are those of ``js.publish``: a ``PubAck``; ``APIError.from_error``'s
exception types for a JetStream error; ``NoStreamResponseError`` when no stream listens on
the subject (the server's "no responders" status); ``ConnectionClosedError`` once the
connection is closed; before sending, what ``Client.publish`` raises (``BadSubjectError``,
``BadHeaderError``, ``MaxPayloadError``, ``ConnectionDrainingError``, and while
reconnecting, when the buffer is full, ``OutboundBufferLimitError``); a publish made while
reconnecting is buffered and sent once reconnected. ``FastKV`` does a KV bucket's writes
the same way, with nats-py's ``create`` / ``update`` semantics
(``KeyWrongLastSequenceError`` on a compare-and-set conflict, a create over a deleted key
succeeds) and ``delete``.

Per publish the client also skips what a generic client does for any message: the HPUB
line is written with pre-encoded header names (``natswire.Wire``), replies are routed
synchronously by the connection's reader instead of through a subscription queue and task
(``natswire.Replies``), and the common ack shapes are parsed without ``json``
(``pub_ack``). The nats-py internals this needs are all in ``shared/bus/natswire.py``;
``tests/integration/backbone/test_fastpub.py`` fails if they change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import (
    ConnectionClosedError,
)
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import PubAck
from nats.js.errors import (
    APIError,
    InvalidKeyError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoStreamResponseError,
)
from nats.js.kv import KV_DEL, KV_OP, KeyValue

from shared.bus.kvscan import WRONG_LAST_SEQUENCE, CasWrite, KvWrites, cas_delete
from shared.bus.natswire import Replies, Wire
from shared.bus.publish import MSG_ID, encode
from shared.contracts.base import Event

EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
_STATUS = "Status"
_NO_RESPONDERS = "503"
_VALID_KEY = re.compile(r"[-/_=.a-zA-Z0-9]+")
# The acks nats-server writes for a stored message (2.15.1, checked by a test):
# {"stream":"S","seq":1}, {"stream":"S","domain":"D","seq":1}, each may end with
# ,"duplicate": true (also matched without the space). Names: printable ASCII but '"' and
# backslash. Anything else (an escape, other characters or spacing, another field, an error)
# is left to ``json``.
_NAME = rb"([\x20\x21\x23-\x5b\x5d-\x7e]*)"
_ACK = re.compile(
    rb'\{"stream":"' + _NAME + rb'",(?:"domain":"' + _NAME + rb'",)?'
    rb'"seq":(0|[1-9][0-9]*)(,"duplicate": ?true)?\}'
)

_Waiter = tuple["asyncio.Future[Msg]", float]


class FastPublisher:
    """JetStream publishes over one reply subscription; ``start`` before use."""

    def __init__(self, nc: Client, *, timeout: float = 5.0, tick: float = 0.25) -> None:
        self._nc = nc
        self._wire = Wire(nc)
        self._timeout = timeout
        self._tick = tick
        self._prefix = ""
        self._reply_prefix = b""
        self._next = 0
        self._pending: dict[str, _Waiter] = {}
        self._sub: Subscription | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._prefix = self._nc.new_inbox() + "."
        self._reply_prefix = self._prefix.encode()
        self._sub = await Replies.subscribe(self._nc, self._prefix + "*", self._on_reply)
        self._sweeper = asyncio.create_task(self._sweep())

    async def close(self) -> None:
        """Stop listening; publishes still waiting fail with ``ConnectionClosedError``."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        sub, self._sub = self._sub, None
        if sub is not None and not self._nc.is_closed:
            with contextlib.suppress(ConnectionClosedError):
                await sub.unsubscribe()
        self._fail_all()

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> PubAck:
        """Publish and wait for the stream's ack (as ``js.publish``)."""
        return pub_ack(await self.request(subject, payload, headers=headers, timeout=timeout))

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Msg:
        """Send and wait for the one reply (a JetStream ack or API answer), undecoded."""
        return await (await self.send(subject, payload, headers=headers, timeout=timeout))

    async def send(
        self,
        subject: str,
        payload: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> asyncio.Future[Msg]:
        """Send now; the future of the one reply (``request`` without the wait). Sending
        many and then awaiting their futures in turn costs no task per message."""
        if self._sub is None:
            raise ConnectionClosedError
        self._next += 1
        token = str(self._next)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Msg] = loop.create_future()
        self._pending[token] = (future, loop.time() + (timeout or self._timeout))
        try:
            reply = self._reply_prefix + token.encode()
            await self._wire.publish(subject, reply, payload, headers)
        except BaseException:
            self._pending.pop(token, None)
            raise
        return future

    async def last_sequence(self, stream: str) -> int:
        """The stream's last sequence, 0 when it holds no message (``kvscan.last_sequence``
        without decoding the whole stream info)."""
        resp = json.loads((await self.request(f"$JS.API.STREAM.INFO.{stream}")).data)
        error = resp.get("error")
        if error is not None:
            APIError.from_error(error)  # raises the matching APIError subclass
        state = resp["state"]
        return int(state["last_seq"]) if state.get("messages") else 0

    async def publish_event(self, event: Event, *, timeout: float | None = None) -> PubAck:
        """``shared.bus.publish.publish`` over this publisher: ``event_id`` as Nats-Msg-Id."""
        return await self.publish(
            event.subject(), encode(event), headers={MSG_ID: event.event_id}, timeout=timeout
        )

    def _on_reply(self, msg: Msg) -> None:
        # Called by the connection's reader for each reply: it must not raise.
        waiter = self._pending.pop(msg.subject[len(self._prefix) :], None)
        if waiter is None or waiter[0].done():
            return  # timed out, or its caller was cancelled
        waiter[0].set_result(msg)  # decoded by the caller: an unreadable one raises there

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._tick)  # one timer for every publish in flight
            if self._nc.is_closed:
                self._fail_all()
                continue
            now = loop.time()
            late = [t for t, (f, deadline) in self._pending.items() if deadline <= now or f.done()]
            for token in late:
                future, _ = self._pending.pop(token)
                if not future.done():
                    future.set_exception(NatsTimeoutError())

    def _fail_all(self) -> None:
        pending, self._pending = self._pending, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(ConnectionClosedError())


def pub_ack(msg: Msg) -> PubAck:
    """The ``PubAck`` of a JetStream reply; raises what ``js.publish`` raises for it."""
    if not msg.data:
        status = (msg.headers or {}).get(_STATUS)
        if status == _NO_RESPONDERS:
            raise NoStreamResponseError
        raise APIError(code=int(status) if status and status.isdigit() else None)
    known = _ACK.fullmatch(msg.data)
    if known is not None:
        stream, domain, seq, duplicate = known.groups()
        return PubAck(
            stream=stream.decode(),
            seq=int(seq),
            domain=None if domain is None else domain.decode(),
            duplicate=True if duplicate else None,
        )
    resp = json.loads(msg.data)
    error = resp.get("error")
    if error is not None:
        APIError.from_error(error)  # raises the matching APIError subclass
    return PubAck(
        stream=resp["stream"],
        seq=resp["seq"],
        domain=resp.get("domain"),
        duplicate=resp.get("duplicate"),
    )


class FastKV:
    """Writes to one KV bucket through a ``FastPublisher``; reads stay on ``kv``."""

    def __init__(self, publisher: FastPublisher, kv: KeyValue, bucket: str) -> None:
        self._pub = publisher
        self._kv = kv
        self._prefix = f"$KV.{bucket}."

    async def create(self, key: str, value: bytes) -> int:
        """Add ``key`` if it does not exist (or was deleted); its revision."""
        try:
            return await self.update(key, value, last=0)
        except KeyWrongLastSequenceError:
            # As nats-py: a delete marker is a revision too; creating over it is allowed.
            try:
                await self._kv.get(key)
            except KeyNotFoundError as gone:
                if gone.entry is None or gone.entry.revision is None:
                    raise
                return await self.update(key, value, last=gone.entry.revision)
            raise

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        """Write ``key`` iff its latest revision is ``last`` (0: it must not exist)."""
        if not valid_key(key):
            raise InvalidKeyError(key)
        headers = {EXPECTED_LAST_SUBJECT_SEQUENCE: str(last or 0)}
        try:
            ack = await self._pub.publish(self._prefix + key, value, headers=headers)
        except APIError as exc:
            if exc.err_code in WRONG_LAST_SEQUENCE:
                raise KeyWrongLastSequenceError(description=exc.description) from exc
            raise
        return ack.seq

    async def write_all(self, writes: Sequence[CasWrite]) -> list[int | Exception]:
        """Compare-and-set writes sent together, then their acks awaited in turn: for each,
        its new revision, or what ``update`` (a value) or ``cas_delete`` (``None``: a delete
        marker) raises for it, ``KeyWrongLastSequenceError`` on a conflict."""
        sent: list[asyncio.Future[Msg] | Exception] = []
        for key, value, last in writes:
            if not valid_key(key):
                sent.append(InvalidKeyError(key))
                continue
            headers = {EXPECTED_LAST_SUBJECT_SEQUENCE: str(last)}
            if value is None:
                headers[KV_OP] = KV_DEL
            try:
                sent.append(await self._pub.send(self._prefix + key, value or b"", headers=headers))
            except Exception as exc:  # not sent: reported for this write, the others go on
                sent.append(exc)
        try:
            return [await _revision(s) for s in sent]
        except BaseException:  # cancelled: the other answers are awaited by nobody now
            for waiting in sent:
                if isinstance(waiting, asyncio.Future):
                    waiting.cancel()  # the sweeper drops it (no error left unretrieved)
            raise

    async def delete(self, key: str, last: int | None = None) -> bool:
        """A delete marker, iff the latest revision is ``last`` when given (as nats-py:
        a conflict is the plain ``APIError``, not ``KeyWrongLastSequenceError``)."""
        if not valid_key(key):
            raise InvalidKeyError(key)
        headers = {KV_OP: KV_DEL}
        if last and last > 0:
            headers[EXPECTED_LAST_SUBJECT_SEQUENCE] = str(last)
        await self._pub.publish(self._prefix + key, headers=headers)
        return True


async def write_all(writes: KvWrites, items: Sequence[CasWrite]) -> list[int | Exception]:
    """Each compare-and-set write's new revision, or its error (``KeyWrongLastSequenceError``
    on a conflict, also for a delete): a ``FastKV`` sends them together, another bucket
    writer one task each."""
    if isinstance(writes, FastKV):
        return await writes.write_all(items)

    async def one(key: str, value: bytes | None, last: int) -> int | Exception:
        try:
            if value is None:
                await cas_delete(writes, key, last)
                return 0
            return await writes.update(key, value, last=last)
        except Exception as exc:
            return exc

    return list(await asyncio.gather(*(one(*item) for item in items)))


async def _revision(sent: asyncio.Future[Msg] | Exception) -> int | Exception:
    if isinstance(sent, Exception):
        return sent
    try:
        return pub_ack(await sent).seq
    except APIError as exc:
        if exc.err_code in WRONG_LAST_SEQUENCE:
            return KeyWrongLastSequenceError(description=exc.description)
        return exc
    except Exception as exc:  # a timeout, the connection closed: this write's answer
        return exc


def valid_key(key: str) -> bool:
    """nats-py's KV key rule."""
    return bool(key) and key[0] != "." and key[-1] != "." and bool(_VALID_KEY.fullmatch(key))
