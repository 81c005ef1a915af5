"""Releasing the lease while NATS is unreachable ends the engine quietly (the lease then
expires by its TTL); a released or taken-over lease is not held any more."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import KeyWrongLastSequenceError

from services.scheduler.lease import Lease


class _KV:
    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.deleted: list[tuple[str, int | None]] = []

    async def delete(self, key: str, last: int | None = None) -> None:
        if self.error is not None:
            raise self.error
        self.deleted.append((key, last))


def _held(kv: _KV) -> Lease:
    lease = Lease(kv, "replica-1")  # type: ignore[arg-type]  # the one method it calls
    lease.revision = 7
    return lease


async def test_a_release_deletes_the_lease_by_its_revision() -> None:
    kv = _KV(None)
    lease = _held(kv)
    await lease.release()
    assert kv.deleted == [("leader", 7)] and not lease.held


@pytest.mark.parametrize("error", [NatsTimeoutError(), TimeoutError()])
async def test_nats_unreachable_at_release_is_logged_not_raised(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    lease = _held(_KV(error))
    await lease.release()
    assert not lease.held
    assert [r.getMessage() for r in caplog.records] == ["scheduler.lease_release_failed"]


async def test_a_lease_taken_over_meanwhile_is_left_alone() -> None:
    error: Any = KeyWrongLastSequenceError()
    lease = _held(_KV(error))
    await lease.release()
    assert not lease.held
