"""Idempotent provisioning of streams and buckets from ``topology``."""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from shared.bus.topology import BUCKETS, STREAMS, BucketSpec, StreamSpec

log = logging.getLogger(__name__)


def stream_config(spec: StreamSpec) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        description=spec.description,
        max_age=spec.max_age,
        duplicate_window=spec.duplicate_window,
        max_msg_size=spec.max_msg_size,
        storage=StorageType.FILE,
    )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> str:
    """Create the stream, or update it to the declared config. Returns what was done."""
    config = stream_config(spec)
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(config)
        return "created"
    await js.update_stream(config)
    return "updated"


async def ensure_bucket(js: JetStreamContext, spec: BucketSpec) -> str:
    """Create the bucket, or bring an existing one's TTL and description to the declared
    ones (a bucket given a TTL in a later version gets it on the next provision)."""
    try:
        await js.key_value(spec.name)
    except (NotFoundError, BadRequestError):
        pass
    else:
        return await _align_bucket(js, spec)
    await js.create_key_value(
        KeyValueConfig(
            bucket=spec.name,
            description=spec.description,
            history=spec.history,
            ttl=spec.ttl or None,
            max_value_size=spec.max_value_size,
            storage=StorageType.FILE,
        )
    )
    return "created"


async def provision(js: JetStreamContext) -> list[tuple[str, str, str]]:
    """Apply the whole topology; returns (kind, name, action) rows."""
    rows: list[tuple[str, str, str]] = []
    for stream in STREAMS:
        rows.append(("stream", stream.name, await ensure_stream(js, stream)))
    for bucket in BUCKETS:
        rows.append(("bucket", bucket.name, await ensure_bucket(js, bucket)))
    for kind, name, action in rows:
        log.info("provision", extra={"kind": kind, "resource": name, "action": action})
    return rows


async def _align_bucket(js: JetStreamContext, spec: BucketSpec) -> str:
    info = await js.stream_info(f"KV_{spec.name}")  # the stream behind a KV bucket
    config = info.config
    ttl = float(spec.ttl or 0)
    if float(config.max_age or 0) == ttl and config.description == spec.description:
        return "exists"
    config.max_age = ttl
    config.description = spec.description
    await js.update_stream(config)
    return "updated"
