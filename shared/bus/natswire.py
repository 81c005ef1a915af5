"""The nats-py internals ``fastpub`` uses, all here; checked against nats-py 2.16.0 (uv.lock).

``Wire`` writes a publish the way ``Client.publish`` does, ``Replies`` routes a
subscription's messages inside the connection's reader.
tests/integration/backbone/test_fastpub.py compares the bytes, the errors and the reply
routing with nats-py's own, so an upgrade that changes them fails there.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import (
    BadHeaderError,
    BadSubjectError,
    ConnectionClosedError,
    ConnectionDrainingError,
    MaxPayloadError,
    OutboundBufferLimitError,
)

_SUBJECT_INVALID = re.compile(r"[ \t\r\n]")  # nats.aio.client._SUBJECT_INVALID_RE
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # nats.aio.client._HEADER_KEY_RE
_HEADER_VALUE_NEWLINES = str.maketrans({"\r": " ", "\n": " "})
_MAX_NAMES = 64  # header names encoded once each: the few fixed ones a service uses


class Wire:
    """``Client.publish`` with the PUB/HPUB line built here, header names encoded once.

    The checks of nats-py's ``Client.publish`` / ``_send_publish`` in the same order with the
    same errors (subject; closed; draining; while reconnecting, the buffer limit; payload
    over ``max_payload``; header names), the same bytes, the same statistics, then the same
    hand-over: ``Client._send_command`` appends to the write buffer (kept while reconnecting,
    written once reconnected, after the subscriptions are replayed) and
    ``Client._flush_pending`` wakes the flusher task unless a flush is already queued.
    The subject is always validated, even with ``skip_subject_validation``.
    """

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._names: dict[str, bytes] = {}

    async def publish(
        self, subject: str, reply: bytes, payload: bytes, headers: dict[str, str] | None
    ) -> None:
        nc = self._nc
        if not subject or _SUBJECT_INVALID.search(subject):
            raise BadSubjectError
        if nc.is_closed:
            raise ConnectionClosedError
        if nc.is_draining_pubs:
            raise ConnectionDrainingError
        size = len(payload)
        if not nc.is_connected:
            limit = nc._max_pending_size
            if limit <= 0 or size + nc.pending_data_size > limit:
                raise OutboundBufferLimitError
        if size > nc.max_payload:
            raise MaxPayloadError
        command = self.command(subject.encode(), reply, payload, headers)
        nc.stats["out_msgs"] += 1
        nc.stats["out_bytes"] += size
        await nc._send_command(command)
        if nc._flush_queue is not None and nc._flush_queue.empty():
            await nc._flush_pending()

    def command(
        self, subject: bytes, reply: bytes, payload: bytes, headers: dict[str, str] | None
    ) -> bytes:
        """The PUB or HPUB protocol line and payload, as nats-py writes them."""
        if headers is None:
            return b"PUB %b %b %d\r\n%b\r\n" % (subject, reply, len(payload), payload)
        header = b"NATS/1.0\r\n"
        for name, value in headers.items():
            encoded = self._names.get(name)
            if encoded is None:
                encoded = self._name(name)
            if encoded:
                value = value.strip()
                if "\r" in value or "\n" in value:  # translate() costs more than the tests
                    value = value.translate(_HEADER_VALUE_NEWLINES)
                header += encoded + value.encode() + b"\r\n"
        header += b"\r\n"
        head, size = len(header), len(header) + len(payload)
        return b"HPUB %b %b %d %d\r\n%b%b\r\n" % (subject, reply, head, size, header, payload)

    def _name(self, name: str) -> bytes:
        """``b"Name: "``, or ``b""`` for a blank name (nats-py skips it)."""
        key = name.strip()
        if key and not _HEADER_NAME.fullmatch(key):
            raise BadHeaderError(key)
        encoded = key.encode() + b": " if key else b""
        if len(self._names) < _MAX_NAMES:
            self._names[name] = encoded
        return encoded


class Replies(asyncio.Future[Msg]):
    """Hands each message of a subscription to ``on_msg`` inside the connection's reader.

    ``Client._process_msg`` gives every message of a subscription made with
    ``subscribe(future=...)`` (nats-py's old-style request) to that future's ``set_result``
    at once: no pending queue, task or coroutine per message, and no pending bytes (nothing
    waits, so ``pending_bytes`` stays 0 and no slow consumer can be reported). This future
    never completes: ``set_result`` routes the message. ``on_msg`` must not raise or block:
    an exception there would end the connection's read loop.
    """

    def __init__(self, on_msg: Callable[[Msg], None]) -> None:
        super().__init__()
        self._on_msg = on_msg

    def set_result(self, result: Msg, /) -> None:
        self._on_msg(result)

    @classmethod
    async def subscribe(
        cls, nc: Client, subject: str, on_msg: Callable[[Msg], None]
    ) -> Subscription:
        return await nc.subscribe(subject, future=cls(on_msg))
