"""Suppressing a bad address for the mailer, and lifting it (email change, staff).

A patron holds the suppression of an address exactly while their queue entry holds it
(``queue.holds_address``). The entry and the suppression are two KV keys written by two
parties (the processor adds, staff resolve lifts), so each party, after writing the entry,
``settle``s the suppression to agree with it and re-reads the entry: when the entry changed
meanwhile the other party may have acted on an older view, and it settles again. Whoever
writes the entry last settles last, so the two end up agreeing whatever the interleaving.
"""

from __future__ import annotations

from datetime import datetime

from services.bounce.errors import ConflictError
from services.bounce.queue import holds_address
from services.bounce.stores import Stores, patron_key
from shared.mailrecord import Suppression

_SETTLE_ROUNDS = 20

REASON = "bounce: bad_address (宛先アドレスの誤り・不使用)"


async def suppress(stores: Stores, akey: str, patron_id: str, category: str, now: datetime) -> None:
    """Add ``patron_id`` to the suppression of the address ``akey`` (created if absent)."""

    def change(current: Suppression | None) -> Suppression | None:
        if current is None:
            return Suppression(reason=REASON, category=category, since=now, patron_ids=[patron_id])
        if patron_id in current.patron_ids:
            return None
        return current.model_copy(update={"patron_ids": [*current.patron_ids, patron_id]})

    await stores.suppressions.update(akey, change)


async def lift(stores: Stores, akey: str, patron_id: str) -> bool:
    """Release ``patron_id``'s hold on the suppression; delete it when nobody holds it.

    Returns True when the address may be mailed again.
    """
    remaining: list[str] = []

    def change(current: Suppression | None) -> Suppression | None:
        remaining.clear()
        if current is None or patron_id not in current.patron_ids:
            remaining.extend(current.patron_ids if current else [])
            return None
        remaining.extend(p for p in current.patron_ids if p != patron_id)
        return current.model_copy(update={"patron_ids": remaining.copy()})

    current = await stores.suppressions.update(akey, change)
    if current is None:
        return True
    if remaining:
        return False
    # Nobody holds it now, unless another patron's bounce suppressed it again meanwhile.
    return await stores.suppressions.delete_when(akey, lambda s: not s.patron_ids)


async def settle(
    stores: Stores, akey: str, patron_id: str, now: datetime, category: str = "bad_address"
) -> None:
    """Make ``patron_id``'s hold on the suppression of ``akey`` agree with their entry."""
    key = patron_key(patron_id)
    for _ in range(_SETTLE_ROUNDS):
        entry, revision = await stores.queue.get(key)
        if holds_address(entry, akey):
            await suppress(stores, akey, patron_id, category, now)
        else:
            await lift(stores, akey, patron_id)
        _, after = await stores.queue.get(key)
        if after == revision:
            return
    raise ConflictError(stores.queue.name, key)
