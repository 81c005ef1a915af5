"""JetStream KV adapters: the ledger (read), address index, queue, suppressions, seen ids.

Every write is a compare-and-set (``create`` for a new key, ``update(last=rev)`` else) in
a bounded retry loop, so concurrent writers never lose each other's changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Generic, Literal, TypeVar

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field

from services.bounce.errors import ConflictError
from shared.bus import kvscan
from shared.contracts.staff import QueueEntry
from shared.mailrecord import MailRecord, Suppression, address_key

M = TypeVar("M", bound=BaseModel)
_ATTEMPTS = 20
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

#: Errors that say the bus or a bucket is unreachable or busy right now, not that the
#: message being handled is bad: handling is retried later and never counts as poison.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,  # also nats.errors.TimeoutError and asyncio.TimeoutError
    ConflictError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoRespondersError,
    nats.errors.NoServersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServerError,
    nats.js.errors.ServiceUnavailableError,
)


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` is an outage of NATS/JetStream (transient) rather than a bad input."""
    return isinstance(exc, UNAVAILABLE)


def patron_key(patron_id: str) -> str:
    """KV-safe, reversible key for a patron id (``:``, ``.`` and ``=`` are escaped)."""
    return "".join(c if c in _SAFE else f"={ord(c):02X}" for c in patron_id)


class AddressPatrons(BaseModel):
    """Value of ``bounce_addresses[address_key(addr)]``: every patron using the address.

    ``moved_away`` lists the patrons who used it and changed their address since
    (``ils.patron.email_changed``): a late bounce of a mail sent to it before the change no
    longer flags them. Entries written before this field existed read as nobody moved.
    """

    model_config = ConfigDict(extra="forbid")
    patron_ids: list[str] = Field(default_factory=list)
    moved_away: list[str] = Field(default_factory=list)
    #: When each patron in ``moved_away`` left (the change's ``occurred_at``): an ILS event
    #: that still carries the address but occurred before that is stale and moves nobody
    #: back. Absent for entries written before it: those take any event as a move back.
    moved_at: dict[str, datetime] = Field(default_factory=dict)
    updated_at: datetime


class SeenBounce(BaseModel):
    """Value of ``bounce_seen[bounce_id]``: the bounce was fully handled."""

    model_config = ConfigDict(extra="forbid")
    disposition: Literal["processed", "quarantine"]
    at: datetime
    recipients: int = 0


class Bucket(Generic[M]):
    """Typed JSON values in one KV bucket with CAS updates."""

    def __init__(
        self,
        kv: KeyValue,
        model: type[M],
        name: str,
        list_keys: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        self._kv = kv
        self._list_keys = list_keys
        self._model = model
        self.name = name

    async def get(self, key: str) -> tuple[M | None, int]:
        """The value and its revision (``None, 0`` when absent)."""
        return await kvscan.get_model(self._kv, key, self._model)

    async def put(self, key: str, value: M) -> None:
        await self._kv.put(key, value.model_dump_json().encode())

    async def update(self, key: str, change: Callable[[M | None], M | None]) -> M | None:
        """Apply ``change`` to the current value with compare-and-set; ``None`` = no write."""
        for _ in range(_ATTEMPTS):
            current, rev = await self.get(key)
            new = change(current)
            if new is None:
                return current
            data = new.model_dump_json().encode()
            try:
                if rev == 0:
                    await self._kv.create(key, data)
                else:
                    await self._kv.update(key, data, last=rev)
            except KeyWrongLastSequenceError:
                continue
            return new
        raise ConflictError(self.name, key)

    async def delete_when(self, key: str, condition: Callable[[M], bool]) -> bool:
        """Delete ``key`` if its current value meets ``condition``, compare-and-set (a
        concurrent write is re-read, never deleted blindly); True when the key is gone."""
        for _ in range(_ATTEMPTS):
            current, rev = await self.get(key)
            if current is None:
                return True
            if not condition(current):
                return False
            try:
                await kvscan.cas_delete(self._kv, key, rev)
            except KeyWrongLastSequenceError:
                continue
            return True
        raise ConflictError(self.name, key)

    async def keys(self) -> list[str]:
        if self._list_keys is not None:
            return await self._list_keys()
        try:
            return list(await self._kv.keys())
        except NoKeysError:
            return []

    async def values(self) -> list[M]:
        found: list[M] = []
        for key in await self.keys():
            value, _ = await self.get(key)
            if value is not None:
                found.append(value)
        return found


class Stores:
    """All the buckets the bounce service reads and writes."""

    def __init__(
        self,
        ledger: Bucket[MailRecord],
        addresses: Bucket[AddressPatrons],
        queue: Bucket[QueueEntry],
        suppressions: Bucket[Suppression],
        seen: Bucket[SeenBounce],
    ) -> None:
        self.ledger = ledger
        self.addresses = addresses
        self.queue = queue
        self.suppressions = suppressions
        self.seen = seen

    @classmethod
    async def open(cls, js: JetStreamContext) -> Stores:
        async def bucket(name: str, model: type[M]) -> Bucket[M]:
            # Listing goes through the race-free scan (see shared.bus.kvscan).
            return Bucket(await js.key_value(name), model, name, lambda: kvscan.keys(js, name))

        return cls(
            await bucket("mail_ledger", MailRecord),
            await bucket("bounce_addresses", AddressPatrons),
            await bucket("bounce_queue", QueueEntry),
            await bucket("suppressions", Suppression),
            await bucket("bounce_seen", SeenBounce),
        )

    # -- Lookups protocol (correlation) ------------------------------------------------
    async def mail(self, mail_id: str) -> MailRecord | None:
        record, _ = await self.ledger.get(mail_id)
        return record

    async def patrons_for(self, address: str) -> list[str]:
        value, _ = await self.addresses.get(address_key(address))
        return list(value.patron_ids) if value else []

    async def moved_away(self, address: str) -> frozenset[str]:
        """Patrons who used ``address`` and have changed it since (per the index)."""
        value, _ = await self.addresses.get(address_key(address))
        return frozenset(value.moved_away) if value else frozenset()
