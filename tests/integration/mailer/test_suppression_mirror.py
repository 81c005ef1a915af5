"""The local suppressions mirror answers exactly as a direct KV get would.

A suppression written (or lifted) before the lookup starts is always seen — the barrier
waits for the watcher to reach the bucket's last sequence — and a watcher that died or
stalled makes lookups read the bucket directly until a new watcher is up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from services.mailer.delivery.suppressions import SuppressionMirror
from shared.mailrecord import Suppression, address_key
from tests.support.nats import wait_for

RECORD = Suppression(
    reason="550 5.1.1 user unknown", category="bad_address", since=datetime(2026, 12, 1, tzinfo=UTC)
).model_dump_json()


@pytest.fixture
async def bucket(js: JetStreamContext) -> KeyValue:
    return await js.key_value("suppressions")


@pytest.fixture
async def mirror(js: JetStreamContext, bucket: KeyValue) -> AsyncIterator[SuppressionMirror]:
    m = SuppressionMirror(js, bucket, "suppressions", probe_timeout=1.0)
    await m.start()
    yield m
    await m.close()


async def _suppress(bucket: KeyValue, address: str) -> None:
    await bucket.put(address_key(address), RECORD.encode())


async def test_suppressions_written_before_the_mirror_started_are_known(
    js: JetStreamContext, bucket: KeyValue
) -> None:
    await _suppress(bucket, "old@docomo.ne.jp")
    m = SuppressionMirror(js, bucket, "suppressions")
    await m.start()
    try:
        assert await m.is_suppressed("old@docomo.ne.jp")
        assert await m.is_suppressed(" OLD@docomo.ne.jp")  # same address key
        assert not await m.is_suppressed("other@docomo.ne.jp")
    finally:
        await m.close()


async def test_a_write_just_before_the_lookup_is_always_seen(
    mirror: SuppressionMirror, bucket: KeyValue
) -> None:
    for n in range(50):
        address = f"p{n}@ezweb.ne.jp"
        await _suppress(bucket, address)
        assert await mirror.is_suppressed(address), n
        await bucket.delete(address_key(address))
        assert not await mirror.is_suppressed(address), n


async def test_concurrent_lookups_share_probes_and_agree_with_the_bucket(
    mirror: SuppressionMirror, bucket: KeyValue
) -> None:
    suppressed = {f"s{n}@softbank.ne.jp" for n in range(20)}
    for address in suppressed:
        await _suppress(bucket, address)
    addresses = [*suppressed, *(f"ok{n}@softbank.ne.jp" for n in range(80))]
    answers = await asyncio.gather(*(mirror.is_suppressed(a) for a in addresses))
    assert {a for a, s in zip(addresses, answers, strict=True) if s} == suppressed


async def test_a_cancelled_lookup_leaves_the_others_of_its_probe_answered(
    mirror: SuppressionMirror, bucket: KeyValue
) -> None:
    """A mail handler cancelled (shutdown) while its lookup waits for the probe must not
    take the probe, and the other lookups waiting for it, down with it."""
    await _suppress(bucket, "s@au.com")
    gone = asyncio.create_task(mirror.is_suppressed("x@au.com"))
    kept = asyncio.create_task(mirror.is_suppressed("s@au.com"))
    await asyncio.sleep(0)  # a scheduling step: both have joined the same probe
    gone.cancel()
    assert await kept
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await mirror.is_suppressed("s@au.com")


async def test_a_dead_watcher_falls_back_to_the_bucket_and_is_replaced(
    mirror: SuppressionMirror, bucket: KeyValue
) -> None:
    await mirror._stop_watcher()  # the watcher's subscription is gone: no more updates
    await _suppress(bucket, "late@gmail.com")
    # The probe cannot see the watcher reach the last sequence: direct read, same answer.
    assert await mirror.is_suppressed("late@gmail.com")
    assert not await mirror.is_suppressed("fine@gmail.com")
    # A new watcher was started; it serves the next lookups from the mirror again.
    await _suppress(bucket, "later@gmail.com")
    assert await mirror.is_suppressed("later@gmail.com")
    assert await mirror.is_suppressed("late@gmail.com")


async def test_a_watcher_still_moving_is_kept_and_only_a_stalled_one_replaced(
    js: JetStreamContext, bucket: KeyValue
) -> None:
    # A probe that can never finish in time (as when a large bucket is still replaying):
    # every lookup reads the bucket directly, and rebuilding the watcher each time would
    # restart its replay and never let it catch up.
    await _suppress(bucket, "a@au.com")
    m = SuppressionMirror(js, bucket, "suppressions", probe_timeout=0.0)
    await m.start()
    try:
        first = m._follower
        assert await m.is_suppressed("a@au.com")  # missed probe: answered from the bucket
        assert m._follower is first and not first.cancelling()  # first miss: kept
        moved_from = m._state.applied
        await _suppress(bucket, "b@au.com")
        await wait_for(lambda: m._state.applied > moved_from)  # the watcher applies it
        assert await m.is_suppressed("b@au.com")
        assert m._follower is first and not first.cancelling()  # it moved: kept
        assert not await m.is_suppressed("c@au.com")
        # no progress since the last miss: replaced (the prober does it after answering)
        await wait_for(lambda: m._follower is not first)
    finally:
        await m.close()
