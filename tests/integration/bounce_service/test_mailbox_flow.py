"""Bounces appended to a real Dovecot are classified, flagged and moved (real NATS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nats.js import JetStreamContext

from services.bounce.stores import Stores, patron_key
from shared.contracts.bounce import PatronFlagged
from shared.contracts.ils import HoldReady
from shared.mailrecord import address_key
from tests.integration.bounce_service.helpers import (
    CORPUS,
    SECRET,
    Imap,
    emit,
    running_service,
    settings_for,
)
from tests.support.nats import stream_messages, wait_for
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tools.localservers import Dovecot, NatsServer

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
EZWEB = "this-message-rejected-by-the-domain-filter@ezweb.ne.jp"


def hold_ready(patron_id: str, email: str) -> HoldReady:
    return HoldReady(
        occurred_at=NOW,
        patron_id=patron_id,
        email=email,
        hold_id="H1",
        item_id="I1",
        title="津軽の民話",
        secured_at=NOW,
        pickup_deadline=(NOW + timedelta(days=7)).date(),
    )


async def test_bounces_are_classified_flagged_and_moved_to_processed(
    dovecot: Dovecot, fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    stores = await Stores.open(js)
    record = ledger_record("online_loan:P-VERP:batch-2026-12-03", "P-VERP", "old@example.jp")
    await stores.ledger.put(record.mail_id, record)
    await emit(js, hold_ready("P-AU-1", EZWEB))
    await emit(js, hold_ready("P-AU-2", EZWEB))  # a family sharing one address
    async with Imap(dovecot) as imap:
        await imap.append(
            build_dsn(recipient="old@example.jp", verp_to=verp_for(SECRET.encode(), record))
        )
        await imap.append((CORPUS / "lhost-ezweb" / "lhost-ezweb-01.eml").read_bytes())
        await imap.append((CORPUS / "_not-bounce" / "is-not-bounce-01.eml").read_bytes())
        async with running_service(settings_for(fresh_nats, dovecot)):

            async def all_moved() -> bool:
                return await imap.count("INBOX") == 0 and await imap.count("Processed") == 3

            await wait_for(all_moved, timeout=60)
            await wait_for(lambda: _flagged(stores, "P-AU-2"), timeout=30)
        assert await imap.count("Quarantine") == 0
    verp_entry, _ = await stores.queue.get(patron_key("P-VERP"))
    assert verp_entry is not None and verp_entry.category == "bad_address"
    assert verp_entry.evidence[0].correlation == "verp"
    assert (await stores.suppressions.get(address_key("old@example.jp")))[0] is not None
    for patron in ("P-AU-1", "P-AU-2"):
        entry, _ = await stores.queue.get(patron_key(patron))
        assert entry is not None and entry.category == "domain_rejection"
        assert entry.evidence[0].correlation == "address"
    flagged = await stream_messages(js, "BOUNCE", "patron.flagged")
    patrons = sorted(PatronFlagged.model_validate_json(m.data).patron_id for m in flagged)  # type: ignore[attr-defined]
    assert patrons == ["P-AU-1", "P-AU-2", "P-VERP"]
    classified = await stream_messages(js, "BOUNCE", "bounce.classified.*")
    assert sorted(m.subject for m in classified) == [  # type: ignore[attr-defined]
        "bounce.classified.bad_address",
        "bounce.classified.domain_rejection",
    ]


async def _flagged(stores: Stores, patron_id: str) -> bool:
    entry, _ = await stores.queue.get(patron_key(patron_id))
    return entry is not None and entry.status == "open"


async def test_an_unreadable_message_is_moved_to_quarantine(
    dovecot: Dovecot, fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    async with Imap(dovecot) as imap:
        await imap.append(b"\r\n   \r\n")
        async with running_service(settings_for(fresh_nats, dovecot)):

            async def quarantined() -> bool:
                return await imap.count("Quarantine") == 1 and await imap.count("INBOX") == 0

            await wait_for(quarantined, timeout=60)
        assert await imap.count("Processed") == 0


async def test_a_bounce_arriving_while_idle_is_picked_up(
    dovecot: Dovecot, fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    stores = await Stores.open(js)
    await emit(js, hold_ready("P-IDLE", "kijitora@example.co.jp"))
    async with Imap(dovecot) as imap, running_service(settings_for(fresh_nats, dovecot)):
        await wait_for(lambda: imap.exists("Quarantine"), timeout=30)  # the reader is logged in
        await imap.append((CORPUS / "lhost-postfix" / "lhost-postfix-04.eml").read_bytes())
        await wait_for(lambda: _flagged(stores, "P-IDLE"), timeout=30)
        await wait_for(lambda: _count_is(imap, "Processed", 1), timeout=30)


async def _count_is(imap: Imap, folder: str, n: int) -> bool:
    return await imap.count(folder) == n
