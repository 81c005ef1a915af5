"""Reading KV buckets: a complete snapshot of the live keys (optionally their values),
and one key as a model.

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
from typing import TypeVar

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel

#: Messages asked for per fetch.
FETCH_BATCH = 512
#: Seconds a fetch may wait for messages the server said are there.
FETCH_TIMEOUT = 10.0
_DELETED = {"DEL", "PURGE"}
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
    stream = f"KV_{bucket}"
    prefix = f"$KV.{bucket}."
    info = await js.add_consumer(
        stream,
        ConsumerConfig(
            filter_subject=prefix + pattern,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            ack_policy=AckPolicy.NONE,
            headers_only=not values,
            mem_storage=True,
            inactive_threshold=30.0,
        ),
    )
    name = info.name
    assert name is not None
    try:
        return await _read(js, stream, name, prefix, info.num_pending or 0)
    finally:
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(stream, name)


async def _read(
    js: JetStreamContext, stream: str, name: str, prefix: str, pending: int
) -> list[KvItem]:
    live: dict[str, KvItem] = {}
    if pending == 0:
        return []
    sub = await js.pull_subscribe_bind(consumer=name, stream=stream)
    try:
        while pending > 0:
            try:
                msgs = await sub.fetch(min(pending, FETCH_BATCH), timeout=FETCH_TIMEOUT)
            except TimeoutError as exc:
                raise ScanError(f"{stream}: {pending} counted messages not delivered") from exc
            for msg in msgs:
                pending = msg.metadata.num_pending
                key = msg.subject.removeprefix(prefix)
                operation = (msg.headers or {}).get("KV-Operation")
                if operation in _DELETED:
                    live.pop(key, None)
                else:
                    live[key] = KvItem(key, msg.data, msg.metadata.sequence.stream)
    finally:
        await sub.unsubscribe()
    return [live[k] for k in sorted(live)]


async def keys(js: JetStreamContext, bucket: str, pattern: str = ">") -> list[str]:
    return [item.key for item in await scan(js, bucket, pattern, values=False)]


async def get_model(kv: KeyValue, key: str, model: type[M]) -> tuple[M | None, int]:
    """One key's value as ``model`` and its revision (``None, 0`` when absent; a deleted
    key gives ``None`` and the revision of its delete marker, for a compare-and-set)."""
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None, 0
    if not entry.value:
        return None, entry.revision or 0
    return model.model_validate_json(entry.value), entry.revision or 0
