"""Leadership through a KV lease: ``schedule_lease["leader"]`` (the bucket's TTL is 10 s).

``create()`` takes the lease only when the key is absent (never written, released, or
expired because its holder stopped renewing); ``update(last=revision)`` renews it only if
nobody else wrote it since. The revision is the fencing token: a leader renews (CAS)
immediately before each publish, so once a replica's lease has expired or been taken over,
its next renewal fails and it stops before publishing anything else.
"""

from __future__ import annotations

import logging
from datetime import datetime

from nats.errors import Error as NatsError
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from shared.bus import kvscan

from .errors import LeaseLost
from .records import LeaseRecord

log = logging.getLogger(__name__)

LEASE_KEY = "leader"


class Lease:
    def __init__(self, kv: KeyValue, holder: str) -> None:
        self._kv = kv
        self.holder = holder
        self.revision: int | None = None
        self._value = b""

    @property
    def held(self) -> bool:
        return self.revision is not None

    async def try_acquire(self, now: datetime) -> bool:
        """Take the lease if nobody holds it."""
        self._value = LeaseRecord(holder=self.holder, acquired_at=now).model_dump_json().encode()
        try:
            self.revision = await self._kv.create(LEASE_KEY, self._value)
        except KeyWrongLastSequenceError:
            return False
        log.info("scheduler.lease_acquired", extra={"holder": self.holder, "rev": self.revision})
        return True

    async def renew(self) -> bool:
        """Extend the lease; False (and no longer held) if it expired or was taken over."""
        if self.revision is None:
            return False
        try:
            self.revision = await self._kv.update(LEASE_KEY, self._value, last=self.revision)
        except KeyWrongLastSequenceError:
            log.warning("scheduler.lease_lost", extra={"holder": self.holder})
            self.revision = None
            return False
        return True

    async def fence(self) -> int:
        """Renew, or raise ``LeaseLost``; returns the fencing revision to record."""
        if not await self.renew():
            raise LeaseLost(self.holder)
        assert self.revision is not None
        return self.revision

    async def release(self) -> None:
        """Give the lease up (graceful stop) so a standby takes over at once."""
        if self.revision is None:
            return
        try:
            await kvscan.cas_delete(self._kv, LEASE_KEY, self.revision)
        except KeyWrongLastSequenceError:
            # Expired (and maybe taken by another replica) meanwhile: not ours to delete.
            self.revision = None
            log.warning("scheduler.lease_lost", extra={"holder": self.holder})
            return
        except (NatsError, TimeoutError) as exc:  # APIError included
            # Refused by the server, or NATS unreachable while stopping: the lease expires
            # by its TTL instead.
            self.revision = None
            log.warning(
                "scheduler.lease_release_failed",
                extra={"holder": self.holder, "error": type(exc).__name__},
            )
            return
        self.revision = None
        log.info("scheduler.lease_released", extra={"holder": self.holder})
