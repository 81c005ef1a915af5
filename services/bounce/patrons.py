"""ILS events: keep the address -> patrons index; an email change resolves the flag.

Every ILS event that carries an address adds the patron to that address's entry in
``bounce_addresses`` (families share addresses). ``ils.patron.email_changed`` moves the
patron to the new address (and records them as ``moved_away`` from the old one, even when
the index never saw them there), lifts the suppressions their open flag holds (and the old
address's, unless another patron's flag still holds it), then resolves the flag with a
Japanese note: a redelivery completes a change that failed half-way.
"""

from __future__ import annotations

import logging
from datetime import datetime

from services.bounce.processor import Publish
from services.bounce.queue import EMAIL_CHANGED_NOTE, resolve_for_email_change
from services.bounce.stores import UNAVAILABLE, AddressPatrons, Stores, patron_key
from services.bounce.suppress import resolve_and_lift
from shared.bus.consume import Delivery, Retry
from shared.clock import Clock
from shared.contracts.base import Event
from shared.contracts.bounce import PatronFlagUpdated
from shared.contracts.ils import PatronEmailChanged
from shared.mailrecord import address_key

log = logging.getLogger(__name__)

ILS_SUBJECTS = (
    "ils.loan.online_issued",
    "ils.hold.ready",
    "ils.hold.cancelled",
    "ils.loan.overdue",
    "ils.patron.loan_suspended",
    "ils.patron.email_changed",
)


class PatronEvents:
    def __init__(self, stores: Stores, publish: Publish, clock: Clock) -> None:
        self._stores = stores
        self._publish = publish
        self._clock = clock

    async def handle(self, event: Event, delivery: Delivery) -> None:
        """Consumer handler for the ILS subjects above: returns (ack) when done, raises
        ``Retry`` when NATS or a bucket is unavailable or busy (every step is idempotent,
        so the redelivery completes what was left half-done)."""
        try:
            await self._handle(event)
        except UNAVAILABLE as exc:
            log.warning(
                "bounce.ils_event_deferred",
                extra={"subject": delivery.subject, "error": type(exc).__name__,
                       "delivered": delivery.num_delivered},
            )  # fmt: skip
            raise Retry(f"{event.subject()}: {type(exc).__name__}") from exc

    async def _handle(self, event: Event) -> None:
        if isinstance(event, PatronEmailChanged):
            await self.email_changed(event)
            return
        email = getattr(event, "email", "")
        patron_id = getattr(event, "patron_id", "")
        if isinstance(email, str) and email.strip() and patron_id:
            await self.index_add(email, str(patron_id), event.occurred_at)

    async def index_add(
        self, address: str, patron_id: str, occurred_at: datetime | None = None
    ) -> None:
        """``patron_id`` uses ``address`` as of ``occurred_at``. An event older than the
        patron's move away from it (delivered late, or retried) changes nothing."""
        now = self._clock.now()

        def change(current: AddressPatrons | None) -> AddressPatrons | None:
            if current is None:
                return AddressPatrons(patron_ids=[patron_id], updated_at=now)
            if patron_id in current.patron_ids and patron_id not in current.moved_away:
                return None
            left = current.moved_at.get(patron_id)
            if left is not None and occurred_at is not None and occurred_at <= left:
                return None  # stale: the patron moved away after this event
            ids = sorted({*current.patron_ids, patron_id})
            moved = [p for p in current.moved_away if p != patron_id]
            moved_at = {p: t for p, t in current.moved_at.items() if p != patron_id}
            return current.model_copy(
                update={"patron_ids": ids, "moved_away": moved, "moved_at": moved_at,
                        "updated_at": now}
            )  # fmt: skip

        await self._stores.addresses.update(address_key(address), change)

    async def index_remove(self, address: str, patron_id: str, left: datetime) -> None:
        """``patron_id`` moved away from ``address`` at ``left`` (a newer move wins)."""
        now = self._clock.now()

        def change(current: AddressPatrons | None) -> AddressPatrons | None:
            base = current or AddressPatrons(updated_at=now)
            known = base.moved_at.get(patron_id)
            if patron_id not in base.patron_ids and known is not None and known >= left:
                return None
            return base.model_copy(
                update={
                    "patron_ids": [p for p in base.patron_ids if p != patron_id],
                    "moved_away": sorted({*base.moved_away, patron_id}),
                    "moved_at": {**base.moved_at, patron_id: left},
                    "updated_at": now,
                }
            )

        await self._stores.addresses.update(address_key(address), change)

    async def email_changed(self, event: PatronEmailChanged) -> None:
        """Move the patron in the index, resolve their flag and lift its suppressions.

        Every step is idempotent and the flag is marked only after its suppressions are
        lifted (``suppress.resolve_and_lift``), so a redelivery after a failure anywhere
        (a NATS timeout) completes the change, and a bounce racing it leaves the flag and
        the suppression agreeing. The event is published (again) while the flag's last
        note is the email change's: its id is the event's, de-duplicated by the stream.
        """
        patron_id = event.patron_id
        old = event.old_email if event.old_email and event.old_email.strip() else None
        if old is not None:
            await self.index_remove(old, patron_id, event.occurred_at)
        if event.new_email.strip():
            await self.index_add(event.new_email, patron_id, event.occurred_at)
        now = self._clock.now()
        entry = await resolve_and_lift(
            self._stores,
            patron_id,
            lambda current: resolve_for_email_change(current, now),
            now,
            also=[address_key(old)] if old is not None else [],
        )
        if entry is None or entry.status != "resolved" or not entry.notes:
            return
        last = entry.notes[-1]
        if (last.by, last.text) != ("system", EMAIL_CHANGED_NOTE):
            return
        log.info("bounce.flag_resolved_by_email_change", extra={"patron_id": patron_id})
        await self._publish(
            PatronFlagUpdated(
                event_id=f"flag-updated-{patron_key(patron_id)}-{event.event_id}",
                occurred_at=now,
                patron_id=patron_id,
                status="resolved",
                note=EMAIL_CHANGED_NOTE,
                by="system",
            )
        )
