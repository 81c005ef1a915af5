"""KV adapters: trigger state and pauses (``schedule_state``), runtime closures
(``schedule_closures``), and reading the leader lease (``schedule_lease``). Writes that race
(state) are compare-and-set.

Any client can write these buckets, and an older or newer version may have written them:
a value that is not a valid record raises ``UnreadableRecord`` (key and revision, never the
value) and the caller decides what is safe (see ``engine``)."""

from __future__ import annotations

from typing import TypeVar

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ValidationError

from shared.bus import kvscan

from .calendar.model import Closure
from .errors import StateConflict, UnreadableClosures, UnreadableRecord
from .lease import LEASE_KEY
from .records import ForcedRecord, LeaseRecord, PauseRecord, RuntimeClosure, TriggerState

STATE_BUCKET = "schedule_state"
CLOSURES_BUCKET = "schedule_closures"
LEASE_BUCKET = "schedule_lease"


R = TypeVar("R", bound=BaseModel)


def state_key(trigger: str) -> str:
    return f"trigger.{trigger}"


def _pause_key(trigger: str) -> str:
    return f"pause.{trigger}"


def read(model: type[R], bucket: str, key: str, value: bytes | None, revision: int) -> R:
    """``value`` as ``model``, or ``UnreadableRecord`` (an empty value is unreadable too)."""
    try:
        return model.model_validate_json(value or b"")
    except ValidationError as exc:
        raise UnreadableRecord.of(bucket, key, revision, exc) from None


async def _entry(kv: KeyValue, model: type[R], bucket: str, key: str) -> tuple[R, int] | None:
    """The record at ``key`` and its revision; None when absent, ``UnreadableRecord``
    (with the revision) when the value is not a valid ``model``."""
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    revision = entry.revision or 0
    return read(model, bucket, key, entry.value, revision), revision


class StateStore:
    """Per-trigger state (CAS), pauses and forced-run records."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext) -> StateStore:
        return cls(await js.key_value(STATE_BUCKET))

    async def get(self, trigger: str) -> tuple[TriggerState, int] | None:
        """The state and its revision; raises ``UnreadableRecord`` (with the revision, for
        a compare-and-set over it) when the value is not a valid state."""
        return await _entry(self._kv, TriggerState, STATE_BUCKET, state_key(trigger))

    async def save(self, trigger: str, state: TriggerState, last: int | None) -> int:
        """Write ``state`` if the stored revision is still ``last`` (None: must not exist)."""
        key = state_key(trigger)
        data = state.model_dump_json().encode()
        try:
            if last is None:
                return await self._kv.create(key, data)
            return await self._kv.update(key, data, last=last)
        except KeyWrongLastSequenceError as exc:
            raise StateConflict(key) from exc

    async def pause(self, trigger: str, record: PauseRecord) -> None:
        await self._kv.put(_pause_key(trigger), record.model_dump_json().encode())

    async def resume(self, trigger: str) -> bool:
        """Remove the pause, readable or not; False when the trigger was not paused."""
        try:
            await self._kv.get(_pause_key(trigger))
        except KeyNotFoundError:
            return False
        await self._kv.delete(_pause_key(trigger))
        return True

    async def paused(self, trigger: str) -> PauseRecord | None:
        """The pause, if any; raises ``UnreadableRecord`` when there is one that is not a
        valid record (callers treat the trigger as paused)."""
        found = await _entry(self._kv, PauseRecord, STATE_BUCKET, _pause_key(trigger))
        return found[0] if found else None

    async def record_forced(self, trigger: str, record: ForcedRecord) -> None:
        await self._kv.put(f"forced.{trigger}", record.model_dump_json().encode())


async def leader(js: JetStreamContext) -> tuple[LeaseRecord, int] | None:
    """Who holds the leader lease and its revision; None when nobody does (the entry
    expires 10 s after its holder last renewed it). ``UnreadableRecord`` when the value is
    not a lease record."""
    return await _entry(await js.key_value(LEASE_BUCKET), LeaseRecord, LEASE_BUCKET, LEASE_KEY)


class ClosureStore:
    """Closures added at runtime (``otayori schedule close`` / ``reopen``)."""

    def __init__(self, kv: KeyValue, js: JetStreamContext) -> None:
        self._kv = kv
        self._js = js

    @classmethod
    async def open(cls, js: JetStreamContext) -> ClosureStore:
        return cls(await js.key_value(CLOSURES_BUCKET), js)

    async def records(self) -> list[RuntimeClosure]:
        """Every runtime closure; raises ``UnreadableClosures`` naming every value that is
        not a valid closure (which days are closed is then unknown)."""
        records, unreadable = await self.scan()
        if unreadable:
            raise UnreadableClosures(tuple(unreadable))
        return records

    async def scan(self) -> tuple[list[RuntimeClosure], list[UnreadableRecord]]:
        """The readable runtime closures and the unreadable values, both in key order."""
        records: list[RuntimeClosure] = []
        unreadable: list[UnreadableRecord] = []
        for item in await kvscan.scan(self._js, CLOSURES_BUCKET):
            try:
                records.append(
                    read(RuntimeClosure, CLOSURES_BUCKET, item.key, item.value, item.revision)
                )
            except UnreadableRecord as exc:
                unreadable.append(exc)
        return records, unreadable

    async def closures(self) -> tuple[Closure, ...]:
        return tuple(record.closure() for record in await self.records())

    async def add(self, record: RuntimeClosure) -> None:
        await self._kv.put(record.key, record.model_dump_json().encode())

    async def remove(self, key: str) -> bool:
        try:
            await self._kv.get(key)
        except KeyNotFoundError:
            return False
        await self._kv.delete(key)
        return True
