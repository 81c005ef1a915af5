"""Recording a mail the relay accepted: the ``sent`` ledger write, and nothing between.

The relay's 250 and the ``sent`` write are the one window where a crash can cause a
second copy (docs/mailer.md, "The window, honestly"). So the write is retried through
broker errors until the claim's lease ends, the exchange and the write run to their end
even when the handler is cancelled (``to_the_end``), and a mail whose write never landed
is remembered so that its redelivery to this process records it instead of resending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from nats.errors import Error as NatsError

from services.mailer.delivery.ledger import Claim, Ledger
from services.mailer.delivery.smtp import Reply
from services.mailer.plan.claims import sent_write_deadline
from shared.clock import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A ledger write that may succeed when tried again (broker timeout, reconnect, ...).
_BROKER_ERRORS = (NatsError, TimeoutError, OSError)
#: Backoff between ``sent`` write attempts (seconds): doubles from the first to the last.
_SENT_RETRY_FIRST = 0.05
_SENT_RETRY_MAX = 2.0


@dataclass(frozen=True, slots=True)
class Accepted:
    """The relay's 250 for a mail whose ``sent`` write has not landed yet."""

    claim: Claim
    reply: Reply
    at: datetime


class SentRecorder:
    def __init__(self, ledger: Ledger, clock: Clock) -> None:
        self._ledger = ledger
        self._clock = clock
        # Mails the relay accepted whose ``sent`` write failed until their lease ended.
        self._unrecorded: dict[str, Accepted] = {}

    def unrecorded(self, mail_id: str) -> Accepted | None:
        """The relay's acceptance of ``mail_id`` if its ``sent`` write never landed."""
        return self._unrecorded.get(mail_id)

    async def record(self, claim: Claim, reply: Reply) -> None:
        """Write ``sent``, retrying broker errors until the claim's lease ends.

        The same record (same ``updated_at``) is written each time: when an attempt had
        landed but its answer was lost, the next one meets a revision conflict and the
        ledger's fallback ``put`` writes that same record again.
        """
        now = self._clock.now()
        deadline = sent_write_deadline(claim.record, self._ledger.lease)
        pause = _SENT_RETRY_FIRST
        while True:
            try:
                await self._ledger.finish(
                    claim, "sent", now, code=reply.code, text=reply.text, command=reply.command
                )
                return
            except _BROKER_ERRORS as exc:
                extra = {"mail_id": claim.record.mail_id, "error": type(exc).__name__}
                if self._clock.now() >= deadline:
                    self._unrecorded[claim.record.mail_id] = Accepted(claim, reply, now)
                    log.error("mail.sent_unrecorded", extra=extra)
                    raise
                log.warning("mail.sent_write_retry", extra=extra)
            await asyncio.sleep(pause)
            pause = min(pause * 2, _SENT_RETRY_MAX)

    async def record_late(self, accepted: Accepted) -> None:
        """Write the ``sent`` of a remembered acceptance (its redelivery came back here)."""
        reply = accepted.reply
        await self._ledger.finish(
            accepted.claim,
            "sent",
            accepted.at,
            code=reply.code,
            text=reply.text,
            command=reply.command,
        )
        del self._unrecorded[accepted.claim.record.mail_id]


class Sparing:
    """Tasks whose canceller spares them while they are inside ``to_the_end``.

    A chunk's mails each run in their own task (``ChunkSender``). Shielding each one's
    transaction in yet another task costs a task, a shield and their callbacks per mail;
    instead the chunk's canceller asks ``inside`` and cancels only the tasks outside the
    section. A task that ``enter`` was called in runs the section in place, in itself.
    """

    def __init__(self) -> None:
        self._inside: set[asyncio.Task[Any]] = set()

    def enter(self) -> None:
        """This task's canceller is this ``Sparing``: ``to_the_end`` runs in place."""
        _SPARING.set(self)

    def cancel_outside(self, tasks: Iterable[asyncio.Task[Any]]) -> None:
        """Cancel each of ``tasks`` not inside the section now; the others end it (and
        their mail: the outcome, bounded) and return."""
        for task in tasks:
            if task not in self._inside:
                task.cancel()

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        task = asyncio.current_task()
        assert task is not None
        self._inside.add(task)
        try:
            return await work
        finally:
            self._inside.discard(task)


#: Set in a task by ``Sparing.enter`` (a context variable is each task's own).
_SPARING: ContextVar[Sparing | None] = ContextVar("otayori_sparing", default=None)


async def to_the_end(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end even if the caller is cancelled meanwhile, then re-raise.

    Used for the SMTP transaction and its ``sent`` write: a cancellation (SIGTERM past the
    shutdown grace) can then not land between the relay's 250 and the ledger write, nor
    cut a transaction whose end the ledger would not know. Both are bounded (the
    transaction by half the lease, the write by the rest of it). In a task whose canceller
    is a ``Sparing`` the work runs in place, never cancelled.
    """
    sparing = _SPARING.get()
    if sparing is not None:
        return await sparing.run(work)
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True  # also when ``work`` ended just as the caller was cancelled
    if cancelled:
        if not task.cancelled():
            task.exception()  # retrieved: the caller's cancellation wins
        raise asyncio.CancelledError
    return task.result()
