"""Giving the lease up at shutdown on a real server: a lease taken over meanwhile is
``scheduler.lease_lost`` (nats-py reports the delete's conflict as a plain APIError), and
the new holder's lease survives."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from nats.js import JetStreamContext

from services.scheduler.lease import Lease
from shared.bus.provision import provision


async def test_a_lease_taken_over_before_shutdown_is_logged_lost(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    await provision(js)
    caplog.set_level(logging.INFO, logger="services.scheduler.lease")
    kv = await js.key_value("schedule_lease")
    first, second = Lease(kv, "a"), Lease(kv, "b")
    assert await first.try_acquire(datetime.now(UTC))
    await kv.delete("leader")  # as its TTL would
    assert await second.try_acquire(datetime.now(UTC))
    caplog.clear()
    await first.release()
    assert [r.getMessage() for r in caplog.records] == ["scheduler.lease_lost"]
    assert (await kv.get("leader")).value  # the new holder's lease is untouched
