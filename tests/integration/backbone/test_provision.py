"""``provision`` on a server an older version provisioned: buckets get their new TTL."""

from __future__ import annotations

import nats
from nats.js.api import KeyValueConfig

from shared.bus.provision import provision
from shared.bus.topology import BUCKETS
from tools.localservers import NatsServer

DAY = 86400.0


async def test_a_bucket_created_without_a_ttl_gets_the_declared_one(
    fresh_nats: NatsServer,
) -> None:
    spec = next(b for b in BUCKETS if b.name == "mail_returned")
    assert spec.ttl == 90 * DAY
    nc = await nats.connect(fresh_nats.url)
    try:
        js = nc.jetstream()
        # As an older version left it: no TTL, another description, a record in it.
        kv = await js.create_key_value(KeyValueConfig(bucket=spec.name, description="old"))
        await kv.put("loan.L-1", b"{}")
        rows = await provision(js)
        assert ("bucket", spec.name, "updated") in rows
        info = await js.stream_info(f"KV_{spec.name}")
        assert info.config.max_age == 90 * DAY
        assert info.config.description == spec.description
        assert (await kv.get("loan.L-1")).value == b"{}"  # nothing lost on the way
        again = await provision(js)
        assert ("bucket", spec.name, "exists") in again
    finally:
        await nc.close()
