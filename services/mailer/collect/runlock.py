"""One run of a kind at a time, whichever replica takes its trigger: a lock in ``mail_pending``.

A run marks the entries it takes and releases them once its mails are published; a mark it
finds from another run of its kind counts as that run's failure (free again). Two runs of
one kind side by side (a past day fired by hand while today's run is on, on the other
replica) would each take the other's marks and mail the same items twice (found by a
review). So a run holds ``run.<kind>`` while it runs:

- taken by create, or by compare-and-set over a lock older than ``stale_after`` (its
  holder died without releasing it);
- kept fresh every third of ``stale_after`` while the run goes on;
- released by a compare-and-set delete, never another holder's.

A run finding the lock held by a live run is retried later (``Retry``): its trigger waits,
while the consumer goes on with other triggers. Runs of different kinds never share
entries (``plan/keys.py``) and never wait for each other, and a run that keeps failing
releases the lock each time, so it holds up nobody between its retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from nats.errors import Error as NatsError
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.bus import kvscan
from shared.bus.consume import Retry
from shared.clock import Clock
from shared.contracts.mail import MailKind

log = logging.getLogger(__name__)

#: Longest wait before a trigger finding its kind's lock held is tried again (seconds).
MAX_WAIT = 60.0


class _Held(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    holder: str
    at: datetime


def lock_key(kind: MailKind) -> str:
    return f"run.{kind}"


class RunLocks:
    def __init__(self, kv: KeyValue, clock: Clock, holder: str, stale_after: float) -> None:
        self._kv = kv
        self._clock = clock
        self._holder = holder
        self._stale_after = timedelta(seconds=stale_after)

    @contextlib.asynccontextmanager
    async def exclusive(self, kind: MailKind) -> AsyncIterator[None]:
        """Hold ``kind``'s lock for the block; ``Retry`` when a live run holds it."""
        key = lock_key(kind)
        revision = [await self._take(key, kind)]
        fresh = asyncio.create_task(self._keep_fresh(key, revision))
        try:
            yield
        finally:
            fresh.cancel()
            await asyncio.wait([fresh])
            await self._release(key, revision[0])

    def _value(self) -> bytes:
        return _Held(holder=self._holder, at=self._clock.now()).model_dump_json().encode()

    async def _take(self, key: str, kind: MailKind) -> int:
        try:
            return await self._kv.create(key, self._value())
        except KeyWrongLastSequenceError:
            pass
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            raise Retry(f"the {kind} run lock was just released", delay=0.5) from None
        age = self._age(entry.value)
        if age is not None and age < self._stale_after:
            wait = min(max((self._stale_after - age).total_seconds(), 1.0), MAX_WAIT)
            raise Retry(f"a {kind} run is in progress on another replica", delay=wait)
        try:
            revision = await self._kv.update(key, self._value(), last=entry.revision)
        except KeyWrongLastSequenceError:
            raise Retry(f"another replica took the {kind} run lock", delay=1.0) from None
        log.warning("collect.run_lock_taken_over", extra={"kind": kind, "key": key})
        return revision

    def _age(self, value: bytes | None) -> timedelta | None:
        """How old the lock is; None when it cannot be read (taken over as stale)."""
        try:
            held = _Held.model_validate_json(value or b"")
        except ValidationError:
            return None
        return self._clock.now() - held.at

    async def _keep_fresh(self, key: str, revision: list[int]) -> None:
        while True:
            await asyncio.sleep(self._stale_after.total_seconds() / 3)  # a timer
            try:
                revision[0] = await self._kv.update(key, self._value(), last=revision[0])
            except KeyWrongLastSequenceError:
                # Taken over: this run was silent past ``stale_after`` (the broker away).
                log.error("collect.run_lock_lost", extra={"key": key})
                return
            except (NatsError, TimeoutError) as exc:
                log.warning("collect.run_lock_renew_failed", extra={"key": key, "error": str(exc)})

    async def _release(self, key: str, revision: int) -> None:
        try:
            await kvscan.cas_delete(self._kv, key, revision)
        except KeyWrongLastSequenceError:
            log.error("collect.run_lock_lost", extra={"key": key})
        except (NatsError, TimeoutError) as exc:
            # It goes stale instead: the kind's next run waits at most ``stale_after``.
            log.warning("collect.run_lock_release_failed", extra={"key": key, "error": str(exc)})
