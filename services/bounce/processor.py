"""One bounce in, its effects out: classify, correlate, queue, suppress, publish.

Idempotent end to end: a bounce is named by ``bounce_id`` (a hash of its bytes, or of the
mailer's outcome event id); the queue ignores a failed recipient (bounce id + recipient) it
already holds; events carry ids derived from it (the stream de-duplicates); ``bounce_seen``
is written last, so a crash anywhere before it only repeats work that changes nothing the
second time. A mailbox message whose handling fails ``poison_after`` times in a row (not
counting NATS outages) is quarantined instead of blocking the inbox (``poison.py``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from services.bounce import classify_port as port
from services.bounce.bounded import bounded
from services.bounce.correlate import Correlated, SentLookup, correlate, mail_ids_in, prefetch
from services.bounce.metrics import BounceMetrics
from services.bounce.poison import FailureCounts
from services.bounce.queue import (
    IN_QUEUE,
    Applied,
    Policy,
    add_suppressed,
    apply_bounce,
    flags_patrons,
    hit_key,
)
from services.bounce.stores import SeenBounce, Stores, patron_key, unavailable
from services.bounce.suppress import settle
from shared.carriers import carrier_group
from shared.clock import Clock
from shared.contracts.base import Event
from shared.contracts.bounce import (
    BounceCategory,
    BounceClassified,
    BounceEvidence,
    PatronFlagged,
)
from shared.contracts.mail import CarrierGroup, MailKind, MailOutcome
from shared.contracts.staff import QueueEntry, QueueEvidence
from shared.mailrecord import address_key

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]
Disposition = Literal["processed", "quarantine"]
Source = Literal["imap", "smtp"]

#: ``BounceClassified.reason`` of a complaint (ARF feedback report): a machine value.
COMPLAINT_REASON = "complaint"


def bounce_id_for(raw: bytes) -> str:
    """Stable id of a received message: the same bytes are the same bounce."""
    return "m" + hashlib.sha256(raw).hexdigest()[:40]


def bounce_id_for_outcome(outcome: MailOutcome) -> str:
    return "s" + hashlib.sha256(outcome.event_id.encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Found:
    """One failed recipient, ready to be recorded."""

    bounce_id: str
    index: int
    result: port.RecipientResult
    token: str
    message_id: str
    source: Source


class BounceProcessor:
    def __init__(
        self,
        stores: Stores,
        publish: Publish,
        metrics: BounceMetrics,
        clock: Clock,
        *,
        key: bytes,
        domain: str,
        policy: Policy,
        max_bytes: int,
        poison_after: int = 3,
    ) -> None:
        self._stores = stores
        self._publish = publish
        self._metrics = metrics
        self._clock = clock
        self._key = key
        self._domain = domain
        self._policy = policy
        self._max_bytes = max_bytes
        self._failures = FailureCounts(poison_after)

    async def handle_message(self, raw: bytes) -> Disposition:
        """A message from the bounce mailbox; returns where it should be moved.

        Raises when handling failed and should be tried again later (the message stays
        in the inbox); after ``poison_after`` such failures in a row it is quarantined.
        """
        bounce_id = bounce_id_for(raw)
        try:
            disposition = await self._handle_message(bounce_id, raw)
        except Exception as exc:
            if not self._poisoned(bounce_id, exc):
                raise
            return "quarantine"
        self._failures.succeeded(bounce_id)
        return disposition

    def _poisoned(self, bounce_id: str, exc: Exception) -> bool:
        """Count a failed attempt; True when the message is to be quarantined now."""
        context: dict[str, object] = {"bounce_id": bounce_id, "error": type(exc).__name__}
        if unavailable(exc):
            log.warning("bounce.handling_deferred", extra=context)
            return False
        attempts = self._failures.failed(bounce_id)
        context |= {"attempts": attempts, "limit": self._failures.limit}
        if not self._failures.exhausted(attempts):
            log.warning("bounce.handling_failed", extra=context)
            return False
        self._metrics.messages.labels(disposition="poison").inc()
        log.error("bounce.poison_quarantined", extra=context)
        return True

    async def _handle_message(self, bounce_id: str, raw: bytes) -> Disposition:
        seen, _ = await self._stores.seen.get(bounce_id)
        if seen is not None:
            self._metrics.messages.labels(disposition="duplicate").inc()
            return seen.disposition
        raw = raw[: self._max_bytes]
        ids = mail_ids_in(raw, self._key)
        records = await prefetch(self._stores, ids.all())
        result = port.classify_message(raw, SentLookup(self._key, records))
        disposition: Disposition = "processed" if result.readable else "quarantine"
        if result.is_complaint:
            await self._complaint(bounce_id, result, ids.token_for(result.verp_token))
        for index, found in enumerate(result.recipients):
            token = ids.token_for(found.evidence.verp_token or result.verp_token)
            msgid = found.evidence.original_message_id or result.original_message_id
            await self.record(Found(bounce_id, index, found, token, msgid, "imap"))
        await self._seen(bounce_id, disposition, len(result.recipients))
        self._metrics.messages.labels(disposition=disposition).inc()
        log.info(
            "bounce.message_handled",
            extra={"bounce_id": bounce_id, "disposition": disposition,
                   "detector": result.detector, "recipients": len(result.recipients)},
        )  # fmt: skip
        return disposition

    async def handle_smtp_failure(self, outcome: MailOutcome) -> None:
        """The mailer's synchronous permanent failure: same classification and flagging."""
        bounce_id = bounce_id_for_outcome(outcome)
        seen, _ = await self._stores.seen.get(bounce_id)
        if seen is not None:
            return
        if outcome.cause == "invalid_address":
            reason = outcome.detail or "登録メールアドレスの形式に誤りがあります。"
            found = port.make_result(
                outcome.recipient, "bad_address", reason, "invalid-address-at-send"
            )
        else:
            found = port.classify_smtp_failure(outcome, self._domain)
        corr = Correlated(
            "message_id" if outcome.message_id else "none",
            (outcome.patron_id,) if outcome.patron_id else (),
        )
        item = Found(bounce_id, 0, found, "", outcome.message_id or "", "smtp")
        await self.record(item, corr=corr, kind=outcome.kind, mail_key=outcome.mail_key)
        await self._seen(bounce_id, "processed", 1)

    async def record(
        self,
        item: Found,
        *,
        corr: Correlated | None = None,
        kind: MailKind | None = None,
        mail_key: str | None = None,
    ) -> None:
        """Count, correlate, flag, suppress and publish one failed recipient."""
        r = item.result
        category = port.as_category(r.category)
        group: CarrierGroup = carrier_group(r.recipient) if r.recipient else "other"
        self._metrics.bounces.labels(category=category, carrier_group=group,
                                     source=item.source).inc()  # fmt: skip
        if category == "not_a_bounce":
            return
        if corr is None:
            corr = await correlate(self._stores, self._key, r.recipient, item.token,
                                   item.message_id)  # fmt: skip
        if corr.verp == "forged":
            self._metrics.verp_forged.inc()
            log.warning("bounce.verp_forged", extra={"bounce_id": item.bounce_id,
                                                     "recipient_index": item.index})  # fmt: skip
        ev = self._evidence(item, category, group, corr, kind, mail_key)
        if category == "sender_side":
            self._metrics.sender_side.labels(carrier_group=group).inc()
            log.warning(
                "bounce.sender_side",
                extra={"bounce_id": item.bounce_id, "status": ev.status, "rule": ev.rule,
                       "carrier_group": group},
            )  # fmt: skip
        held = await self._flag_all(item, ev, corr) if flags_patrons(category) else ()
        await self._publish(self._classified(item, ev, corr, held))

    def _evidence(
        self,
        item: Found,
        category: BounceCategory,
        group: CarrierGroup,
        corr: Correlated,
        kind: MailKind | None,
        mail_key: str | None,
    ) -> QueueEvidence:
        """What staff see of one failed recipient; strings from the mail are cut to size."""
        r, record = item.result, corr.record
        return bounded(
            QueueEvidence,
            bounce_id=item.bounce_id,
            received_at=self._clock.now(),
            source=item.source,
            category=category,
            status=r.status,
            reason=r.reason,
            diagnostic=r.evidence.diagnostic,
            remote_mta=r.evidence.remote_mta,
            rule=r.evidence.rule,
            correlation=corr.method,
            verp=corr.verp,
            carrier_group=group,
            mail_key=(record.business_key if record else mail_key),
            mail_kind=(record.kind if record else kind),
            message_id=(record.message_id if record else item.message_id or None),
        )

    async def _flag_all(self, item: Found, ev: QueueEvidence, corr: Correlated) -> tuple[str, ...]:
        """Flag every correlated patron; returns those the bounce is held against.

        A patron who has changed the address the mail went to (per ``bounce_addresses``)
        gets the bounce as evidence only: no flag, no suppression (``queue.MOVED_NOTE``).
        A patron found by the address alone (unconfirmed: ``correlation: address``) is
        flagged for staff to check, but the address is not suppressed.
        """
        r, record = item.result, corr.record
        mailed = record.recipient if record else r.recipient
        moved: frozenset[str] = frozenset()
        if corr.confirmed and corr.patron_ids and mailed:
            moved = await self._stores.moved_away(mailed)
        hit = hit_key(item.bounce_id, r.recipient, item.index)
        address = r.recipient or mailed
        for patron_id in corr.patron_ids:
            context = {"patron_id": patron_id, "bounce_id": item.bounce_id}
            if patron_id in moved:
                self._metrics.address_moved.inc()
                log.info("bounce.address_moved_away", extra=context)
            elif not corr.confirmed:
                log.info("bounce.unconfirmed_correlation", extra=context)
            suppresses = ev.category == "bad_address" and corr.confirmed and patron_id not in moved
            akey = address_key(address) if address and suppresses else ""
            await self._flag(patron_id, ev, akey, hit, moved=patron_id in moved)
        return tuple(p for p in corr.patron_ids if p not in moved)

    async def _flag(
        self, patron_id: str, ev: QueueEvidence, akey: str, hit: str, *, moved: bool
    ) -> None:
        """Apply the bounce to the patron's entry; ``akey``: the address it suppresses.

        The entry is written first (naming the address), then the suppression is settled
        to agree with it (``suppress.settle``): a staff resolve landing in between leaves
        either a resolved entry and no suppression, or a re-opened flag holding both.
        """
        now = self._clock.now()
        outcome: list[Applied] = []

        def change(current: QueueEntry | None) -> QueueEntry | None:
            applied = apply_bounce(current, patron_id, ev, self._policy, now, hit=hit,
                                   moved=moved)  # fmt: skip
            outcome.append(applied)
            entry = applied.entry
            if entry is not None and akey and entry.status in IN_QUEUE:
                entry = add_suppressed(entry, akey)
            return entry

        entry = await self._stores.queue.update(patron_key(patron_id), change)
        applied = outcome[-1]
        if akey:
            await settle(self._stores, akey, patron_id, now, ev.category)
        if entry is None or moved:
            return
        if applied.flagged:
            if not applied.duplicate:
                self._metrics.flags.labels(category=entry.category or ev.category).inc()
            log.info("bounce.patron_flagged", extra={"patron_id": patron_id,
                                                     "category": entry.category})  # fmt: skip
            await self._publish(self._flagged(entry, ev))

    def _flagged(self, entry: QueueEntry, ev: QueueEvidence) -> PatronFlagged:
        return PatronFlagged(
            event_id=f"flagged-{patron_key(entry.patron_id)}-{ev.bounce_id}",
            occurred_at=self._clock.now(),
            patron_id=entry.patron_id,
            category=entry.category or ev.category,
            status="open",
            bounce_count=max(entry.bounce_count, 1),
            evidence=_contract_evidence(ev),
        )

    def _classified(
        self, item: Found, ev: QueueEvidence, corr: Correlated, held: tuple[str, ...]
    ) -> BounceClassified:
        """``patron_ids``: the patrons the bounce is held against (not those moved away)."""
        return bounded(
            BounceClassified,
            event_id=f"classified-{item.bounce_id}-{item.index}",
            occurred_at=self._clock.now(),
            recipient=item.result.recipient,
            category=ev.category,
            reason=ev.reason,
            patron_ids=list(held),
            correlation=corr.method,
            evidence=_contract_evidence(ev),
        )

    async def _complaint(self, bounce_id: str, result: port.Classification, token: str) -> None:
        self._metrics.complaints.inc()
        corr = await correlate(self._stores, self._key, "", token,
                               result.original_message_id)  # fmt: skip
        ev = bounded(
            QueueEvidence, bounce_id=bounce_id, received_at=self._clock.now(), source="imap",
            category="not_a_bounce", reason=COMPLAINT_REASON, rule=result.detector,
            correlation=corr.method, verp=corr.verp,
            message_id=result.original_message_id or None,
        )  # fmt: skip
        log.warning("bounce.complaint", extra={"bounce_id": bounce_id,
                                               "patron_ids": list(corr.patron_ids)})  # fmt: skip
        found = port.make_result("", "not_a_bounce", ev.reason, result.detector)
        item = Found(bounce_id, 999, found, "", "", "imap")
        classified = self._classified(item, ev, corr, corr.patron_ids)
        await self._publish(classified.model_copy(update={"event_id": f"complaint-{bounce_id}"}))

    async def _seen(self, bounce_id: str, disposition: Disposition, recipients: int) -> None:
        value = SeenBounce(disposition=disposition, at=self._clock.now(), recipients=recipients)
        await self._stores.seen.put(bounce_id, value)


def _contract_evidence(ev: QueueEvidence) -> BounceEvidence:
    return bounded(
        BounceEvidence,
        received_at=ev.received_at,
        source=ev.source,
        status=ev.status,
        diagnostic=ev.diagnostic,
        remote_mta=ev.remote_mta,
        rule=ev.rule,
        mail_key=ev.mail_key,
        mail_kind=ev.mail_kind,
        message_id=ev.message_id,
    )
