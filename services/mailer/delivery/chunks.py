"""The send consumer's handler: a work item, or a chunk of them.

A single work item is handled exactly as ``Sender.handle`` says (ack, retry later, dead
letter). A chunk's mails are handled side by side, each with its own ledger claim, and
the chunk is acked once every mail has ended one of two ways:

- **done**: sent, failed, suppressed, expired, or found already done (``Sender.handle``
  returned);
- **handed off**: anything else — deferred, claimed by another sender, refused by a
  compose error, or an unexpected error — is published again as its own work item
  (``work-<mail_id>``, de-duplicated by the stream) and takes the single item's path
  from there: its retries, its delays, its dead letter, all decided by the ledger as
  before. A chunk is never nak'ed for one mail, so its other mails are never handled
  twice for it.

Every mail, whatever carries it, first waits for its carrier group's admission (at most
twice the group's concurrency of its mails past this point, and never all the slots), then
for one of the sender's slots (mails in flight): the mails of a carrier slowed down by its
pacer hold at most their group's share of the slots, never all of them.

While a chunk's mails, or a single work item, are in hand the handler tells the server so
every third of ``ack_wait`` (``in_progress``), for at most ``KEEP_ALIVE_FOR``: mails
waiting for a throttled carrier's pacer or for a free slot may take longer than the ack
deadline, and each redelivery meanwhile would count against the consumer's max_deliver
(the server drops a message past it, even one still in hand). A message whose process
died (or is stuck past that bound) is redelivered, and its mails decided again by the
ledger.

If a hand-off cannot be published (the broker is unreachable), the handler raises once
all the chunk's mails have ended: the chunk is redelivered and each mail decided again
by the ledger (those done are recognised as done). Cancelled (shutdown), the chunk is
left unacked after its mails in flight have ended (``Sender`` finishes an SMTP exchange
and its ``sent`` write even then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.errors import Error as NatsError

from services.mailer.delivery.recording import Sparing
from services.mailer.plan.model import MailWork, WorkChunk
from shared.bus.consume import Delivery, Reject, Retry
from shared.carriers import carrier_group
from shared.contracts.base import Event
from shared.contracts.mail import CarrierGroup, MailKind

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]
#: One mail's handler (``Sender.handle``): returns when done, raises ``Retry``/``Reject``.
Handle = Callable[[MailWork, Delivery], Awaitable[None]]
#: A carrier group's admission (``GroupGates.admission``).
Admission = Callable[[CarrierGroup], asyncio.Semaphore]
#: Seconds a chunk in hand is kept from redelivery at most.
KEEP_ALIVE_FOR = 3600.0


class ChunkSender:
    """Mails in flight are bounded by ``concurrency``, whatever carries them."""

    def __init__(
        self,
        send: Handle,
        publish: Publish,
        *,
        admission: Admission,
        concurrency: int,
        ack_wait: float,
        on_hand_off: Callable[[MailKind], None] = lambda kind: None,
    ) -> None:
        self._send = send
        self._publish = publish
        self._admission = admission
        self._slots = asyncio.Semaphore(concurrency)
        self._beat = ack_wait / 3
        self._beats = max(1, int(KEEP_ALIVE_FOR / self._beat))
        self._on_hand_off = on_hand_off
        self._sparing = Sparing()

    async def handle(self, item: MailWork | WorkChunk, delivery: Delivery) -> None:
        alive = asyncio.create_task(self._keep_alive(delivery))
        try:
            if isinstance(item, MailWork):
                await self._one(item, delivery)
                return
            ended = await self._members(item.works, delivery)
        finally:
            alive.cancel()
            await asyncio.wait([alive])  # a cancellation of this handler still propagates
            if not alive.cancelled() and alive.exception() is not None:
                log.warning(
                    "mail.keep_alive_stopped", extra={"error": type(alive.exception()).__name__}
                )
        failed = [e for e in ended if e is not None]
        for error in failed[1:]:
            log.warning("mail.hand_off_failed", extra={"error": type(error).__name__})
        if failed:
            raise failed[0]  # a hand-off that could not be published: the chunk again

    async def _members(
        self, works: list[MailWork], delivery: Delivery
    ) -> list[BaseException | None]:
        """Each mail in its own task; what each raised (a hand-off that failed), or None.

        Cancelled, the members outside their SMTP exchange and ``sent`` write are
        cancelled at once (as ``gather`` would: a member whose wake-up is already queued
        never starts an exchange), the others end their mail; then the cancellation goes
        on."""
        sparing = self._sparing
        members = [asyncio.create_task(self._member(work, delivery, sparing)) for work in works]
        try:
            await _AllEnded(members, sparing)
        except asyncio.CancelledError:
            while not all(member.done() for member in members):
                # Cancelled again: the members outside were cancelled again.
                with contextlib.suppress(asyncio.CancelledError):
                    await _AllEnded(members, sparing)
            for member in members:
                if not member.cancelled():
                    member.exception()  # retrieved: the cancellation wins
            raise
        return [member.exception() for member in members]

    async def _one(self, work: MailWork, delivery: Delivery) -> None:
        async with self._admission(carrier_group(work.recipient)), self._slots:
            await self._send(work, delivery)

    async def _keep_alive(self, delivery: Delivery) -> None:
        for _ in range(self._beats):
            await asyncio.sleep(self._beat)  # a timer, not a synchronisation
            try:
                await delivery.in_progress()
            except (NatsError, OSError) as exc:
                # Lost: the chunk may be redelivered meanwhile, which the ledger absorbs.
                log.info("mail.keep_alive_failed", extra={"error": type(exc).__name__})

    async def _member(self, work: MailWork, delivery: Delivery, sparing: Sparing) -> None:
        sparing.enter()  # this task's own context: its canceller is ``_members``
        try:
            await self._one(work, delivery)
        except (Retry, Reject) as exc:
            # Alone, it is retried as before, or meets the same refusal and its dead letter.
            await self._hand_off(work, exc.reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception(
                "mail.chunk_member_error",
                extra={"mail_id": work.mail_id, "error": type(exc).__name__},
            )
            await self._hand_off(work, f"{type(exc).__name__}: {exc}")

    async def _hand_off(self, work: MailWork, reason: str) -> None:
        await self._publish(work)
        self._on_hand_off(work.kind)
        log.info(
            "mail.handed_off",
            extra={"mail_id": work.mail_id, "kind": work.kind, "reason": reason[:200]},
        )


class _AllEnded(asyncio.Future[None]):
    """Done when every member is; cancelling it cancels, synchronously, the members
    outside their exchange (``Sparing``)."""

    def __init__(self, members: list[asyncio.Task[None]], sparing: Sparing) -> None:
        super().__init__()
        self._members = members
        self._sparing = sparing
        self._left = sum(not member.done() for member in members)
        if not self._left:
            self.set_result(None)
        for member in members:
            if not member.done():
                member.add_done_callback(self._ended)

    def _ended(self, member: asyncio.Task[None]) -> None:
        self._left -= 1
        if not self._left and not self.done():
            self.set_result(None)

    def cancel(self, msg: object | None = None) -> bool:
        self._sparing.cancel_outside(self._members)
        return super().cancel(msg)
