"""A local mirror of the ``suppressions`` bucket: one NATS round trip per wave, not per mail.

A KV watcher keeps the set of suppressed address keys up to date. The watcher alone would
only be *eventually* up to date, so every lookup passes a **barrier** first:

- a probe reads the bucket stream's last sequence ``L`` (one stream info request),
  then waits until the watcher has applied every message up to ``L``;
- a lookup joins the next probe that has *not yet been sent*, so ``L`` covers every write
  committed before the lookup began.

So a suppression written before ``is_suppressed`` is called is always seen, exactly as
with a direct ``get``; lookups arriving while a probe is in flight share the next one (a
steady load costs one probe per round trip, whatever the number of mails in flight).

If the watcher falls behind (no progress within ``probe_timeout``) or the probe fails,
the lookups of that wave read the bucket directly and the mirror is rebuilt with a new
watcher: a dead watcher costs speed, never a suppression.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from shared.bus import kvscan
from shared.mailrecord import address_key

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _State:
    """What one watcher has applied: only ever moves forward (a rebuild makes a new one)."""

    keys: set[str] = field(default_factory=set)
    applied: int = 0  # highest stream sequence applied
    target: int = 0
    reached: asyncio.Future[None] | None = None

    def apply(self, entry: KeyValue.Entry) -> None:
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            self.keys.discard(entry.key)
        else:
            self.keys.add(entry.key)
        self.applied = max(self.applied, entry.revision or 0)
        if self.reached is not None and self.applied >= self.target:
            if not self.reached.done():
                self.reached.set_result(None)
            self.reached = None

    async def wait_for(self, seq: int) -> None:
        if self.applied >= seq:
            return
        self.target = seq
        self.reached = asyncio.get_running_loop().create_future()
        await self.reached


class MirrorBehind(Exception):
    """The mirror could not prove it is current (internal: lookups fall back to a get)."""


LastSequence = Callable[[str], Awaitable[int]]


class SuppressionMirror:
    def __init__(
        self,
        js: JetStreamContext,
        kv: KeyValue,
        bucket: str,
        *,
        probe_timeout: float = 2.0,
        last_sequence: LastSequence | None = None,
    ) -> None:
        self._kv = kv
        self._stream = f"KV_{bucket}"  # the stream behind a JetStream KV bucket
        self._last_sequence = last_sequence or functools.partial(kvscan.last_sequence, js)
        self._probe_timeout = probe_timeout
        self._state = _State()
        self._watcher: KeyValue.KeyWatcher | None = None
        self._follower: asyncio.Task[None] | None = None
        # The lookups waiting for the next probe not yet sent, a future each (a lookup's
        # cancellation cancels its own future only).
        self._next: list[asyncio.Future[_State]] | None = None
        self._prober: asyncio.Task[None] | None = None
        self._missed_at: int | None = None  # ``applied`` at the last probe that timed out

    async def start(self) -> None:
        state = _State()
        self._watcher = await self._kv.watchall()
        self._follower = asyncio.create_task(self._follow(self._watcher, state))
        self._state = state

    async def close(self) -> None:
        for task in (self._prober, self._follower):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._stop_watcher()

    async def _stop_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            with contextlib.suppress(NatsError, asyncio.TimeoutError):
                await watcher.stop()  # type: ignore[no-untyped-call]  # nats-py is untyped here

    async def is_suppressed(self, address: str) -> bool:
        key = address_key(address)
        try:
            state = await self._join()
        except MirrorBehind:
            return await self._get(key)
        return key in state.keys

    async def _get(self, key: str) -> bool:
        value, _ = await kvscan.get_value(self._kv, key)
        return value is not None

    @staticmethod
    async def _follow(watcher: KeyValue.KeyWatcher, state: _State) -> None:
        async for entry in watcher:
            if entry is not None:  # None marks the end of the initial values
                state.apply(entry)

    def _join(self) -> asyncio.Future[_State]:
        """This lookup's place in the next probe not yet sent (the probe created, and the
        prober started, when needed)."""
        joined: asyncio.Future[_State] = asyncio.get_running_loop().create_future()
        if self._next is None:
            self._next = [joined]
            if self._prober is None or self._prober.done():
                self._prober = asyncio.create_task(self._probe_loop())
        else:
            self._next.append(joined)
        return joined

    async def _probe_loop(self) -> None:
        while self._next is not None:
            # Everyone waiting on ``joined`` arrived before the request below is sent.
            joined, self._next = self._next, None
            state = self._state
            try:
                if self._follower is None or self._follower.done():
                    raise MirrorBehind("the watcher has stopped")
                async with asyncio.timeout(self._probe_timeout):
                    await state.wait_for(await self._last_sequence(self._stream))
            except (MirrorBehind, TimeoutError, NatsError) as exc:
                log.warning("suppressions.mirror_behind", extra={"error": type(exc).__name__})
                for waiter in joined:
                    if not waiter.done():  # else its lookup was cancelled
                        waiter.set_exception(MirrorBehind(type(exc).__name__))
                        waiter.exception()  # retrieved: its lookup falls back to a get
                # A watcher still making progress (a large bucket replaying, a CPU stall)
                # is kept: rebuilding would start its replay over and never catch up.
                # Only a dead watcher, or one that has not moved since the last miss, goes.
                stuck = isinstance(exc, MirrorBehind) or state.applied == self._missed_at
                self._missed_at = state.applied
                if stuck:
                    self._missed_at = None
                    await self._rebuild()
            else:
                self._missed_at = None
                for waiter in joined:
                    if not waiter.done():
                        waiter.set_result(state)

    async def _rebuild(self) -> None:
        """A fresh watcher and state; the old state object is left as it was."""
        if self._follower is not None:
            self._follower.cancel()
        await self._stop_watcher()
        try:
            await self.start()
        except (TimeoutError, NatsError) as exc:
            log.warning("suppressions.watch_failed", extra={"error": type(exc).__name__})
