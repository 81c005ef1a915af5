"""What ``Lease.release`` logs is what happened: ``scheduler.lease_released`` only when the
lease was deleted; a lease expired or taken over meanwhile is ``scheduler.lease_lost``, a
delete the server refused ``scheduler.lease_release_failed`` (the lease expires by its TTL)."""

from __future__ import annotations

import logging

import pytest
from nats.js.errors import APIError, KeyWrongLastSequenceError, ServiceUnavailableError

from services.scheduler.lease import Lease


class _KV:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    async def delete(self, key: str, last: int | None = None) -> None:
        if self.error is not None:
            raise self.error


async def released(error: Exception | None, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.set_level(logging.INFO, logger="services.scheduler.lease")
    lease = Lease(_KV(error), "replica-1")  # type: ignore[arg-type]  # the one method it calls
    lease.revision = 7
    await lease.release()
    assert not lease.held
    return [r.getMessage() for r in caplog.records]


async def test_a_deleted_lease_is_logged_released(caplog: pytest.LogCaptureFixture) -> None:
    assert await released(None, caplog) == ["scheduler.lease_released"]


async def test_a_lease_taken_over_meanwhile_is_logged_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await released(KeyWrongLastSequenceError(), caplog) == ["scheduler.lease_lost"]


@pytest.mark.parametrize(
    "error", [ServiceUnavailableError(), APIError(code=403, description="permissions")]
)
async def test_a_refused_delete_is_logged_failed_not_released(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    assert await released(error, caplog) == ["scheduler.lease_release_failed"]
    (record,) = caplog.records
    assert record.__dict__["error"] == type(error).__name__
