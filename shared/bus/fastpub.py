"""Pipelined JetStream publishes: one reply subscription, one plain future per publish.

``js.publish`` goes through nats-py's ``Client.request``: a NUID plus random token bytes
per request, an ``asyncio.wait_for`` (a wrapper and a timer handle) per request, and a
done-callback to clean the response map. On a hot path doing several publishes per
message that machinery costs more CPU than the publish itself. ``FastPublisher`` keeps one
wildcard reply subscription per connection, sends each publish with the reply subject
``<inbox>.<n>`` and awaits a plain future that the subscription callback resolves. Timeouts
are enforced by one sweeper task for all publishes (every ``tick`` seconds), not a timer
each: a publish fails with ``nats.errors.TimeoutError`` between ``timeout`` and
``timeout + tick`` seconds after it was sent.

Results and errors are those of ``js.publish``: a ``PubAck``; ``APIError.from_error``'s
exception types for a JetStream error; ``NoStreamResponseError`` when no stream listens on
the subject (the server's "no responders" status); ``ConnectionClosedError`` once the
connection is closed. ``FastKV`` does a KV bucket's writes the same way, with nats-py's
``create`` / ``update`` semantics (``KeyWrongLastSequenceError`` on a compare-and-set
conflict, a create over a deleted key succeeds) and ``delete``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import ConnectionClosedError
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

from shared.bus.kvscan import WRONG_LAST_SEQUENCE
from shared.bus.publish import MSG_ID, encode
from shared.contracts.base import Event

EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
_STATUS = "Status"
_NO_RESPONDERS = "503"
_VALID_KEY = re.compile(r"[-/_=.a-zA-Z0-9]+")

_Waiter = tuple["asyncio.Future[Msg]", float]


class FastPublisher:
    """JetStream publishes over one reply subscription; ``start`` before use."""

    def __init__(self, nc: Client, *, timeout: float = 5.0, tick: float = 0.25) -> None:
        self._nc = nc
        self._timeout = timeout
        self._tick = tick
        self._prefix = ""
        self._next = 0
        self._pending: dict[str, _Waiter] = {}
        self._sub: Subscription | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._prefix = self._nc.new_inbox() + "."
        self._sub = await self._nc.subscribe(self._prefix + "*", cb=self._on_reply)
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
        if self._sub is None:
            raise ConnectionClosedError
        self._next += 1
        token = str(self._next)
        future: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
        deadline = asyncio.get_running_loop().time() + (timeout or self._timeout)
        self._pending[token] = (future, deadline)
        try:
            await self._nc.publish(subject, payload, reply=self._prefix + token, headers=headers)
        except BaseException:
            self._pending.pop(token, None)
            raise
        return await future

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

    async def _on_reply(self, msg: Msg) -> None:
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


def valid_key(key: str) -> bool:
    """nats-py's KV key rule."""
    return bool(key) and key[0] != "." and key[-1] != "." and bool(_VALID_KEY.fullmatch(key))
