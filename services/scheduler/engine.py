"""The scheduler loop: lead (or stand by), handle due occurrences, sleep until the next.

One tick, as leader, per trigger: read its state (``handled_through``), take the due
occurrences ``handled_through < nominal <= now``, let the pure ``decide`` say what to do
with each (fire, coalesce, skip, suspend, miss), publish, then move ``handled_through`` on
with a compare-and-set. Publishing before the state write makes a crash between the two
harmless: before firing, the leader looks in the stream for a TriggerFired of that trigger
and run date (``ScheduleBus.fired_on``) and does not publish a second one; the stream's
duplicate window (same Nats-Msg-Id, 8 days) covers a race. A trigger thus fires at most
once per JST run date (once per batch for the weekly ones), whoever fired it (the engine,
``otayori schedule fire``) and whatever its time setting was then. Every publish is
preceded by a lease renewal (fencing).

The Saturday mail of a batch follows what the batch's cutoff did, as the stream records it
(``ScheduleBus.cutoff_records``, read when the mail comes due): fired, the mail fires;
suspended, it does not. Only without a record do the closures of that Thursday decide. A
batch's ``ServiceSuspended`` is published once: not again when the stream holds one.

Unreadable records (any client can write the buckets and the stream) do not end the loop:
fire messages that are not fire records are skipped (``ScheduleBus``); while a runtime
closure is unreadable nothing fires (the tick is retried like a transient error); an
unreadable (or implausible) trigger state is rebuilt as on a first start; an unreadable
pause counts as paused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from nats.errors import Error as NatsError

from shared.bus.kvscan import ScanError
from shared.clock import Clock
from shared.contracts.base import Event
from shared.contracts.schedule import ServiceSuspended, TriggerFired
from shared.runtime.logging import mask_url

from .calendar import (
    Calendar,
    Fire,
    Miss,
    Occurrence,
    Skip,
    Suspend,
    TriggerSpec,
    decide,
    due,
    fired_event,
    missed_event,
    next_fire,
    suspended_event,
)
from .calendar.catchup import Action
from .errors import LeaseLost, StateConflict, UnreadableClosures, UnreadableRecord
from .lease import Lease
from .metrics import SchedulerMetrics
from .records import Outcome, TriggerState
from .store import STATE_BUCKET, ClosureStore, StateStore, state_key

log = logging.getLogger(__name__)

#: A stored state handled through a time outside [now - age, now + ahead] is not believed.
MAX_STATE_AGE = timedelta(days=400)  # past what the SCHEDULE stream keeps (120 days)
MAX_STATE_AHEAD = timedelta(days=1)  # replicas' clocks differ by seconds, not a day


class Bus(Protocol):
    async def publish(self, event: Event) -> bool: ...
    async def fired_on(self, trigger: str, run_date: date) -> TriggerFired | None: ...
    async def latest_fired(self, trigger: str, now: datetime) -> TriggerFired | None: ...
    async def suspended_for(self, thursday: date) -> ServiceSuspended | None: ...
    async def with_cutoff_records(self, cal: Calendar, occs: Iterable[Occurrence]) -> Calendar: ...


def describe(exc: BaseException) -> str:
    """A short description of ``exc`` for the logs, without URL credentials."""
    return mask_url(str(exc))[:200]


@dataclass
class _Cached:
    state: TriggerState
    revision: int


class Scheduler:
    def __init__(
        self,
        *,
        calendar: Calendar,
        state: StateStore,
        closures: ClosureStore,
        lease: Lease,
        bus: Bus,
        clock: Clock,
        metrics: SchedulerMetrics,
        renew_interval: float = 3.0,
    ) -> None:
        self.calendar = calendar
        self._state = state
        self._closures = closures
        self.lease = lease
        self._bus = bus
        self._clock = clock
        self._metrics = metrics
        self._renew = renew_interval
        self._cache: dict[str, _Cached] = {}
        self.started = False

    @property
    def leading(self) -> bool:
        return self.lease.held

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: lead or stand by. On a graceful stop the lease is released;
        a cancelled (crashed) replica keeps it until it expires."""
        self.started = True
        while not stop.is_set():
            await self._step()
            await self._wait(stop)
        await self.lease.release()
        self._metrics.leader.set(0)

    async def _step(self) -> None:
        try:
            if await self._lead():
                await self.tick()
        except (LeaseLost, StateConflict) as exc:
            log.warning("scheduler.step_down", extra={"cause": type(exc).__name__})
            self._step_down()
        except (NatsError, TimeoutError, ScanError) as exc:
            # Transient (a ScanError is a KV or stream read the server did not complete).
            # Nothing was recorded as handled: the next tick retries the same occurrences.
            log.warning(
                "scheduler.tick_failed",
                extra={"error": type(exc).__name__, "detail": describe(exc)},
            )
        except UnreadableClosures as exc:
            # Fail safe: firing on a day staff closed is the worse error. Nothing was
            # recorded as handled: the next tick retries (and logs this again).
            log.error(
                "scheduler.closures_unreadable",
                extra={"keys": exc.keys, "detail": describe(exc)},
            )

    async def _lead(self) -> bool:
        if self.lease.held:
            if await self.lease.renew():
                return True
            self._step_down()
            return False
        if await self.lease.try_acquire(self._clock.now()):
            self._cache.clear()  # another leader may have moved the state on
            self._metrics.leader.set(1)
            return True
        return False

    def _step_down(self) -> None:
        self.lease.revision = None
        self._cache.clear()
        self._metrics.leader.set(0)

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until the next occurrence (on the service clock), ``stop``, or the renewal time."""
        waits: list[Coroutine[Any, Any, Any]] = [stop.wait()]
        upcoming = next_fire(self._clock.now(), self.calendar) if self.leading else None
        if upcoming is not None:
            waits.append(self._clock.sleep_until(upcoming.nominal))
        tasks = [asyncio.ensure_future(w) for w in waits]
        try:
            await asyncio.wait(tasks, timeout=self._renew, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def tick(self) -> None:
        """Handle every due occurrence of every trigger (as leader)."""
        now = self._clock.now()
        pending: list[tuple[TriggerSpec, _Cached]] = []
        for spec in self.calendar.triggers:
            cached = await self._load(spec, now)
            if due(spec, cached.state.handled_through, now, self.calendar):
                pending.append((spec, cached))
        if not pending:
            return
        calendar = self.calendar.with_closures(await self._closures.closures())
        for spec, cached in pending:
            await self._handle(spec, cached, await self._followed(spec, cached, calendar, now), now)

    async def _followed(
        self, spec: TriggerSpec, cached: _Cached, calendar: Calendar, now: datetime
    ) -> Calendar:
        """For a trigger that follows its batch's cutoff (the Saturday mail): ``calendar``
        with what the cutoffs of its due batches did, read from the stream now (so a cutoff
        handled earlier in this tick counts). Other triggers: ``calendar`` as it is."""
        if not spec.follows_cutoff:
            return calendar
        occs = due(spec, cached.state.handled_through, now, calendar)
        return await self._bus.with_cutoff_records(calendar, occs)

    async def _load(self, spec: TriggerSpec, now: datetime) -> _Cached:
        cached = self._cache.get(spec.name)
        if cached is None:
            cached = await self._read_state(spec, now)
            self._cache[spec.name] = cached
        return cached

    async def _read_state(self, spec: TriggerSpec, now: datetime) -> _Cached:
        try:
            found = await self._state.get(spec.name)
        except UnreadableRecord as exc:
            return await self._rebuild(spec, exc, now)
        if found is not None:
            state, revision = found
            if not now - MAX_STATE_AGE <= state.handled_through <= now + MAX_STATE_AHEAD:
                # Readable but not believable (written by hand or by another tool): a
                # catch-up over years, or nothing fired until a far date. Rebuilt.
                odd = UnreadableRecord(
                    STATE_BUCKET, state_key(spec.name), revision, "handled_through out of range"
                )
                return await self._rebuild(spec, odd, now)
            return _Cached(state, revision)
        # First start: nothing in the past is fired (use `schedule fire` for that).
        state = self._new_state(now, None, "init")
        cached = _Cached(state, await self._state.save(spec.name, state, last=None))
        log.info("scheduler.state_initialised", extra={"trigger": spec.name})
        return cached

    async def _rebuild(
        self, spec: TriggerSpec, unreadable: UnreadableRecord, now: datetime
    ) -> _Cached:
        """A fresh state for ``spec``, handled through now as on a first start, written
        over the unreadable one (CAS at its revision). Nothing missed meanwhile is fired
        (fail safe: a week that staff paused or closed leaves no trace in the stream, so
        catching up from the last fire could mail it); the log names the last fire so
        staff can check ``otayori schedule plan`` and ``fire`` what is missing."""
        last = await self._bus.latest_fired(spec.name, now)
        state = self._new_state(now, last.occurrence_id if last else None, "init")
        revision = await self._state.save(spec.name, state, last=unreadable.revision)
        log.error(
            "scheduler.state_rebuilt",
            extra={
                "trigger": spec.name,
                "revision": unreadable.revision,
                "handled_through": state.handled_through.isoformat(),
                "last_fired": last.occurrence_id if last else None,
                "detail": unreadable.detail,
            },
        )
        return _Cached(state, revision)

    def _new_state(self, through: datetime, last: str | None, outcome: Outcome) -> TriggerState:
        return TriggerState(
            handled_through=through,
            last_occurrence=last,
            last_outcome=outcome,
            by=self.lease.holder,
            lease_revision=self.lease.revision or 0,
            updated_at=self._clock.now(),
        )

    async def _handle(
        self, spec: TriggerSpec, cached: _Cached, calendar: Calendar, now: datetime
    ) -> None:
        occs = due(spec, cached.state.handled_through, now, calendar)
        paused = await self._paused(spec.name)
        outcome: Outcome = "skipped"
        for action in decide(occs, now, spec, paused=paused):
            outcome = await self._execute(action, now)
        state = self._new_state(occs[-1].nominal, occs[-1].id, outcome)
        revision = await self._state.save(spec.name, state, last=cached.revision)
        self._cache[spec.name] = _Cached(state, revision)

    async def _paused(self, trigger: str) -> bool:
        """Whether ``trigger`` is paused; an unreadable pause counts as one (fail safe)."""
        try:
            return await self._state.paused(trigger) is not None
        except UnreadableRecord as exc:
            log.error(
                "scheduler.pause_unreadable",
                extra={
                    "trigger": trigger,
                    "key": exc.key,
                    "revision": exc.revision,
                    "detail": exc.detail,
                },
            )
            return True

    async def _execute(self, action: Action, now: datetime) -> Outcome:
        if isinstance(action, Fire):
            return await self._fire(action, now)
        if isinstance(action, Miss):
            return await self._miss(action, now)
        if isinstance(action, Suspend):
            return await self._suspend(action, now)
        return self._skip(action)

    async def _fire(self, action: Fire, now: datetime) -> Outcome:
        occ = action.occurrence
        if await self._already_fired(occ.trigger, occ.run_date, occ.id):
            return "fired"
        await self.lease.fence()
        stored = await self._bus.publish(fired_event(occ, now, coalesced=action.coalesced))
        if stored:  # a duplicate was counted by the replica that stored it
            self._metrics.fired.labels(occ.trigger).inc()
            if action.coalesced:
                self._metrics.coalesced.labels(occ.trigger).inc(action.coalesced)
        log.info(
            "scheduler.fired" if stored else "scheduler.fired_duplicate",
            extra={
                "trigger": occ.trigger,
                "occurrence": occ.id,
                "coalesced": action.coalesced,
                "late_s": int(action.late / timedelta(seconds=1)),
            },
        )
        return "fired"

    async def _miss(self, action: Miss, now: datetime) -> Outcome:
        occ = action.occurrence
        if await self._already_fired(occ.trigger, occ.run_date, occ.id):
            return "fired"
        await self.lease.fence()
        await self._bus.publish(missed_event(occ, now, action.reason))
        self._metrics.missed.labels(occ.trigger).inc()
        log.warning(
            "scheduler.missed",
            extra={"trigger": occ.trigger, "occurrence": occ.id, "reason": action.reason},
        )
        return "missed"

    async def _already_fired(self, trigger: str, run_date: date, occurrence: str) -> bool:
        """Whether the stream holds a fire of ``trigger`` for ``run_date``: by a leader that
        died before recording it, by ``schedule fire`` (even long before), or at another
        time of day before the trigger's time setting was changed. Not fired again."""
        found = await self._bus.fired_on(trigger, run_date)
        if found is None:
            return False
        log.info(
            "scheduler.already_fired",
            extra={"trigger": trigger, "occurrence": occurrence, "fired": found.event_id},
        )
        return True

    async def _suspend(self, action: Suspend, now: datetime) -> Outcome:
        """Report the suspended week once: not when the stream already holds its
        ServiceSuspended (normally published by the cutoff on Thursday)."""
        occ = action.occurrence
        earlier = await self._bus.suspended_for(occ.batch.thursday) if occ.batch else None
        stored = False
        if earlier is None:
            await self.lease.fence()
            stored = await self._bus.publish(suspended_event(occ, now, action.reason))
        self._metrics.skipped.labels(occ.trigger, "suspended").inc()
        log.info(
            "scheduler.suspended",
            extra={
                "trigger": occ.trigger,
                "occurrence": occ.id,
                "reason": action.reason,
                "reported": stored,
                "earlier": earlier.event_id if earlier else None,
            },
        )
        return "suspended"

    def _skip(self, action: Skip) -> Outcome:
        occ = action.occurrence
        if action.reason != "coalesced":
            self._metrics.skipped.labels(occ.trigger, action.reason).inc()
        log.info(
            "scheduler.skipped",
            extra={"trigger": occ.trigger, "occurrence": occ.id, "reason": action.reason},
        )
        return "skipped"
