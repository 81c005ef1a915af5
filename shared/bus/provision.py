"""Idempotent provisioning of streams and buckets from ``topology``.

``replicas`` is ``OTAYORI_NATS_REPLICAS``: every stream and bucket is created with it and
updated to it. A caller that passes None (one that has no settings at hand) creates with
one replica and leaves an existing resource's replica count as it is, so it never undoes
what a provisioning with the setting did.
"""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from shared.bus.topology import BUCKETS, STREAMS, BucketSpec, StreamSpec

log = logging.getLogger(__name__)


def stream_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        description=spec.description,
        max_age=spec.max_age,
        duplicate_window=spec.duplicate_window,
        max_msg_size=spec.max_msg_size,
        storage=StorageType.FILE,
        num_replicas=replicas,
    )


def bucket_config(spec: BucketSpec, replicas: int = 1) -> KeyValueConfig:
    return KeyValueConfig(
        bucket=spec.name,
        description=spec.description,
        history=spec.history,
        ttl=spec.ttl or None,
        max_value_size=spec.max_value_size,
        storage=StorageType.FILE,
        replicas=replicas,
    )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, replicas: int | None = None) -> str:
    """Create the stream, or update it to the declared config. Returns what was done."""
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(stream_config(spec, replicas or 1))
        return "created"
    keep = info.config.num_replicas or 1
    await js.update_stream(stream_config(spec, replicas or keep))
    return "updated"


async def ensure_bucket(js: JetStreamContext, spec: BucketSpec, replicas: int | None = None) -> str:
    """Create the bucket, or bring an existing one's TTL, description and replicas to the
    declared ones (a bucket given a TTL in a later version gets it on the next provision)."""
    try:
        await js.key_value(spec.name)
    except (NotFoundError, BadRequestError):
        pass
    else:
        return await _align_bucket(js, spec, replicas)
    await js.create_key_value(bucket_config(spec, replicas or 1))
    return "created"


async def provision(
    js: JetStreamContext, replicas: int | None = None
) -> list[tuple[str, str, str]]:
    """Apply the whole topology; returns (kind, name, action) rows."""
    rows: list[tuple[str, str, str]] = []
    for stream in STREAMS:
        rows.append(("stream", stream.name, await ensure_stream(js, stream, replicas)))
    for bucket in BUCKETS:
        rows.append(("bucket", bucket.name, await ensure_bucket(js, bucket, replicas)))
    for kind, name, action in rows:
        log.info("provision", extra={"kind": kind, "resource": name, "action": action})
    return rows


async def _align_bucket(js: JetStreamContext, spec: BucketSpec, replicas: int | None) -> str:
    info = await js.stream_info(f"KV_{spec.name}")  # the stream behind a KV bucket
    config = info.config
    ttl = float(spec.ttl or 0)
    want_replicas = replicas or config.num_replicas or 1
    if (
        float(config.max_age or 0) == ttl
        and config.description == spec.description
        and (config.num_replicas or 1) == want_replicas
    ):
        return "exists"
    config.max_age = ttl
    config.description = spec.description
    config.num_replicas = want_replicas
    await js.update_stream(config)
    return "updated"
