"""KV bucket helpers: a complete snapshot of the live keys (optionally their values), one
key as a model, the compare-and-set write protocol and a compare-and-set delete.

nats-py's ``KeyValue.keys()`` / ``watch()`` decide "no more initial values" from a race:
a push consumer's ``num_pending`` may already be 0 (the server has sent everything) while
the client has not yet counted any delivered message, and then the watcher reports an
empty bucket. A weekly run that scanned an empty bucket would mail nobody. This scan uses
an ephemeral *pull* consumer instead: the server counts the pending messages when the
consumer is created, nothing is delivered until asked for, and the scan reads exactly
that many.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Protocol, TypeVar

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel

#: Messages asked for per fetch.
FETCH_BATCH = 512
#: Seconds a fetch may wait for messages the server said are there.
FETCH_TIMEOUT = 10.0
_DELETED = {"DEL", "PURGE"}
#: JetStream's "wrong last sequence" error codes (JSStreamWrongLastSequenceErrF /
#: JSStreamWrongLastSequenceConstantErr): a compare-and-set lost to another writer.
WRONG_LAST_SEQUENCE = (10071, 10164)
M = TypeVar("M", bound=BaseModel)


class ScanError(RuntimeError):
    """The server did not deliver the messages it counted (the caller retries)."""


@dataclass(frozen=True, slots=True)
class KvItem:
    key: str
    value: bytes
    revision: int


async def scan(
    js: JetStreamContext, bucket: str, pattern: str = ">", *, values: bool = True
) -> list[KvItem]:
    """Every live key of ``bucket`` matching ``pattern`` (a NATS wildcard), in key order."""
    prefix = f"$KV.{bucket}."
    config = ConsumerConfig(
        filter_subject=prefix + pattern,
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        headers_only=not values,
    )
    live: dict[str, KvItem] = {}
    for msg in await counted_messages(js, f"KV_{bucket}", config):
        key = msg.subject.removeprefix(prefix)
        if (msg.headers or {}).get("KV-Operation") in _DELETED:
            live.pop(key, None)
        else:
            live[key] = KvItem(key, msg.data, msg.metadata.sequence.stream)
    return [live[k] for k in sorted(live)]


async def subject_messages(js: JetStreamContext, stream: str, subject: str) -> list[Msg]:
    """Every message of ``stream`` on ``subject`` (a NATS wildcard), in stream order."""
    config = ConsumerConfig(filter_subject=subject, deliver_policy=DeliverPolicy.ALL)
    return await counted_messages(js, stream, config)


async def counted_messages(js: JetStreamContext, stream: str, config: ConsumerConfig) -> list[Msg]:
    """What an ephemeral pull consumer with ``config`` counts when it is created: exactly
    that many messages are read (raises ``ScanError`` when the server does not deliver
    them), and the consumer is deleted."""
    config.ack_policy = AckPolicy.NONE
    config.mem_storage = True
    config.inactive_threshold = 30.0
    info = await js.add_consumer(stream, config)
    name = info.name
    assert name is not None
    try:
        return await _read(js, stream, name, info.num_pending or 0)
    finally:
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(stream, name)


async def _read(js: JetStreamContext, stream: str, name: str, pending: int) -> list[Msg]:
    found: list[Msg] = []
    if pending == 0:
        return found
    sub = await js.pull_subscribe_bind(consumer=name, stream=stream)
    try:
        while pending > 0:
            try:
                msgs = await sub.fetch(min(pending, FETCH_BATCH), timeout=FETCH_TIMEOUT)
            except TimeoutError as exc:
                raise ScanError(f"{stream}: {pending} counted messages not delivered") from exc
            for msg in msgs:
                pending = msg.metadata.num_pending
                found.append(msg)
    finally:
        await sub.unsubscribe()
    return found


async def last_sequence(js: JetStreamContext, stream: str) -> int:
    """The stream's last sequence, 0 when it holds no message."""
    info = await js.stream_info(stream)
    return info.state.last_seq if info.state.messages else 0


async def keys(js: JetStreamContext, bucket: str, pattern: str = ">") -> list[str]:
    return [item.key for item in await scan(js, bucket, pattern, values=False)]


async def get_value(kv: KeyValue, key: str) -> tuple[bytes | None, int]:
    """One key's value and its revision (``None, 0`` when absent; a deleted key gives
    ``None`` and the revision of its delete marker, for a compare-and-set)."""
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None, 0
    return entry.value or None, entry.revision or 0


async def get_model(kv: KeyValue, key: str, model: type[M]) -> tuple[M | None, int]:
    """``get_value`` decoded as ``model``."""
    value, revision = await get_value(kv, key)
    return (None if value is None else model.model_validate_json(value)), revision


class KvWrites(Protocol):
    """The compare-and-set writes of a bucket (nats-py's ``KeyValue`` or ``FastKV``)."""

    async def create(self, key: str, value: bytes) -> int: ...

    async def update(self, key: str, value: bytes, last: int | None = None) -> int: ...

    async def delete(self, key: str, last: int | None = None) -> bool: ...


#: A compare-and-set write: key, value (``None``: a delete marker), the revision it replaces.
CasWrite = tuple[str, bytes | None, int]


async def cas_delete(writes: KvWrites, key: str, last: int) -> None:
    """Delete ``key`` iff its latest revision is ``last``; ``KeyWrongLastSequenceError`` if
    not (nats-py reports a delete's conflict as a plain ``APIError``: mapped here)."""
    try:
        await writes.delete(key, last=last)
    except KeyWrongLastSequenceError:
        raise
    except APIError as exc:
        if exc.err_code in WRONG_LAST_SEQUENCE:
            raise KeyWrongLastSequenceError(description=exc.description) from exc
        raise
