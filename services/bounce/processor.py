"""One bounce in, its effects out: classify, correlate, queue, suppress, publish.

Idempotent end to end: a bounce is named by ``bounce_id`` (a hash of its bytes, or of the
mailer's outcome event id); the queue ignores a bounce id it already holds; events carry
ids derived from it (the stream de-duplicates); ``bounce_seen`` is written last, so a
crash anywhere before it only repeats work that changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from services.bounce import classify_port as port
from services.bounce.correlate import Correlated, SentLookup, correlate, mail_ids_in, prefetch
from services.bounce.metrics import BounceMetrics
from services.bounce.queue import Applied, Policy, add_suppressed, apply_bounce, flags_patrons
from services.bounce.stores import SeenBounce, Stores, patron_key
from services.bounce.suppress import suppress
from shared.carriers import carrier_group
from shared.clock import Clock
from shared.contracts.base import Event
from shared.contracts.bounce import BounceClassified, BounceEvidence, PatronFlagged
from shared.contracts.mail import MailKind, MailOutcome
from shared.contracts.staff import QueueEntry, QueueEvidence
from shared.mailrecord import address_key

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]
Disposition = Literal["processed", "quarantine"]
Source = Literal["imap", "smtp"]


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
    ) -> None:
        self._stores = stores
        self._publish = publish
        self._metrics = metrics
        self._clock = clock
        self._key = key
        self._domain = domain
        self._policy = policy
        self._max_bytes = max_bytes

    async def handle_message(self, raw: bytes) -> Disposition:
        """A message from the bounce mailbox; returns where it should be moved."""
        bounce_id = bounce_id_for(raw)
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
            await self._complaint(bounce_id, result)
        for index, found in enumerate(result.recipients):
            token = found.evidence.verp_token or result.verp_token
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
        group = carrier_group(r.recipient) if r.recipient else "other"
        self._metrics.bounces.labels(category=category, carrier_group=group,
                                     source=item.source).inc()  # fmt: skip
        if category == "not_a_bounce":
            return
        if corr is None:
            corr = await correlate(self._stores, self._key, r.recipient, item.token,
                                   item.message_id)  # fmt: skip
        if corr.verp == "forged":
            log.warning("bounce.verp_forged", extra={"bounce_id": item.bounce_id})
        record = corr.record
        ev = QueueEvidence(
            bounce_id=item.bounce_id,
            received_at=self._clock.now(),
            source=item.source,
            category=category,
            status=r.status[:20],
            reason=r.reason[:500],
            diagnostic=r.evidence.diagnostic[:1000],
            remote_mta=r.evidence.remote_mta[:255],
            rule=r.evidence.rule[:120],
            correlation=corr.method,
            verp=corr.verp,
            carrier_group=group,
            mail_key=(record.business_key if record else mail_key),
            mail_kind=(record.kind if record else kind),
            message_id=(record.message_id if record else item.message_id or None),
        )
        if category == "sender_side":
            self._metrics.sender_side.labels(carrier_group=group).inc()
            log.warning(
                "bounce.sender_side",
                extra={"bounce_id": item.bounce_id, "status": ev.status, "rule": ev.rule,
                       "carrier_group": group},
            )  # fmt: skip
        if flags_patrons(category):
            address = r.recipient or (record.recipient if record else "")
            for patron_id in corr.patron_ids:
                await self._flag(patron_id, ev, address)
        await self._publish(self._classified(item, ev, corr))

    async def _flag(self, patron_id: str, ev: QueueEvidence, address: str) -> None:
        now = self._clock.now()
        outcome: list[Applied] = []
        akey = address_key(address) if address else ""

        def change(current: QueueEntry | None) -> QueueEntry | None:
            applied = apply_bounce(current, patron_id, ev, self._policy, now)
            outcome.append(applied)
            entry = applied.entry
            if entry is not None and akey and ev.category == "bad_address" and entry.status:
                entry = add_suppressed(entry, akey)
            return entry

        entry = await self._stores.queue.update(patron_key(patron_id), change)
        applied = outcome[-1]
        if entry is None:
            return
        if ev.category == "bad_address" and akey and entry.status in ("open", "contacted"):
            await suppress(self._stores, akey, patron_id, ev.category, now)
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

    def _classified(self, item: Found, ev: QueueEvidence, corr: Correlated) -> BounceClassified:
        return BounceClassified(
            event_id=f"classified-{item.bounce_id}-{item.index}",
            occurred_at=self._clock.now(),
            recipient=item.result.recipient[:320],
            category=ev.category,
            reason=ev.reason,
            patron_ids=list(corr.patron_ids),
            correlation=corr.method,
            evidence=_contract_evidence(ev),
        )

    async def _complaint(self, bounce_id: str, result: port.Classification) -> None:
        self._metrics.complaints.inc()
        corr = await correlate(self._stores, self._key, "", result.verp_token,
                               result.original_message_id)  # fmt: skip
        ev = QueueEvidence(
            bounce_id=bounce_id, received_at=self._clock.now(), source="imap",
            category="not_a_bounce", reason="complaint (feedback report)",
            rule=result.detector[:120], correlation=corr.method, verp=corr.verp,
            message_id=result.original_message_id or None,
        )  # fmt: skip
        log.warning("bounce.complaint", extra={"bounce_id": bounce_id,
                                               "patron_ids": list(corr.patron_ids)})  # fmt: skip
        found = port.make_result("", "not_a_bounce", ev.reason, result.detector)
        item = Found(bounce_id, 999, found, "", "", "imap")
        await self._publish(self._classified(item, ev, corr).model_copy(
            update={"event_id": f"complaint-{bounce_id}"}))  # fmt: skip

    async def _seen(self, bounce_id: str, disposition: Disposition, recipients: int) -> None:
        value = SeenBounce(disposition=disposition, at=self._clock.now(), recipients=recipients)
        await self._stores.seen.put(bounce_id, value)


def _contract_evidence(ev: QueueEvidence) -> BounceEvidence:
    return BounceEvidence(
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
