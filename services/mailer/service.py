"""The mailer's wiring: adapters from settings and the runtime, then the consume loops.

Consumers (durable, shared by replicas):

- ``mailer-ils``: the ILS subjects → pending entries / prompt work items;
- ``mailer-triggers``: ``schedule.fired.{weekly-loan-mail,daily-hold-ready,daily-overdue}``
  → a run fans pending entries out into work items;
- ``mailer-digest``: ``bounce.digest`` → the staff digest's work item;
- ``mailer-send``: ``mail.send.>`` (internal) → a work item or a chunk of them; mails in
  flight bounded by ``send_concurrency`` whatever carries them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Coroutine
from typing import Any

from services.mailer.collect.handlers import Collector
from services.mailer.collect.runlock import RunLocks
from services.mailer.collect.store import PENDING_BUCKET, PendingStore
from services.mailer.delivery.chunks import ChunkSender
from services.mailer.delivery.composer import LibraryComposer
from services.mailer.delivery.dkim import DkimSigner
from services.mailer.delivery.gates import GroupGates
from services.mailer.delivery.ledger import Ledger
from services.mailer.delivery.metrics import MailerMetrics
from services.mailer.delivery.sender import Sender, SenderConfig
from services.mailer.delivery.smtp import SmtpConfig, SmtpPool
from services.mailer.delivery.suppressions import SuppressionMirror
from services.mailer.plan.model import decode_digest, decode_send
from services.mailer.plan.timing import RetrySchedule
from services.mailer.settings import MailerSettings, parse_group_table
from shared.bus.consume import ConsumerSpec
from shared.bus.fastpub import FastKV, FastPublisher
from shared.contracts.base import Event
from shared.contracts.ils import (
    HoldCancelled,
    HoldReady,
    LoanOnlineIssued,
    LoanOverdue,
    LoanReturned,
    PatronEmailChanged,
    PatronLoanSuspended,
)
from shared.runtime.service import Runtime

ILS_SUBJECTS = tuple(
    m.SUBJECT
    for m in (
        LoanOnlineIssued,
        HoldReady,
        HoldCancelled,
        LoanOverdue,
        LoanReturned,
        PatronLoanSuspended,
        PatronEmailChanged,
    )
)
TRIGGER_SUBJECTS = (
    "schedule.fired.weekly-loan-mail",
    "schedule.fired.daily-hold-ready",
    "schedule.fired.daily-overdue",
)
SEND_SUBJECTS = ("mail.send.>",)
#: A deferred mail may be retried for days (until it expires): far more deliveries than
#: the default; each delivery re-checks expiry first, so this cannot loop forever.
SEND_MAX_DELIVER = 500
#: Unacked work items the server allows the send consumer (deferred mails included).
SEND_MAX_ACK_PENDING = 100_000
#: Work items fetched per pull, as a multiple of ``send_concurrency``.
SEND_BATCH_FACTOR = 4
LEDGER_BUCKET = "mail_ledger"


def smtp_config(s: MailerSettings) -> SmtpConfig:
    return SmtpConfig(
        host=s.smtp_host,
        port=s.smtp_port,
        tls=s.smtp_tls,
        ca_file=str(s.smtp_ca_file) if s.smtp_ca_file else None,
        username=s.smtp_username,
        password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        timeout=s.smtp_timeout,
        helo_name=s.mail_domain,
        pool_size=s.smtp_pool_size,
        max_messages=s.smtp_max_messages_per_connection,
    )


def library_composer(s: MailerSettings) -> LibraryComposer:
    signer = None
    if s.dkim_selector and s.dkim_key_file:
        signer = DkimSigner.from_file(
            s.dkim_selector, s.dkim_domain or s.mail_domain, s.dkim_key_file
        )
    return LibraryComposer(
        from_addr=s.from_address,
        from_name=s.mail_from_name,
        reply_to=s.mail_reply_to,
        iso2022jp_domains=s.iso2022jp_domain_set,
        signer=signer,
    )


async def wire(runtime: Runtime) -> list[Coroutine[Any, Any, None]]:
    settings = runtime.settings
    if not isinstance(settings, MailerSettings):
        raise TypeError("the mailer needs MailerSettings")
    js = runtime.js
    metrics = MailerMetrics(runtime.metrics.registry)
    schedule = RetrySchedule(settings.retry_base, settings.retry_factor, settings.retry_max)
    # Work items, outcomes, ledger and pending-entry writes (several per mail) go through
    # a pipelined publisher: same acks and errors as js.publish, without its per-request
    # timer. Reads and everything else stay on nats-py.
    fast = FastPublisher(runtime.nc)
    await fast.start()
    runtime.on_close(fast.close)
    store = await PendingStore.open(js, lambda kv, bucket: FastKV(fast, kv, bucket))
    suppressions = SuppressionMirror(
        js,
        await js.key_value("suppressions"),
        "suppressions",
        last_sequence=fast.last_sequence,
    )
    await suppressions.start()
    runtime.on_close(suppressions.close)

    async def publish(event: Event) -> None:
        await fast.publish_event(event)

    ledger_kv = await js.key_value(LEDGER_BUCKET)
    pool = SmtpPool(smtp_config(settings))
    runtime.on_close(pool.close)
    gates = GroupGates(
        parse_group_table(settings.group_concurrency),
        parse_group_table(settings.group_rate),
        # A slow group never holds every send slot.
        admission_cap=max(1, settings.send_concurrency - 1),
    )
    sender = Sender(
        config=SenderConfig(settings.mail_domain, settings.verp_key, schedule),
        clock=runtime.clock,
        ledger=Ledger(
            ledger_kv,
            lease=settings.claim_lease,
            schedule=schedule,
            domain=settings.mail_domain,
            writes=FastKV(fast, ledger_kv, LEDGER_BUCKET),
        ),
        composer=library_composer(settings),
        pool=pool,
        gates=gates,
        publish=publish,
        is_suppressed=suppressions.is_suppressed,
        is_returned=store.is_returned,
        address_change=store.address_change,
        cancellation=store.cancellation,
        metrics=metrics,
    )
    chunks = ChunkSender(
        sender.handle,
        publish,
        admission=gates.admission,
        concurrency=settings.send_concurrency,
        ack_wait=settings.send_ack_wait,
        on_hand_off=lambda kind: metrics.handed_off.labels(kind=kind).inc(),
    )
    collector = Collector(
        store=store,
        publish=publish,
        clock=runtime.clock,
        staff_address=settings.staff_digest_address,
        on_work=lambda kind: metrics.work_items.labels(kind=kind).inc(),
        runs=RunLocks(
            await js.key_value(PENDING_BUCKET),
            runtime.clock,
            holder=f"{socket.gethostname()}-{os.getpid()}",
            stale_after=settings.trigger_ack_wait,
        ),
    )
    return [
        runtime.consumer(
            ConsumerSpec("ILS", "mailer-ils", ILS_SUBJECTS, batch=64, concurrency=8),
            collector.on_ils,
        ),
        runtime.consumer(
            ConsumerSpec(
                "SCHEDULE", "mailer-triggers", TRIGGER_SUBJECTS, ack_wait=settings.trigger_ack_wait
            ),
            collector.on_trigger,
        ),
        runtime.consumer(
            ConsumerSpec("BOUNCE", "mailer-digest", ("bounce.digest",)),
            collector.on_digest,
            decode_digest,
        ),
        runtime.consumer(
            ConsumerSpec(
                "MAIL",
                "mailer-send",
                SEND_SUBJECTS,
                max_deliver=SEND_MAX_DELIVER,
                ack_wait=settings.send_ack_wait,
                # Several times the concurrency in hand: items waiting for a throttled
                # carrier's pacer hold their own slots while the others are sent. Every
                # item in hand is handled; ``ChunkSender`` bounds the mails in flight.
                batch=settings.send_concurrency * SEND_BATCH_FACTOR,
                concurrency=settings.send_concurrency * SEND_BATCH_FACTOR,
                # The ledger makes a redelivered work item harmless (it is recognised as
                # done), so the ack need not wait for the server's confirmation.
                confirm_ack=False,
                # Deferred mails wait nak'ed (minutes to a day) and count as unacked: a
                # carrier refusing a Saturday's mail must not stop the other carriers'.
                max_ack_pending=SEND_MAX_ACK_PENDING,
            ),
            chunks.handle,
            decode_send,
        ),
    ]
