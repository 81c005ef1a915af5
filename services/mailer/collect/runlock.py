"""One run of a kind at a time, whichever replica takes its trigger: a lock in ``mail_pending``.

A run marks the entries it takes and releases them once its mails are published; a mark it
finds from another run of its kind counts as that run's failure (free again). Two runs of
one kind side by side (a past day fired by hand while today's run is on, on the other
replica) would each take the other's marks and mail the same items twice (found by a
review). So a run holds ``run.<kind>`` while it runs:

- taken by create; or, when its holder seems dead, by compare-and-set over it. A lock is
  dead to a replica once that replica has seen the same revision for ``stale_after`` of its
  own monotonic time: nothing depends on the replicas' clocks (a demo clock, a skewed
  host), only on time passing;
- renewed every third of ``stale_after`` (a new revision each time; a renewal whose answer
  was lost is read back by its nonce). A run that cannot renew for half of ``stale_after``
  (the broker refusing or away, the process paused) counts its lock as lost, logs
  ``collect.run_lock_lost``, stops at its next chunk's boundary (``still_held``) and has
  its trigger retried (``Retry``; the same run id, so its own marks and tombstones absorb
  what it did). It is not cancelled from outside: mid-chunk that would leave marks
  another run could take, and asyncio may swallow a cancellation;
- released by a compare-and-set delete at its end, also when it fails, never another's.

A run finding the lock held by a live run is retried later (``Retry``): its trigger waits,
while the consumer goes on with other triggers. Runs of different kinds never share
entries (``plan/keys.py``) and never wait for each other, and a run that keeps failing
releases the lock each time, so it holds up nobody between its retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

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
    """The lock's value: who holds it (``at`` is for people reading it, never compared)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    holder: str
    nonce: str
    at: datetime


@dataclass(slots=True)
class _Hold:
    key: str
    nonce: str
    revision: int
    lost: bool = False


def lock_key(kind: MailKind) -> str:
    return f"run.{kind}"


def still_held() -> bool:
    """False once the lock this task's run holds is lost (``exclusive`` sets it for the
    run's task and the tasks it starts); the run stops at its next safe point."""
    hold = _HOLD.get()
    return hold is None or not hold.lost


#: The lock the current run holds (a context variable: the run's tasks see it too).
_HOLD: ContextVar[_Hold | None] = ContextVar("otayori_run_lock", default=None)


class RunLocks:
    def __init__(self, kv: KeyValue, clock: Clock, holder: str, stale_after: float) -> None:
        self._kv = kv
        self._clock = clock
        self._holder = holder
        self._stale_after = stale_after
        #: Per key, the revision this replica saw last and since when (monotonic seconds).
        self._seen: dict[str, tuple[int, float]] = {}

    @contextlib.asynccontextmanager
    async def exclusive(self, kind: MailKind) -> AsyncIterator[None]:
        """Hold ``kind``'s lock for the block; ``Retry`` when a live run holds it, or,
        after the block, when the lock was lost while it ran."""
        hold = await self._take(lock_key(kind), kind)
        stop = asyncio.Event()
        fresh = asyncio.create_task(self._keep_fresh(hold, stop))
        token = _HOLD.set(hold)
        try:
            yield
        finally:
            _HOLD.reset(token)
            stop.set()  # the renewals end by themselves (never cancelled mid-write)
            await asyncio.wait([fresh])
            # Counted lost but still this run's (renewals refused, the broker back): freed
            # now rather than held for ``stale_after`` more.
            if not hold.lost or await self._still_ours(hold):
                await self._release(hold)
        if hold.lost:
            raise Retry(f"the {kind} run lost its lock while it ran", delay=1.0)

    def _value(self, nonce: str) -> bytes:
        held = _Held(holder=self._holder, nonce=nonce, at=self._clock.now())
        return held.model_dump_json().encode()

    async def _take(self, key: str, kind: MailKind) -> _Hold:
        nonce = secrets.token_hex(8)
        try:
            return _Hold(key, nonce, await self._kv.create(key, self._value(nonce)))
        except KeyWrongLastSequenceError:
            pass
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            raise Retry(f"the {kind} run lock was just released", delay=0.5) from None
        waited = self._unchanged_for(key, entry.revision or 0)
        if waited < self._stale_after:
            wait = min(max(self._stale_after - waited, 1.0), MAX_WAIT)
            raise Retry(f"a {kind} run is in progress on another replica", delay=wait)
        try:
            revision = await self._kv.update(key, self._value(nonce), last=entry.revision)
        except KeyWrongLastSequenceError:
            raise Retry(f"another replica took the {kind} run lock", delay=1.0) from None
        log.warning("collect.run_lock_taken_over", extra={"kind": kind, "key": key})
        return _Hold(key, nonce, revision)

    def _unchanged_for(self, key: str, revision: int) -> float:
        """Seconds this replica has seen ``revision`` as the lock's latest (0 the first
        time it sees it): a live holder renews it well within ``stale_after``."""
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is None or seen[0] != revision:
            self._seen[key] = (revision, now)
            return 0.0
        return now - seen[1]

    async def _keep_fresh(self, hold: _Hold, stop: asyncio.Event) -> None:
        stored = time.monotonic()  # when the last write that landed was sent
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):  # a timer, or the run's end
                await asyncio.wait_for(stop.wait(), self._stale_after / 3)
                return
            sent = time.monotonic()
            if await self._renew(hold):
                stored = sent
            elif hold.lost or time.monotonic() - stored >= self._stale_after / 2:
                # Taken over, or unchanged long enough for a waiter to take it soon.
                hold.lost = True
                log.error("collect.run_lock_lost", extra={"key": hold.key})
                return

    async def _renew(self, hold: _Hold) -> bool:
        """A new revision of this run's lock is stored; False when none is (``hold.lost``
        when it was taken over)."""
        try:
            hold.revision = await self._kv.update(
                hold.key, self._value(hold.nonce), last=hold.revision
            )
            return True
        except KeyWrongLastSequenceError:
            pass
        except (NatsError, TimeoutError) as exc:
            # The answer may be lost although the write landed: read it back.
            extra = {"key": hold.key, "error": str(exc)}
            log.warning("collect.run_lock_renew_failed", extra=extra)
        before = hold.revision
        return await self._still_ours(hold) and hold.revision != before

    async def _still_ours(self, hold: _Hold) -> bool:
        """The lock as stored is this run's (a renewal whose answer was lost): adopt it."""
        try:
            entry = await self._kv.get(hold.key)
        except KeyNotFoundError:
            hold.lost = True
            return False
        except (NatsError, TimeoutError):
            return False
        try:
            held = _Held.model_validate_json(entry.value or b"")
        except ValidationError:  # another writer's value: not this run's any more
            hold.lost = True
            return False
        if held.nonce != hold.nonce or entry.revision is None:
            hold.lost = True
            return False
        hold.revision = entry.revision
        return True

    async def _release(self, hold: _Hold) -> None:
        try:
            try:
                await kvscan.cas_delete(self._kv, hold.key, hold.revision)
            except KeyWrongLastSequenceError:
                # A renewal landed whose answer was lost: delete at the lock's revision
                # if it is still this run's.
                if not await self._still_ours(hold):
                    log.error("collect.run_lock_lost", extra={"key": hold.key})
                    return
                await kvscan.cas_delete(self._kv, hold.key, hold.revision)
        except (NatsError, TimeoutError) as exc:
            # It is released when seen unchanged for ``stale_after`` instead.
            log.warning(
                "collect.run_lock_release_failed", extra={"key": hold.key, "error": str(exc)}
            )
