"""The KV snapshot sees every live key exactly once: none missed, none deleted ones."""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext

from shared.bus import kvscan


async def test_an_empty_bucket_scans_empty(js: JetStreamContext) -> None:
    assert await kvscan.scan(js, "mail_pending") == []
    assert await kvscan.keys(js, "mail_pending", "hr.*") == []


async def test_every_live_key_with_its_latest_value_and_revision(js: JetStreamContext) -> None:
    kv = await js.key_value("mail_pending")
    await asyncio.gather(*(kv.put(f"hr.P{n:04d}", b"v1") for n in range(1200)))
    latest = await kv.put("hr.P0007", b"v2")
    await kv.delete("hr.P0008")
    await kv.put("od.P0001", b"other")

    items = await kvscan.scan(js, "mail_pending", "hr.*")
    assert len(items) == 1199
    by_key = {i.key: i for i in items}
    assert "hr.P0008" not in by_key
    assert by_key["hr.P0007"].value == b"v2" and by_key["hr.P0007"].revision == latest
    assert [i.key for i in items] == sorted(by_key)
    assert await kvscan.keys(js, "mail_pending", "od.*") == ["od.P0001"]
    assert len(await kvscan.keys(js, "mail_pending")) == 1200


async def test_a_scan_leaves_no_consumer_behind(js: JetStreamContext) -> None:
    kv = await js.key_value("bounce_queue")
    await kv.put("P1", b"x")
    for _ in range(3):
        assert await kvscan.keys(js, "bounce_queue") == ["P1"]
    assert (await js.stream_info("KV_bounce_queue")).state.consumer_count == 0
