"""The one consume loop every service uses.

Every message fetched gets exactly one explicit outcome:

- the handler returns: **ack** (``ack_sync``, so a crash right after cannot replay a
  message whose effects were recorded — handlers are idempotent all the same);
- the handler raises ``Retry``: **nak with delay** (the consumer's schedule, or the delay
  given), until ``max_deliver`` is reached, then a dead letter;
- the handler raises ``Reject``, or the payload fails validation: a **dead letter**
  (``deadletter.<service>.<subject>`` with the original payload and the reason) then
  **term**;
- any other exception: logged with its type, then treated as ``Retry`` — a bug or an
  outage never acks a message silently, and a message that keeps failing ends as a dead
  letter with the exception named.

Handling overlaps pulling: up to ``batch`` messages are in hand at once, and the next pull
asks for the free room as soon as half of it is free, so one slow message (a throttled
carrier's mail) holds its own slot, not a whole batch. On stop the loop pulls no more,
finishes the messages in hand and returns; the runtime then drains.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import BaseModel, ValidationError

from shared.bus.publish import MSG_ID, publish
from shared.contracts.base import Event
from shared.contracts.deadletter import DeadLetter
from shared.contracts.registry import decode
from shared.runtime.metrics import Metrics

log = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseModel)


#: The longest nak delay asked of the server (seconds). Beyond int64 nanoseconds, or
#: negative, the server takes a plain nak (at once); ``inf``/NaN cannot be sent at all.
MAX_RETRY_DELAY = 30 * 86400.0
#: The largest payload a dead letter carries (its JSON field, escaped): the letter must fit
#: in one NATS message (1 MB by default) with its envelope. A larger payload is left out;
#: the letter names its size, sha256 and where it stays (its stream and sequence).
MAX_LETTER_PAYLOAD = 512 * 1024


class Retry(Exception):
    """Retry this message later (nak with delay, clamped to 0..``MAX_RETRY_DELAY``)."""

    def __init__(self, reason: str, *, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if delay is not None:
            delay = 0.0 if math.isnan(delay) else min(max(delay, 0.0), MAX_RETRY_DELAY)
        self.delay = delay


class Reject(Exception):
    """Never retry: dead-letter the message with this reason."""

    def __init__(self, reason: str, *, errors: Sequence[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = list(errors)


#: Seconds to pause after a refused pull before pulling again.
FETCH_PAUSE = 1.0
#: Refused pulls in a row after which the durable consumer is declared again.
RESUBSCRIBE_AFTER = 3


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    stream: str
    durable: str
    filter_subjects: tuple[str, ...]
    max_deliver: int = 12
    ack_wait: float = 60.0
    batch: int = 32
    concurrency: int = 1
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 600.0)
    fetch_timeout: float = 1.0
    #: ``ack_sync`` (wait for the server's confirmation) by default. A consumer whose
    #: handler records its own outcome durably (the mailer's ledger) may take a plain ack:
    #: a lost ack only redelivers a message the handler recognises as done.
    confirm_ack: bool = True
    #: Messages delivered and not yet acked the server allows. A message nak'ed with a
    #: delay counts until it is redelivered and acked, so a consumer whose handler defers
    #: many messages for long (the mailer's deferred mails) needs room for all of them, or
    #: they stop every other delivery. Default: four batches, at least 256.
    max_ack_pending: int | None = None

    def delay_for(self, delivered: int) -> float:
        index = min(max(delivered - 1, 0), len(self.retry_delays) - 1)
        return self.retry_delays[index]

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subjects=list(self.filter_subjects),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            # The loop dead-letters at max_deliver itself; the server limit is a backstop.
            max_deliver=self.max_deliver + 2,
            max_ack_pending=self.max_ack_pending or max(self.batch * 4, 256),
        )


@dataclass(slots=True)
class Delivery:
    """What a handler may want besides the event: where it came from, how often."""

    subject: str
    msg_id: str | None
    num_delivered: int
    stream_seq: int
    raw: Msg = field(repr=False)

    async def in_progress(self) -> None:
        """Extend the ack deadline during long work."""
        await self.raw.in_progress()


Handler = Callable[[E, Delivery], Awaitable[None]]
Decoder = Callable[[str, bytes], E]


def _default_decoder(subject: str, data: bytes) -> Event:
    return decode(subject, data)


def validation_lines(exc: ValidationError) -> list[str]:
    """One line per error naming the field: ``items.0.due_date: Input should be a valid date``."""
    lines = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(payload)"
        lines.append(f"{where}: {err['msg']}")
    return lines


class _InHand:
    """The messages a consume loop holds, each handled by its own task.

    A message the server redelivers while its first delivery is still in hand (its
    ``ack_wait`` ran out under a long handler, or while it waited for the semaphore) is
    not handled a second time alongside: the copy is dropped, and the first delivery's
    outcome settles the stream sequence. An exception escaping a handler (``handle`` is
    meant never to raise but for cancellation) is kept and raised by the loop, which
    then stops the service, as it did when the loop awaited its batch.
    """

    def __init__(self, batch: int) -> None:
        self._batch = batch
        self.low_water = max(1, batch // 2)  # pull again once this much room is free
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._failure: BaseException | None = None

    def room(self) -> int:
        return self._batch - len(self._tasks)

    def start(self, msg: Msg, work: Coroutine[Any, Any, None]) -> None:
        seq = msg.metadata.sequence.stream
        if seq in self._tasks:
            work.close()  # a redelivered copy of a message in hand
            log.info("consumer.redelivered_in_hand", extra={"stream_seq": seq})
            return
        task = asyncio.create_task(work)
        self._tasks[seq] = task
        task.add_done_callback(lambda done: self._done(seq, done))

    def _done(self, seq: int, task: asyncio.Task[None]) -> None:
        if self._tasks.get(seq) is task:
            del self._tasks[seq]
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()

    def raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def wait_for_room(self) -> None:
        await asyncio.wait(list(self._tasks.values()), return_when=asyncio.FIRST_COMPLETED)

    def cancel(self) -> None:
        for task in self._tasks.values():
            task.cancel()

    async def finish(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)


class Consumer(Generic[E]):
    """A durable pull consumer bound to one handler."""

    def __init__(
        self,
        js: JetStreamContext,
        spec: ConsumerSpec,
        handler: Handler[E],
        *,
        service: str,
        metrics: Metrics,
        decoder: Decoder[E] | None = None,
    ) -> None:
        self._js = js
        self._spec = spec
        self._handler = handler
        self._service = service
        self._metrics = metrics
        self._decoder: Decoder[Any] = decoder or _default_decoder

    async def run(self, stop: asyncio.Event) -> None:
        """Pull and handle until ``stop`` is set; the messages in hand are always finished."""
        sub = await self._subscribe()
        hand = _InHand(self._spec.batch)
        sem = asyncio.Semaphore(self._spec.concurrency)
        failures = 0
        log.info("consumer.started", extra={"consumer": self._spec.durable})
        try:
            while not stop.is_set():
                hand.raise_failure()
                if hand.room() < hand.low_water:
                    await hand.wait_for_room()
                    continue
                try:
                    msgs = await sub.fetch(hand.room(), timeout=self._spec.fetch_timeout)
                except (TimeoutError, NatsTimeoutError):
                    # nats-py raises a bare asyncio.TimeoutError when the deadline runs
                    # out between its two pull requests: an empty fetch all the same.
                    failures = 0
                    continue
                except ConnectionClosedError:
                    raise  # closed for good: the service stops (and is restarted)
                except NatsError as exc:
                    # A pull refused while the server restarts or the leader moves: pause
                    # briefly (or until stopped) and pull again. Refused again and again,
                    # the durable consumer may be gone (deleted, stream re-provisioned):
                    # it is declared anew; if the server refuses that, the service stops.
                    failures += 1
                    log.warning(
                        "consumer.fetch_failed",
                        extra={"consumer": self._spec.durable, "error": type(exc).__name__},
                    )
                    if failures >= RESUBSCRIBE_AFTER:
                        with contextlib.suppress(NatsError):
                            await sub.unsubscribe()
                        sub, failures = await self._subscribe(), 0
                        continue
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), FETCH_PAUSE)
                    continue
                failures = 0
                for msg in msgs:
                    hand.start(msg, self._bounded(sem, msg))
        except asyncio.CancelledError:
            # Cancelled (the shutdown grace ran out): the messages in hand are cancelled
            # with the loop, as they were when the loop awaited its batch; they are not
            # acked, so the server redelivers them.
            hand.cancel()
            raise
        finally:
            try:
                await hand.finish()
            finally:
                with contextlib.suppress(NatsError):
                    await sub.unsubscribe()
                log.info("consumer.stopped", extra={"consumer": self._spec.durable})
        hand.raise_failure()

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        """Declare the durable consumer (idempotent) and bind a pull subscription to it."""
        await self._js.add_consumer(self._spec.stream, self._spec.config())
        return await self._js.pull_subscribe_bind(self._spec.durable, stream=self._spec.stream)

    async def _bounded(self, sem: asyncio.Semaphore, msg: Msg) -> None:
        if sem.locked():
            # Waiting for a free handler: kept from redelivery meanwhile, or each copy the
            # server sent would count against max_deliver (and past the server's limit the
            # message would leave pending while still in hand).
            beat = asyncio.create_task(self._keep_waiting(msg))
            try:
                await sem.acquire()
            finally:
                beat.cancel()
        else:
            await sem.acquire()
        try:
            await self.handle(msg)
        finally:
            sem.release()

    async def _keep_waiting(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self._spec.ack_wait / 3)  # a timer, not a synchronisation
            with contextlib.suppress(NatsError, TimeoutError, OSError):
                await msg.in_progress()  # lost: a redelivered copy is dropped in hand

    async def handle(self, msg: Msg) -> None:
        """Give one message its outcome. Never raises but for cancellation.

        When the outcome itself cannot be delivered (NATS down or restarting while the
        handler finished: the ack, nak, term or dead-letter publish fails), the message is
        left unacknowledged: the server redelivers it after ``ack_wait`` and the (idempotent)
        handler sees it again. The loop and the service carry on.
        """
        try:
            await self._handle(msg)
        except (NatsError, TimeoutError, OSError) as exc:
            self._count("outcome_failed")
            log.warning(
                "consumer.outcome_failed",
                extra={"consumer": self._spec.durable, "error": type(exc).__name__},
            )

    async def _handle(self, msg: Msg) -> None:
        meta = msg.metadata
        delivery = Delivery(
            subject=msg.subject,
            msg_id=(msg.headers or {}).get(MSG_ID),
            num_delivered=meta.num_delivered,
            stream_seq=meta.sequence.stream,
            raw=msg,
        )
        try:
            event = self._decoder(msg.subject, msg.data)
        except ValidationError as exc:
            await self._dead_letter(
                msg, delivery, "payload failed validation", validation_lines(exc)
            )
            return
        except (LookupError, ValueError) as exc:
            await self._dead_letter(msg, delivery, f"undecodable payload: {exc}", [])
            return
        try:
            await self._handler(event, delivery)
        except Reject as exc:
            await self._dead_letter(msg, delivery, exc.reason, exc.errors)
        except Retry as exc:
            await self._retry(msg, delivery, exc.reason, exc.delay)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # this handler is being cancelled (shutdown): no outcome, redelivered
            # A cancelled future the handler awaited (cancelled by something else): an error
            # like any other, retried and in the end dead-lettered, never silent.
            log.error(
                "consumer.handler_error",
                extra={"consumer": self._spec.durable, "error": type(exc).__name__},
            )
            await self._retry(msg, delivery, "CancelledError: an awaited task was cancelled", None)
        except Exception as exc:
            log.exception(
                "consumer.handler_error",
                extra={"consumer": self._spec.durable, "error": type(exc).__name__},
            )
            await self._retry(msg, delivery, f"{type(exc).__name__}: {exc}"[:500], None)
        else:
            if self._spec.confirm_ack:
                await msg.ack_sync()
            else:
                await msg.ack()
            self._count("ack")

    async def _retry(self, msg: Msg, d: Delivery, reason: str, delay: float | None) -> None:
        if d.num_delivered >= self._spec.max_deliver:
            await self._dead_letter(
                msg, d, f"gave up after {d.num_delivered} deliveries: {reason}", []
            )
            return
        wait = delay if delay is not None else self._spec.delay_for(d.num_delivered)
        await msg.nak(delay=wait)
        self._count("retry")
        log.info(
            "consumer.retry",
            extra={"consumer": self._spec.durable, "delay": wait, "delivered": d.num_delivered},
        )

    async def _dead_letter(self, msg: Msg, d: Delivery, reason: str, errors: list[str]) -> None:
        text, b64, left_out = _letter_payload(msg.data)
        if left_out:
            errors = [*errors, f"{left_out}; it stays in stream {self._spec.stream} at "
                      f"sequence {d.stream_seq} (terminated, not deleted)"]  # fmt: skip
        # The stream timestamp keeps ids distinct when a re-created stream reuses sequences
        # (the DEADLETTER stream would drop a letter with a known id as a duplicate).
        stamp = int(msg.metadata.timestamp.timestamp() * 1_000_000)
        letter = DeadLetter(
            event_id=f"dl-{self._spec.stream}-{d.stream_seq}-{stamp}-{self._spec.durable}",
            occurred_at=datetime.now(UTC),
            service=self._service,
            consumer=self._spec.durable,
            original_subject=msg.subject[:300],
            original_msg_id=d.msg_id,
            deliveries=d.num_delivered,
            reason=reason[:4000],
            errors=errors,
            payload_text=text,
            payload_b64=b64,
        )
        # Publish first: if this fails, the message is redelivered rather than lost.
        await publish(self._js, letter)
        await msg.term()
        self._count("dead_letter")
        log.warning(
            "consumer.dead_letter",
            extra={"consumer": self._spec.durable, "subject": msg.subject, "reason": reason[:300]},
        )

    def _count(self, outcome: str) -> None:
        self._metrics.consumed.labels(consumer=self._spec.durable, outcome=outcome).inc()


def _letter_payload(data: bytes) -> tuple[str | None, str | None, str]:
    """The payload as a dead letter carries it (UTF-8 text, else base64), or neither and
    why, when it would not fit (``MAX_LETTER_PAYLOAD``)."""
    try:
        text: str | None = data.decode("utf-8")
        b64 = None
        size = len(json.dumps(text, ensure_ascii=False).encode("utf-8"))
    except UnicodeDecodeError:
        text, b64 = None, base64.b64encode(data).decode("ascii")
        size = len(b64)
    if size <= MAX_LETTER_PAYLOAD:
        return text, b64, ""
    digest = hashlib.sha256(data).hexdigest()
    return None, None, f"payload of {len(data)} bytes (sha256 {digest}) too large to carry here"
