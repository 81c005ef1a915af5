"""KV adapters: trigger state and pauses (``schedule_state``), runtime closures
(``schedule_closures``). Writes that race (state) are compare-and-set."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from shared.bus import kvscan

from .calendar.model import Closure
from .errors import StateConflict
from .records import ForcedRecord, PauseRecord, RuntimeClosure, TriggerState

STATE_BUCKET = "schedule_state"
CLOSURES_BUCKET = "schedule_closures"
LEASE_BUCKET = "schedule_lease"


def _state_key(trigger: str) -> str:
    return f"trigger.{trigger}"


class StateStore:
    """Per-trigger state (CAS), pauses and forced-run records."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext) -> StateStore:
        return cls(await js.key_value(STATE_BUCKET))

    async def get(self, trigger: str) -> tuple[TriggerState, int] | None:
        try:
            entry = await self._kv.get(_state_key(trigger))
        except KeyNotFoundError:
            return None
        assert entry.value is not None and entry.revision is not None
        return TriggerState.model_validate_json(entry.value), entry.revision

    async def save(self, trigger: str, state: TriggerState, last: int | None) -> int:
        """Write ``state`` if the stored revision is still ``last`` (None: must not exist)."""
        key = _state_key(trigger)
        data = state.model_dump_json().encode()
        try:
            if last is None:
                return await self._kv.create(key, data)
            return await self._kv.update(key, data, last=last)
        except KeyWrongLastSequenceError as exc:
            raise StateConflict(key) from exc

    async def pause(self, trigger: str, record: PauseRecord) -> None:
        await self._kv.put(f"pause.{trigger}", record.model_dump_json().encode())

    async def resume(self, trigger: str) -> bool:
        """Remove the pause; False when the trigger was not paused."""
        if await self.paused(trigger) is None:
            return False
        await self._kv.delete(f"pause.{trigger}")
        return True

    async def paused(self, trigger: str) -> PauseRecord | None:
        try:
            entry = await self._kv.get(f"pause.{trigger}")
        except KeyNotFoundError:
            return None
        assert entry.value is not None
        return PauseRecord.model_validate_json(entry.value)

    async def record_forced(self, trigger: str, record: ForcedRecord) -> None:
        await self._kv.put(f"forced.{trigger}", record.model_dump_json().encode())


class ClosureStore:
    """Closures added at runtime (``otayori schedule close`` / ``reopen``)."""

    def __init__(self, kv: KeyValue, js: JetStreamContext) -> None:
        self._kv = kv
        self._js = js

    @classmethod
    async def open(cls, js: JetStreamContext) -> ClosureStore:
        return cls(await js.key_value(CLOSURES_BUCKET), js)

    async def records(self) -> list[RuntimeClosure]:
        items = await kvscan.scan(self._js, CLOSURES_BUCKET)
        return [RuntimeClosure.model_validate_json(item.value) for item in items]

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
