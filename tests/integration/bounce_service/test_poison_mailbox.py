"""One bounce that cannot be handled no longer holds back the inbox (real Dovecot + NATS)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry

from services.bounce.mailbox.reader import MailboxReader, ReaderConfig
from services.bounce.metrics import BounceMetrics
from services.bounce.processor import BounceProcessor, bounce_id_for
from services.bounce.queue import Policy
from services.bounce.stores import Stores, patron_key
from shared.bus.publish import publish as js_publish
from shared.clock import SystemClock
from shared.contracts.base import Event
from shared.contracts.bounce import BounceClassified
from tests.integration.bounce_service.helpers import SECRET, Imap, running_service, settings_for
from tests.support.nats import wait_for
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tools.localservers import Dovecot, NatsServer

POISON = "poison@example.net"


async def test_a_bounce_with_an_over_long_message_id_is_handled_with_the_rest(
    dovecot: Dovecot, fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    """The reviewer's case: a foreign DSN returning a 320-character Message-ID first."""
    stores = await Stores.open(js)
    record = ledger_record("online_loan:P-1:batch-2026-12-03", "P-1", "old@example.jp")
    await stores.ledger.put(record.mail_id, record)
    long_id = "<" + "a" * 320 + "@spam.example>"
    first = build_dsn(recipient="x@example.net", original_message_id=long_id)
    good = build_dsn(
        recipient="old@example.jp",
        verp_to=verp_for(SECRET.encode(), record),
        bounce_message_id="<dsn-2@mx>",
    )
    async with Imap(dovecot) as imap:
        await imap.append(first)
        await imap.append(good)
        async with running_service(settings_for(fresh_nats, dovecot)):

            async def both_processed() -> bool:
                return await imap.count("INBOX") == 0 and await imap.count("Processed") == 2

            await wait_for(both_processed, timeout=60)
    entry, _ = await stores.queue.get(patron_key("P-1"))
    assert entry is not None and entry.status == "open"


async def test_a_poison_bounce_is_quarantined_and_the_next_one_processed(
    dovecot: Dovecot, js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    """Handling the first message always fails (a bug it triggers, injected at publish):
    after three attempts in a row it goes to Quarantine and the bounce after it is handled."""
    stores = await Stores.open(js)
    record = ledger_record("online_loan:P-2:batch-2026-12-03", "P-2", "gone@example.jp")
    await stores.ledger.put(record.mail_id, record)
    attempts: list[str] = []

    async def publish(event: Event) -> None:
        if isinstance(event, BounceClassified) and event.recipient == POISON:
            attempts.append(event.event_id)
            raise ValueError("a bug only this bounce triggers")
        await js_publish(js, event)

    metrics = BounceMetrics(CollectorRegistry())
    processor = BounceProcessor(
        stores, publish, metrics, SystemClock(), key=SECRET.encode(),
        domain="plib.pref.aomori.lg.jp", policy=Policy(), max_bytes=5_000_000, poison_after=3,
    )  # fmt: skip
    config = ReaderConfig(
        host=dovecot.host, port=dovecot.port, username=dovecot.user, password=dovecot.password,
        backoff_initial=0.05, backoff_max=0.2, timeout=10,
    )  # fmt: skip
    stop = asyncio.Event()
    reader = MailboxReader(config, processor.handle_message, metrics, stop)
    poison = build_dsn(recipient=POISON, bounce_message_id="<poison@mx>")
    good = build_dsn(
        recipient="gone@example.jp",
        verp_to=verp_for(SECRET.encode(), record),
        bounce_message_id="<good@mx>",
    )
    async with Imap(dovecot) as imap:
        await imap.append(poison)
        await imap.append(good)
        with caplog.at_level(logging.WARNING, logger="services.bounce"):
            task = asyncio.create_task(reader.run())
            try:

                async def settled() -> bool:
                    return (
                        await imap.count("INBOX") == 0
                        and await imap.count("Quarantine") == 1
                        and await imap.count("Processed") == 1
                    )

                await wait_for(settled, timeout=60)
            finally:
                stop.set()
                await asyncio.wait_for(task, 30)
    assert len(attempts) == 3, "three attempts, then quarantined"
    assert reader.sessions >= 3
    entry, _ = await stores.queue.get(patron_key("P-2"))
    assert entry is not None and entry.status == "open"
    (quarantined,) = [r for r in caplog.records if r.msg == "bounce.poison_quarantined"]
    assert quarantined.levelno == logging.ERROR
    assert quarantined.bounce_id == bounce_id_for(poison)  # type: ignore[attr-defined]
    assert await stores.seen.get(bounce_id_for(poison)) == (None, 0), "retried if moved back"
    assert metrics.messages.labels(disposition="poison")._value.get() == 1
