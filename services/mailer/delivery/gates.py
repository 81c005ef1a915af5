"""Per-carrier-group concurrency and pacing around each SMTP transaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from services.mailer.plan.pacing import Pacer, is_throttle
from shared.carriers import CARRIER_GROUPS
from shared.contracts.mail import CarrierGroup

#: A group's mails that may hold send slots, per connection of the group.
ADMISSION_FACTOR = 2


class GroupGates:
    """``async with gates.slot(group)`` waits for a free connection and a paced slot.

    ``async with gates.admission(group)`` is taken before a mail takes one of the sender's
    slots (mails in flight) and held while it is handled: at most ``ADMISSION_FACTOR`` times
    the group's concurrency of its mails hold slots — enough to keep the group's
    connections busy while the others wait for the broker (claim, ``sent``, outcome) — and
    never all of them (``admission_cap``, one less than the slots), so mails of a throttled
    carrier cannot hold every slot while the others' mail waits.
    """

    def __init__(
        self,
        concurrency: Mapping[str, float],
        rate: Mapping[str, float],
        *,
        admission_cap: int | None = None,
    ) -> None:
        default_conc = int(concurrency.get("other", 8))
        self._sems = {
            g: asyncio.Semaphore(max(1, int(concurrency.get(g, default_conc))))
            for g in CARRIER_GROUPS
        }
        self._pacers = {g: Pacer(rate=rate.get(g, 0.0)) for g in CARRIER_GROUPS}
        self._slots = {g: _Slot(self._sems[g], self._pacers[g]) for g in CARRIER_GROUPS}

        def admitted(group: str) -> int:
            wanted = ADMISSION_FACTOR * max(1, int(concurrency.get(group, default_conc)))
            return max(1, min(wanted, admission_cap or wanted))

        self._admissions = {g: asyncio.Semaphore(admitted(g)) for g in CARRIER_GROUPS}

    def pacer(self, group: CarrierGroup) -> Pacer:
        return self._pacers[group]

    def slot(self, group: CarrierGroup) -> _Slot:
        return self._slots[group]

    def admission(self, group: CarrierGroup) -> asyncio.Semaphore:
        return self._admissions[group]

    def observe(self, group: CarrierGroup, code: int, text: str) -> None:
        """Feed a reply back: throttling answers slow the group down, successes recover."""
        pacer = self._pacers[group]
        if is_throttle(code, text):
            pacer.throttled()
        elif 200 <= code < 300:
            pacer.succeeded()


class _Slot:
    """A connection of the group, then the pacer's turn (a class, not a generator-based
    context manager: one per mail)."""

    __slots__ = ("_pacer", "_sem")

    def __init__(self, sem: asyncio.Semaphore, pacer: Pacer) -> None:
        self._sem = sem
        self._pacer = pacer

    async def __aenter__(self) -> None:
        await self._sem.acquire()
        try:
            wait = self._pacer.reserve(time.monotonic())
            if wait > 0:
                await asyncio.sleep(wait)  # pacing: the carrier's accepted rate
        except BaseException:
            self._sem.release()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._sem.release()
