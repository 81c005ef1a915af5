"""A connection dropped at any point of a message's handling loses nothing, counts nothing twice."""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from services.bounce.mailbox.reader import Disposition, MailboxReader, ReaderConfig
from services.bounce.metrics import BounceMetrics
from services.bounce.processor import BounceProcessor
from services.bounce.queue import Policy
from services.bounce.stores import Stores, patron_key
from shared.clock import SystemClock
from shared.contracts.base import Event
from shared.contracts.bounce import PatronFlagged
from tests.integration.bounce_service.helpers import SECRET, Imap
from tests.support.nats import stream_messages, wait_for
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tools.localservers import Dovecot

When = Literal["before", "after"]


@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_dropped_connection_neither_loses_nor_double_counts_a_bounce(
    when: When, dovecot: Dovecot, js: JetStreamContext
) -> None:
    stores = await Stores.open(js)
    records = [ledger_record(f"online_loan:P{n}:b", f"P{n}", f"gone{n}@example.jp") for n in (1, 2)]
    for record in records:
        await stores.ledger.put(record.mail_id, record)

    async def publish(event: Event) -> None:
        from shared.bus.publish import publish as js_publish

        await js_publish(js, event)

    metrics = BounceMetrics(CollectorRegistry())
    processor = BounceProcessor(
        stores,
        publish,
        metrics,
        SystemClock(),
        key=SECRET.encode(),
        domain="plib.pref.aomori.lg.jp",
        policy=Policy(),
        max_bytes=5_000_000,
    )
    stop = asyncio.Event()
    calls: list[int] = []

    async def flaky_sink(raw: bytes) -> Disposition:
        """Drop the IMAP connection on the first message: before or after handling it."""
        calls.append(len(raw))
        if len(calls) == 1 and when == "before":
            reader.disconnect_now()
            raise ConnectionResetError("connection dropped mid-fetch")
        disposition = await processor.handle_message(raw)
        if len(calls) == 1:
            reader.disconnect_now()  # processed, but the MOVE will not happen
        return disposition

    config = ReaderConfig(
        host=dovecot.host,
        port=dovecot.port,
        username=dovecot.user,
        password=dovecot.password,
        backoff_initial=0.05,
        backoff_max=0.2,
        timeout=10,
    )
    reader = MailboxReader(config, flaky_sink, metrics, stop)
    async with Imap(dovecot) as imap:
        for n, record in enumerate(records, 1):
            raw = build_dsn(
                recipient=f"gone{n}@example.jp",
                verp_to=verp_for(SECRET.encode(), record),
                bounce_message_id=f"<dsn-{n}@mx>",
            )
            await imap.append(raw)
        task = asyncio.create_task(reader.run())
        try:

            async def done() -> bool:
                return await imap.count("INBOX") == 0 and await imap.count("Processed") == 2

            await wait_for(done, timeout=60)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    assert reader.sessions >= 2, "the reader reconnected"
    assert len(calls) == 3, "the first message was fetched again after the reconnect"
    for n in (1, 2):
        entry, _ = await stores.queue.get(patron_key(f"P{n}"))
        assert entry is not None and entry.bounce_count == 1 and len(entry.evidence) == 1
    flagged = await stream_messages(js, "BOUNCE", "patron.flagged")
    ids = sorted(PatronFlagged.model_validate_json(m.data).patron_id for m in flagged)  # type: ignore[attr-defined]
    assert ids == ["P1", "P2"], "one flag event per patron (duplicates de-duplicated)"
