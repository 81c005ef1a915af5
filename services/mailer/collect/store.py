"""``mail_pending`` and ``mail_returned`` KV adapters; every change is a compare-and-set.

``mail_returned`` holds what ended before its mail went out: returned loans
(``loan.<loan>``, no reminder for them) and cancelled holds (``hold.<hold>``, the newest
``HoldCancelled``: no ready mail for a report secured at or before it).

A lost race (another replica, or a redelivery running alongside) re-reads and re-applies
the pure change, so concurrent collectors never overwrite each other's events.

A run decodes every patron's entry and writes it twice, so entries are decoded with a model
narrowed to the kind of event their key collects (same entry or same error as the full
model, without its union's trials) and encoded straight to bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar, get_args

from nats.js import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, TypeAdapter, create_model

from services.mailer.plan import addresses, eligibility, grouping
from services.mailer.plan.grouping import Eligible, Siblings
from services.mailer.plan.keys import (
    ADDRESS_FILTER,
    address_change_key,
    cancelled_key,
    pending_kind,
    returned_key,
)
from services.mailer.plan.model import (
    KIND_OF_EVENT,
    PendingEntry,
    PendingEvent,
    PendingSource,
    narrow_first,
    reclassed,
)
from shared.bus import kvscan
from shared.bus.fastpub import write_all
from shared.bus.kvscan import CasWrite, KvWrites
from shared.contracts.ils import HoldCancelled, LoanReturned, PatronEmailChanged
from shared.contracts.mail import MailKind

PENDING_BUCKET = "mail_pending"
PENDING_STREAM = f"KV_{PENDING_BUCKET}"
PENDING_SUBJECTS = f"$KV.{PENDING_BUCKET}."
RETURNED_BUCKET = "mail_returned"
MAX_CAS_ROUNDS = 50
N = TypeVar("N", bound=BaseModel)  # a record kept newest-wins (a change, a cancellation)


class ConflictError(RuntimeError):
    """A key kept changing under us (the handler is retried)."""


def _narrow(event_type: type[PendingSource]) -> type[PendingEntry]:
    """``PendingEntry`` whose events are all ``event_type`` (decoding only, never stored)."""
    event: type[PendingEvent] = create_model(
        f"PendingEvent{event_type.__name__}", __base__=PendingEvent, event=(event_type, ...)
    )
    narrow: type[PendingEntry] = create_model(
        f"PendingEntry{event_type.__name__}",
        __base__=PendingEntry,
        events=(tuple[event, ...], ()),
    )
    return narrow


#: Per kind of entry, the model validating only that kind's event type. ``PendingSource``'s
#: smart union tries every member on every event; the event models forbid extra fields and
#: have distinct required fields, so an event validates as exactly one member or as none:
#: the narrow model accepts the same payloads of that kind with the same values, without
#: trying the other members.
_NARROW: dict[MailKind, type[PendingEntry]] = {
    KIND_OF_EVENT[t]: _narrow(t) for t in get_args(PendingSource)
}


def decode_entry(key: str, data: bytes) -> PendingEntry:
    """``PendingEntry.model_validate_json(data)`` for the value of ``key``: the same entry
    (fields set included) or the same error, faster for the kind of event the key collects."""
    kind = pending_kind(key)
    narrow = _NARROW.get(kind) if kind is not None else None
    return narrow_first(narrow, PendingEntry, data, _widened)


def _widened(parsed: PendingEntry) -> PendingEntry:
    """The narrow model's entry as a ``PendingEntry`` (its events as ``PendingEvent``s):
    the same validated values, the same fields set."""
    for held in parsed.events:
        reclassed(held, PendingEvent)
    return reclassed(parsed, PendingEntry)


#: ``entry.model_dump_json().encode()``'s bytes without the detour through ``str``.
_ENTRY_JSON = TypeAdapter(PendingEntry)


def encode_entry(entry: PendingEntry) -> bytes:
    return _ENTRY_JSON.dump_json(entry)


@dataclass(frozen=True, slots=True)
class Stored:
    key: str
    entry: PendingEntry
    revision: int


Change = Callable[[PendingEntry], PendingEntry | None]


WritesFor = Callable[[KeyValue, str], KvWrites]


class PendingStore:
    def __init__(
        self,
        js: JetStreamContext,
        pending: KeyValue,
        returned: KeyValue,
        *,
        writes: KvWrites | None = None,
    ) -> None:
        self._js = js
        self._kv = pending
        self._returned = returned
        # create / update / delete of pending entries (a run writes two per mail);
        # reads and the other keys stay on ``pending``.
        self._writes: KvWrites = writes or pending

    @classmethod
    async def open(cls, js: JetStreamContext, writes: WritesFor | None = None) -> PendingStore:
        pending = await js.key_value(PENDING_BUCKET)
        returned = await js.key_value(RETURNED_BUCKET)
        return cls(
            js, pending, returned, writes=writes(pending, PENDING_BUCKET) if writes else None
        )

    async def read(self, key: str) -> Stored | None:
        value, revision = await kvscan.get_value(self._kv, key)
        return None if value is None else Stored(key, decode_entry(key, value), revision)

    async def scan(self, pattern: str) -> list[Stored]:
        """Every entry with events waiting whose key matches ``pattern`` (a NATS wildcard);
        entries holding only tombstones are left out."""
        return [s for s in await self.scan_all(pattern) if grouping.waiting(s.entry)]

    async def scan_all(self, pattern: str) -> list[Stored]:
        """Every entry whose key matches ``pattern``, tombstone-only ones included."""
        items = await kvscan.scan(self._js, PENDING_BUCKET, pattern)
        return [Stored(i.key, decode_entry(i.key, i.value), i.revision) for i in items if i.value]

    async def purge(self, patterns: Iterable[str]) -> None:
        """Remove every key matching each pattern, history and all (idempotent)."""
        for pattern in patterns:
            await self._js.purge_stream(PENDING_STREAM, subject=PENDING_SUBJECTS + pattern)

    async def change(
        self, key: str, change: Change, *, hint: Stored | None = None
    ) -> Stored | None:
        """Apply ``change`` with CAS; ``None`` from it = leave as is. Empty (no events, no
        tombstones) → key deleted."""

        def differing(entry: PendingEntry) -> PendingEntry | None:
            new = change(entry)
            return None if new is None or new is entry or new == entry else new

        return await self._apply(key, differing, hint)

    async def _apply(self, key: str, change: Change, hint: Stored | None) -> Stored | None:
        """``change``'s answer is ``None`` to leave the entry as is, else an entry that
        differs from the one it was given (no comparison here: the change knows)."""
        current = hint
        for _ in range(MAX_CAS_ROUNDS):
            if current is None:
                current = await self.read(key)
            if current is None:
                return None
            new = change(current.entry)
            if new is None:
                return current
            try:
                return await self._write(key, new, current.revision)
            except KeyWrongLastSequenceError:
                current = None
        raise ConflictError(f"{key}: too many concurrent changes")

    async def add(self, key: str, kind: MailKind, patron_id: str, event: PendingSource) -> bool:
        """Add an event to the patron's entry (creating it); False if it was already there."""
        for _ in range(MAX_CAS_ROUNDS):
            current = await self.read(key)
            base = current.entry if current else PendingEntry(kind=kind, patron_id=patron_id)
            new = grouping.add_event(base, event)
            if new is None:
                return False
            try:
                await self._write(key, new, current.revision if current else 0)
                return True
            except KeyWrongLastSequenceError:
                continue
        raise ConflictError(f"{key}: too many concurrent changes")

    async def assign(
        self,
        stored: Sequence[Stored],
        run: str,
        eligible: Eligible,
        useless: Eligible,
        siblings: Siblings | None = None,
    ) -> list[tuple[tuple[PendingSource, ...], Stored | None]]:
        """Mark (or find) this run's events of each entry; for each, them and the entry."""
        taken: list[tuple[PendingSource, ...]] = [()] * len(stored)

        def change_of(n: int) -> Change:
            def change(entry: PendingEntry) -> PendingEntry | None:
                result = grouping.assign(entry, run, eligible, useless, siblings)
                taken[n] = result.taken
                # ``changed`` is exact: a changed entry differs from the one given.
                return result.entry if result.changed else None

            return change

        written = await self._apply_all([(s.key, change_of(n), s) for n, s in enumerate(stored)])
        # An entry gone since it was scanned (its write met a conflict, the re-read found
        # nothing) takes nothing: what its hint offered is another writer's now.
        return [(t if w is not None else (), w) for t, w in zip(taken, written, strict=True)]

    async def release(
        self, entries: Sequence[tuple[str, Stored | None]], run: str, *, today: date | None = None
    ) -> None:
        """Take this run's events out of each entry (key, and the entry as last seen)."""

        def change(entry: PendingEntry) -> PendingEntry | None:
            # ``release`` answers ``entry`` itself when it holds none of the run's events,
            # else an entry with fewer events.
            released = grouping.release(entry, run, today)
            return None if released is entry else released

        await self._apply_all([(key, change, hint) for key, hint in entries])

    async def _apply_all(
        self, changes: Sequence[tuple[str, Change, Stored | None]]
    ) -> list[Stored | None]:
        """``_apply`` for many keys: each change is made on its hint and the writes are sent
        together; a key without a hint, or whose write meets a conflict, goes through
        ``_apply`` on its own (it re-reads). Any other error is raised once every write
        has its answer."""
        results: list[Stored | None] = []
        writes: list[CasWrite] = []
        sent: list[tuple[int, PendingEntry]] = []
        alone: list[int] = []
        for n, (key, change, hint) in enumerate(changes):
            results.append(hint)
            if hint is None or not hint.revision:
                alone.append(n)
                continue
            new = change(hint.entry)
            if new is None:
                continue
            empty = grouping.is_empty(new)
            writes.append((key, None if empty else encode_entry(new), hint.revision))
            sent.append((n, new))
        answers = await write_all(self._writes, writes)
        errors: list[Exception] = []
        for (n, new), (key, value, _), answer in zip(sent, writes, answers, strict=True):
            if isinstance(answer, KeyWrongLastSequenceError):
                alone.append(n)
            elif isinstance(answer, Exception):
                errors.append(answer)
            else:
                results[n] = None if value is None else Stored(key, new, answer)
        if errors:
            raise errors[0]
        for n in sorted(alone):
            key, change, hint = changes[n]
            stale = hint is not None and bool(hint.revision)  # its write met a conflict
            results[n] = await self._apply(key, change, None if stale else hint)
        return results

    async def _write(self, key: str, entry: PendingEntry, last: int) -> Stored | None:
        if grouping.is_empty(entry):
            if last:
                await self._cas_delete(key, last)
            return None
        data = encode_entry(entry)
        rev = await (
            self._writes.update(key, data, last=last) if last else self._writes.create(key, data)
        )
        return Stored(key, entry, rev)

    async def _cas_delete(self, key: str, last: int) -> None:
        await kvscan.cas_delete(self._writes, key, last)

    # -- returned loans --------------------------------------------------------------------

    async def mark_returned(self, event: LoanReturned) -> None:
        await self._returned.put(returned_key(event.loan_id), event.model_dump_json().encode())

    async def is_returned(self, loan_id: str) -> bool:
        value, _ = await kvscan.get_value(self._returned, returned_key(loan_id))
        return value is not None

    async def returned_among(self, loan_ids: set[str]) -> set[str]:
        ids = sorted(loan_ids)
        flags = await asyncio.gather(*(self.is_returned(i) for i in ids))
        return {i for i, flag in zip(ids, flags, strict=True) if flag}

    # -- cancelled holds -------------------------------------------------------------------

    async def record_cancelled(self, event: HoldCancelled) -> HoldCancelled:
        """Keep the hold's newest cancellation; returns the one kept (``event`` unless a
        newer one is held already)."""
        key = cancelled_key(event.hold_id)
        held = await _keep_newest(
            self._returned,
            key,
            event,
            lambda: kvscan.get_model(self._returned, key, HoldCancelled),
            lambda held: eligibility.newer_cancellation(held, event) is event,
        )
        return held or event

    async def cancellation(self, hold_id: str) -> HoldCancelled | None:
        held, _ = await kvscan.get_model(self._returned, cancelled_key(hold_id), HoldCancelled)
        return held

    async def cancelled_among(self, hold_ids: set[str]) -> dict[str, HoldCancelled]:
        """The held cancellation of each of ``hold_ids`` that has one."""
        ids = sorted(hold_ids)
        held = await asyncio.gather(*(self.cancellation(i) for i in ids))
        return {i: c for i, c in zip(ids, held, strict=True) if c is not None}

    # -- address changes -------------------------------------------------------------------

    async def record_address(self, event: PatronEmailChanged) -> bool:
        """Keep the patron's newest address change; False when a newer one is held."""
        key = address_change_key(event.patron_id)
        held = await _keep_newest(
            self._kv,
            key,
            event,
            lambda: self._read_change(key),
            lambda held: addresses.newer_change(held, event) is not None,
        )
        return held is None

    async def address_change(self, patron_id: str) -> PatronEmailChanged | None:
        held, _ = await self._read_change(address_change_key(patron_id))
        return held

    async def address_changes(self) -> dict[str, PatronEmailChanged]:
        """Every held address change by patron id (one scan for a whole run)."""
        items = await kvscan.scan(self._js, PENDING_BUCKET, ADDRESS_FILTER)
        changes = [PatronEmailChanged.model_validate_json(i.value) for i in items if i.value]
        return {change.patron_id: change for change in changes}

    async def _read_change(self, key: str) -> tuple[PatronEmailChanged | None, int]:
        return await kvscan.get_model(self._kv, key, PatronEmailChanged)

    async def put_marker(self, key: str, data: bytes) -> None:
        await self._kv.put(key, data)

    async def get_marker(self, key: str) -> bytes | None:
        value, _ = await kvscan.get_value(self._kv, key)
        return value


async def _keep_newest(
    kv: KeyValue,
    key: str,
    event: N,
    read: Callable[[], Awaitable[tuple[N | None, int]]],
    wins: Callable[[N | None], bool],
) -> N | None:
    """Write ``event`` under ``key`` by compare-and-set when it ``wins`` over the value
    held there; returns ``None`` when written, else the held value that stays."""
    for _ in range(MAX_CAS_ROUNDS):
        held, revision = await read()
        if not wins(held):
            return held
        data = event.model_dump_json().encode()
        try:
            await (kv.update(key, data, last=revision) if revision else kv.create(key, data))
            return None
        except KeyWrongLastSequenceError:
            continue
    raise ConflictError(f"{key}: too many concurrent changes")
