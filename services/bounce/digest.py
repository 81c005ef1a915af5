"""The weekly staff digest: open flags by cause, new this week, oldest waiting (pure)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from services.bounce.processor import Publish
from services.bounce.stores import Stores
from shared.bus.consume import Delivery
from shared.contracts.bounce import BounceDigest, DigestEntry
from shared.contracts.schedule import TriggerFired
from shared.contracts.staff import QueueEntry

log = logging.getLogger(__name__)

DIGEST_TRIGGER = "weekly-bounce-digest"
WEEK = timedelta(days=7)


def _entry(e: QueueEntry) -> DigestEntry | None:
    if e.status is None or e.category is None:
        return None
    return DigestEntry(
        patron_id=e.patron_id,
        category=e.category,
        status=e.status,
        first_seen=e.flagged_at or e.first_seen,
        last_seen=e.last_seen,
        bounce_count=max(e.bounce_count, 1),
    )


def build_digest(entries: list[QueueEntry], fired: TriggerFired, oldest: int) -> BounceDigest:
    """The digest for one trigger occurrence; its event id is derived from the occurrence."""
    waiting = [e for e in entries if e.status in ("open", "contacted") and e.category]
    week_start = fired.nominal_time - WEEK
    rows = [d for e in waiting if (d := _entry(e)) is not None]
    rows.sort(key=lambda d: (d.first_seen, d.patron_id))
    return BounceDigest(
        event_id=f"bounce-digest-{fired.occurrence_id}",
        occurred_at=fired.nominal_time,
        occurrence_id=fired.occurrence_id,
        week_start=week_start,
        open_by_category=dict(sorted(Counter(d.category for d in rows).items())),
        new_this_week=[d for d in rows if d.first_seen >= week_start],
        oldest_open=rows[:oldest],
        contacted_waiting=sum(1 for d in rows if d.status == "contacted"),
    )


class DigestHandler:
    def __init__(self, stores: Stores, publish: Publish, oldest: int) -> None:
        self._stores = stores
        self._publish = publish
        self._oldest = oldest

    async def handle(self, event: TriggerFired, delivery: Delivery) -> None:
        if event.trigger != DIGEST_TRIGGER:
            return
        digest = build_digest(await self._stores.queue.values(), event, self._oldest)
        await self._publish(digest)
        log.info(
            "bounce.digest_published",
            extra={"occurrence_id": event.occurrence_id, "open": len(digest.oldest_open)},
        )
