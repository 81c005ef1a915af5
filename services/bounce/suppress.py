"""Suppressing a bad address for the mailer, and lifting it (email change, staff).

A patron holds the suppression of an address exactly while their queue entry holds it
(``queue.holds_address``). The entry and the suppression are two KV keys written by two
parties (the processor adds, staff resolve lifts), so each party, after writing the entry,
``settle``s the suppression to agree with it and re-reads the entry: when the entry changed
meanwhile the other party may have acted on an older view, and it settles again. Whoever
writes the entry last settles last, so the two end up agreeing whatever the interleaving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from services.bounce.errors import BounceError, ConflictError
from services.bounce.queue import holds_address
from services.bounce.stores import Stores, patron_key
from shared.contracts.staff import QueueEntry
from shared.mailrecord import Suppression

_SETTLE_ROUNDS = 20
#: Rounds of lift-then-mark a resolve tries while bounces keep adding addresses.
_RESOLVE_ROUNDS = 20

#: The resolved entry (pure; ``None``: nothing to resolve); raises when it is refused.
Resolve = Callable[[QueueEntry | None], QueueEntry | None]

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


async def resolve_and_lift(
    stores: Stores,
    patron_id: str,
    resolve: Resolve,
    now: datetime,
    *,
    done: Callable[[QueueEntry], bool] = lambda _: False,
    also: Iterable[str] = (),
) -> QueueEntry | None:
    """Lift every suppression the flag holds, then write the resolved entry, then settle.

    Used by a staff resolve and by an email change. The lifts come first and are
    idempotent: when one fails nothing is marked yet and the same request (or message)
    simply does it again. The mark is refused (and the lifts redone) while the entry names
    an address not lifted yet (a bounce landed meanwhile). After the mark, ``settle``
    undoes a suppression a concurrent bounce re-wrote between a lift and the mark. The
    mark records the lifted addresses (``lifted_unsettled``) until they are settled, so
    when the settling fails, the retry (which finds the flag resolved and its
    ``address_keys`` cleared) still settles them; a refused resolve settles them too.

    ``done``: the entry already records this very resolve (a retry): nothing is marked.
    ``also``: addresses to bring in line besides those the flag names (an email change's
    old address), also when there is nothing to resolve. Returns the entry as marked (or
    as found), its ``lifted_unsettled`` settled.
    """
    key = patron_key(patron_id)
    extra = set(also)
    lifted: set[str] = set()
    for _ in range(_RESOLVE_ROUNDS):
        current, _ = await stores.queue.get(key)
        if current is None or not done(current):
            resolved = await _resolve_or_settle(stores, patron_id, resolve, current, now)
            if resolved is not None:
                for akey in sorted({*(current.address_keys if current else ()), *extra} - lifted):
                    await lift(stores, akey, patron_id)
                    lifted.add(akey)
                written = await _mark(stores, key, resolve, lifted)
                if written is None:
                    continue  # a bounce named another address, or the flag changed: again
                current = written
        await _settle_lifted(stores, patron_id, lifted | extra, now)
        return current.model_copy(update={"lifted_unsettled": []}) if current else None
    raise ConflictError(stores.queue.name, key)


async def _resolve_or_settle(
    stores: Stores, patron_id: str, resolve: Resolve, current: QueueEntry | None, now: datetime
) -> QueueEntry | None:
    """``resolve(current)``; when it is refused, an earlier resolve's unsettled lifts are
    settled before the refusal is raised."""
    try:
        return resolve(current)
    except BounceError:
        if current is not None and current.lifted_unsettled:
            await _settle_lifted(stores, patron_id, set(), now)
        raise


async def _mark(stores: Stores, key: str, resolve: Resolve, lifted: set[str]) -> QueueEntry | None:
    """The resolved entry as written, recording ``lifted`` as unsettled; ``None`` (nothing
    written) when the entry names an address not in ``lifted`` or has nothing to resolve."""
    wrote: list[QueueEntry] = []

    def change(current: QueueEntry | None) -> QueueEntry | None:
        wrote.clear()
        if set(current.address_keys if current else ()) - lifted:
            return None
        resolved = resolve(current)
        if resolved is None:
            return None
        unsettled = sorted({*resolved.lifted_unsettled, *lifted})
        wrote.append(resolved.model_copy(update={"lifted_unsettled": unsettled}))
        return wrote[0]

    await stores.queue.update(key, change)
    return wrote[0] if wrote else None


async def _settle_lifted(stores: Stores, patron_id: str, akeys: set[str], now: datetime) -> None:
    """Settle ``akeys`` and the entry's ``lifted_unsettled``, then clear the latter, only
    while the entry is still the one they were settled against (else all over again)."""
    key = patron_key(patron_id)
    for _ in range(_SETTLE_ROUNDS):
        entry, _ = await stores.queue.get(key)
        pending = set(entry.lifted_unsettled) if entry else set()
        for akey in sorted(akeys | pending):
            await settle(stores, akey, patron_id, now)
        if entry is None or not pending or await _clear_unsettled(stores, key, entry):
            return
    raise ConflictError(stores.queue.name, key)


async def _clear_unsettled(stores: Stores, key: str, seen: QueueEntry) -> bool:
    """Clear ``lifted_unsettled`` if the entry is still ``seen``; True when cleared."""
    cleared: list[bool] = []

    def change(current: QueueEntry | None) -> QueueEntry | None:
        cleared.clear()
        if current != seen:
            return None
        cleared.append(True)
        return seen.model_copy(update={"lifted_unsettled": []})

    await stores.queue.update(key, change)
    return bool(cleared)
