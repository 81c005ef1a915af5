"""The send handler: one mail work item → claim → compose → SMTP → record → outcome.

Order matters for exactly-once (see docs/mailer.md):

1. claim the mail in ``mail_ledger`` (create / compare-and-set); a terminal record means
   it was already handled: its outcome is re-published (de-duplicated by event id), ack;
2. expiry, address check, suppression, leaving out returned loans and cancelled holds,
   compose — each ends the mail without SMTP;
3. a carrier-group slot and a connection slot; a claim that aged meanwhile is renewed
   (or, taken over by another replica, given up without sending);
4. the SMTP transaction; on the server's 250 the very next await is the ledger write
   ``sent`` (nothing else in between; retried until the claim's lease ends), then the
   outcome, then the ack. Steps 4's transaction and write run to their end even when the
   handler is cancelled (SIGTERM past the grace): see ``recording.to_the_end``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from services.mailer.delivery.composer import Composer
from services.mailer.delivery.gates import GroupGates
from services.mailer.delivery.ledger import Claim, Ledger
from services.mailer.delivery.metrics import MailerMetrics
from services.mailer.delivery.recording import Accepted, SentRecorder, to_the_end
from services.mailer.delivery.smtp import DROPPED, Reply, SmtpPool
from services.mailer.errors import InvalidAddress, MailerError
from services.mailer.plan.addresses import address_for
from services.mailer.plan.claims import Done, Later, needs_refresh
from services.mailer.plan.eligibility import is_cancelled
from services.mailer.plan.model import MailWork, SourceEvent
from services.mailer.plan.outcomes import Result, build_outcome, replayed_result
from services.mailer.plan.pacing import verdict
from services.mailer.plan.timing import RetrySchedule
from shared.bus.consume import Delivery, Reject, Retry
from shared.carriers import carrier_group
from shared.clock import JST, Clock
from shared.contracts.base import Event
from shared.contracts.ils import HoldCancelled, HoldReady, LoanOverdue, PatronEmailChanged
from shared.contracts.mail import SESSION_COMMANDS, CarrierGroup
from shared.mailrecord import LedgerState, message_id_for
from shared.verp import envelope_sender

log = logging.getLogger(__name__)

T = TypeVar("T")


Publish = Callable[[Event], Awaitable[None]]
Lookup = Callable[[str], Awaitable[bool]]
#: A work item older than this looks the patron's address up again before it is sent.
ADDRESS_RECHECK_AFTER = timedelta(seconds=60)
AddressLookup = Callable[[str], Awaitable[PatronEmailChanged | None]]
#: A hold's recorded cancellation by hold id (``PendingStore.cancellation``).
CancelLookup = Callable[[str], Awaitable[HoldCancelled | None]]


@dataclass(frozen=True, slots=True)
class SenderConfig:
    domain: str
    verp_key: bytes
    schedule: RetrySchedule


class Sender:
    def __init__(
        self,
        *,
        config: SenderConfig,
        clock: Clock,
        ledger: Ledger,
        composer: Composer,
        pool: SmtpPool,
        gates: GroupGates,
        publish: Publish,
        is_suppressed: Lookup,
        is_returned: Lookup,
        address_change: AddressLookup | None = None,
        cancellation: CancelLookup | None = None,
        metrics: MailerMetrics,
    ) -> None:
        self._cfg = config
        self._clock = clock
        self._ledger = ledger
        self._composer = composer
        self._pool = pool
        self._gates = gates
        self._publish = publish
        self._is_suppressed = is_suppressed
        self._is_returned = is_returned
        self._address_change = address_change
        self._cancellation = cancellation
        self._metrics = metrics
        self._recorder = SentRecorder(ledger, clock)

    async def handle(self, work: MailWork, delivery: Delivery) -> None:
        accepted = self._recorder.unrecorded(work.mail_id)
        if accepted is not None:
            await self._record_late(work, accepted)
            return
        now = self._clock.now()
        if delivery.num_delivered > 1 or now - work.occurred_at > ADDRESS_RECHECK_AFTER:
            # A retry, or a work item that waited in the queue (a throttled Saturday run
            # can hold it for hours): the patron may have registered a new address since.
            work = await self._current_address(work)
        decision = await self._ledger.claim(work, now)
        if isinstance(decision, Done):
            record = decision.record
            # Re-published after a crash between the ledger write and the outcome; the
            # stream stores it once (same event id), and it is not counted again.
            await self._emit(work, replayed_result(record), record.attempts, now, count=False)
            return
        if isinstance(decision, Later):
            raise Retry(decision.reason, delay=decision.delay)
        if isinstance(decision, Claim):
            await self._attempt(work, decision, now, delivery)
            return
        raise AssertionError(f"unexpected ledger decision {decision!r}")

    async def _attempt(
        self, work: MailWork, claim: Claim, now: datetime, delivery: Delivery
    ) -> None:
        if now >= work.expires_at:
            await self._end(work, claim, "expired", Result("expired", cause="past_usefulness"))
            return
        try:
            address = self._composer.check(work.recipient)
        except InvalidAddress as exc:
            result = Result("failed", cause="invalid_address", detail=exc.message_ja)
            await self._end(work, claim, "failed", result)
            return
        if await self._is_suppressed(address):
            await self._end(work, claim, "suppressed", Result("suppressed", cause="suppressed"))
            return
        # What is left out since the run: returned loans, cancelled holds, holds whose
        # deadline passed while the mail was deferred. None left: ``expired``, the outcome
        # naming the events the mail was made of.
        made = work
        work = await self._without_returned(work)
        if not work.events:
            await self._end(made, claim, "expired", Result("expired", cause="all_returned"))
            return
        work = await self._without_cancelled(work)
        if not work.events:
            await self._end(made, claim, "expired", Result("expired", cause="all_cancelled"))
            return
        work = without_past_holds(work, now)
        if not work.events:
            # The hold with the latest deadline (the mail's expiry) was cancelled and the
            # others' deadlines have passed.
            await self._end(made, claim, "expired", Result("expired", cause="past_usefulness"))
            return
        message_id = message_id_for(work.mail_id, self._cfg.domain)
        try:
            data = self._composer.build(work, address, message_id, now)
        except MailerError as exc:
            await self._ledger.abandon(claim)
            raise Reject(f"cannot compose {work.kind} mail: {exc}") from exc
        await self._transmit(work, claim, address, data, delivery)

    async def _transmit(
        self, work: MailWork, claim: Claim, address: str, data: bytes, delivery: Delivery
    ) -> None:
        group = carrier_group(address)
        sender = envelope_sender(self._cfg.verp_key, work.mail_id, self._cfg.domain)
        async with self._gates.slot(group), self._pool.slot():
            await self._keep_claim(work, claim, delivery)
            started = time.monotonic()
            reply = await to_the_end(self._send_and_record(work, claim, sender, address, data))
        self._metrics.observe_send(group, time.monotonic() - started)
        self._gates.observe(group, reply.code, reply.text)
        if reply.accepted:
            result = Result("sent", reply.code, reply.text, smtp_command=reply.command)
            await self._emit(work, result, claim.attempt)
            log.info("mail.sent", extra=_ids(work, claim, group))
        elif reply.command in SESSION_COMMANDS:
            # The relay refused the session or our sender, not this recipient: an
            # operations problem (our relay, its TLS, AUTH or sender policy), never the
            # patron's. The mail waits for it.
            if reply.code != DROPPED or reply.tls_unverified or reply.relay_unfit:
                log.error(
                    "mail.relay_refused",
                    extra={
                        "smtp_code": reply.code,
                        "smtp_command": reply.command,
                        "mail_id": work.mail_id,
                        "carrier_group": group,
                    },
                )
            await self._defer(work, claim, reply, group)
        elif verdict(reply.code) == "permanent":
            result = Result(
                "failed", reply.code, reply.text, "smtp_permanent", smtp_command=reply.command
            )
            await self._end(work, claim, "failed", result)
        else:
            await self._defer(work, claim, reply, group)

    async def _keep_claim(self, work: MailWork, claim: Claim, delivery: Delivery) -> None:
        """Renew a claim that aged while waiting for the slots (no round trip otherwise)."""
        now = self._clock.now()
        if not needs_refresh(claim.record, now, self._ledger.lease):
            return
        if not await self._ledger.refresh(claim, now):
            # Another replica took the mail over: it sends it, this one must not.
            raise Retry("claim taken over while waiting for a slot", delay=0.5)
        await delivery.in_progress()
        log.info("mail.claim_renewed", extra={"mail_id": work.mail_id, "attempt": claim.attempt})

    async def _send_and_record(
        self, work: MailWork, claim: Claim, sender: str, address: str, data: bytes
    ) -> Reply:
        # The transaction ends within half the lease: the claim is at most a quarter of
        # the lease old here (``_keep_claim``), so a quarter is left for the ``sent`` write.
        within = self._ledger.lease / 2
        reply = await self._pool.transmit(sender, address, data, within=within)
        if reply.accepted:
            # The window between the server's 250 and this write is the only place a
            # kill -9 can cause a second copy: keep it free of any other await.
            await self._recorder.record(claim, reply)
        return reply

    async def _record_late(self, work: MailWork, accepted: Accepted) -> None:
        """A redelivered mail this process saw accepted: record ``sent``, never resend."""
        await self._recorder.record_late(accepted)
        reply = accepted.reply
        result = Result("sent", reply.code, reply.text, smtp_command=reply.command)
        await self._emit(work, result, accepted.claim.attempt)
        log.info("mail.sent", extra=_ids(work, accepted.claim, carrier_group(work.recipient)))

    async def _defer(self, work: MailWork, claim: Claim, reply: Reply, group: CarrierGroup) -> None:
        now = self._clock.now()
        code = reply.code or None
        cause = _transient_cause(reply)
        when = self._cfg.schedule.next_attempt(claim.attempt, now, work.expires_at)
        if when is None:
            result = Result(
                "expired",
                code,
                reply.text,
                cause,
                "retries would pass usefulness",
                smtp_command=reply.command,
            )
            await self._end(work, claim, "expired", result)
            return
        result = Result(
            "deferred", code, reply.text, cause, next_attempt_at=when, smtp_command=reply.command
        )
        await self._emit(work, result, claim.attempt, now)
        await self._ledger.finish(
            claim, "pending", now, code=code, text=reply.text, command=reply.command
        )
        log.info("mail.deferred", extra={**_ids(work, claim, group), "smtp_code": reply.code})
        raise Retry(f"deferred: {reply.code}", delay=max((when - now).total_seconds(), 0.0))

    async def _end(self, work: MailWork, claim: Claim, state: LedgerState, result: Result) -> None:
        now = self._clock.now()
        await self._ledger.finish(
            claim,
            state,
            now,
            code=result.smtp_code,
            text=result.smtp_text,
            command=result.smtp_command,
        )
        await self._emit(work, result, claim.attempt, now)
        group = carrier_group(work.recipient)
        log.info(
            f"mail.{result.outcome}", extra={**_ids(work, claim, group), "cause": result.cause}
        )

    async def _emit(
        self,
        work: MailWork,
        result: Result,
        attempt: int,
        now: datetime | None = None,
        *,
        count: bool = True,
    ) -> None:
        event = build_outcome(
            work,
            result,
            attempt=max(attempt, 1),
            now=now or self._clock.now(),
            domain=self._cfg.domain,
            verp_key=self._cfg.verp_key,
        )
        await self._publish(event)
        if count:
            self._metrics.outcome(work.kind, event.carrier_group, result.outcome)

    async def _current_address(self, work: MailWork) -> MailWork:
        """A retried or long-queued mail goes to the address the patron registered since."""
        if self._address_change is None or work.patron_id is None:
            return work
        change = await self._address_change(work.patron_id)
        reported = max(e.occurred_at for e in work.events)
        recipient = address_for(work.recipient, reported, change)
        if recipient == work.recipient:
            return work
        log.info(
            "mail.address_changed", extra={"mail_id": work.mail_id, "patron_id": work.patron_id}
        )
        return work.model_copy(update={"recipient": recipient})

    async def _without_returned(self, work: MailWork) -> MailWork:
        """An overdue reminder never lists a loan whose return has arrived."""
        if work.kind != "overdue":
            return work
        kept = [
            e
            for e in work.events
            if not (isinstance(e, LoanOverdue) and await self._is_returned(e.loan_id))
        ]
        return work if len(kept) == len(work.events) else replace_events(work, kept)

    async def _without_cancelled(self, work: MailWork) -> MailWork:
        """A ready mail never lists a hold cancelled since its item was secured (the patron
        phoned, Q9): a retry after a deferral, or a run that took the report just before
        the cancellation was handled."""
        if work.kind != "hold_ready" or self._cancellation is None:
            return work
        kept = [
            e
            for e in work.events
            if not (
                isinstance(e, HoldReady) and is_cancelled(e, await self._cancellation(e.hold_id))
            )
        ]
        return work if len(kept) == len(work.events) else replace_events(work, kept)


def _transient_cause(reply: Reply) -> str:
    if reply.tls_unverified:
        return "relay_tls_failed"
    if reply.relay_unfit:
        return "relay_refused"
    if not reply.code:
        return "connection_lost"
    if reply.command in SESSION_COMMANDS:
        return "relay_refused"
    return "smtp_transient"


def replace_events(work: MailWork, events: list[SourceEvent]) -> MailWork:
    return work.model_copy(update={"events": events})


def without_past_holds(work: MailWork, now: datetime) -> MailWork:
    """A hold-ready mail sent late (retries) leaves out the holds whose deadline passed.

    The mail expires with its latest deadline; a hold whose own deadline is over has been
    (or is being) cancelled, with its own mail: listing it as ready, with a deadline in the
    past, would send the patron to the counter for nothing."""
    if work.kind != "hold_ready":
        return work
    today = now.astimezone(JST).date()
    kept = [e for e in work.events if not (isinstance(e, HoldReady) and e.pickup_deadline < today)]
    return work if len(kept) == len(work.events) else replace_events(work, kept)


def _ids(work: MailWork, claim: Claim, group: CarrierGroup) -> dict[str, object]:
    return {
        "mail_id": work.mail_id,
        "patron_id": work.patron_id,
        "kind": work.kind,
        "attempt": claim.attempt,
        "carrier_group": group,
    }
