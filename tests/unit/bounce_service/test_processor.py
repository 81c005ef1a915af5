"""One bounce through the whole core with in-memory buckets: flag, suppress, count once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.bounce.patrons import PatronEvents
from services.bounce.processor import bounce_id_for
from services.bounce.stores import patron_key
from shared.contracts.bounce import BounceClassified, PatronFlagged, PatronFlagUpdated
from shared.contracts.ils import PatronEmailChanged
from shared.contracts.mail import MailOutcome
from shared.mailrecord import address_key
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tests.unit.bounce_service.fakes import KEY, T0, World, world

ADDR = "typo@example.jp"
REC = ledger_record("online_loan:P1:batch-2026-12-03", "P1", ADDR)


async def seeded() -> World:
    w = world()
    await w.stores.ledger.put(REC.mail_id, REC)
    return w


async def test_a_bad_address_bounce_flags_the_patron_and_suppresses_the_address() -> None:
    w = await seeded()
    raw = build_dsn(recipient=ADDR, verp_to=verp_for(KEY, REC))
    assert await w.processor.handle_message(raw) == "processed"
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status == "open" and entry.category == "bad_address"
    assert entry.evidence[0].correlation == "verp" and entry.evidence[0].mail_kind == "online_loan"
    sup, _ = await w.stores.suppressions.get(address_key(ADDR))
    assert sup is not None and sup.patron_ids == ["P1"]
    assert w.publish.subjects() == ["patron.flagged", "bounce.classified.bad_address"]
    classified = w.publish.of(BounceClassified)[0]
    assert isinstance(classified, BounceClassified) and classified.patron_ids == ["P1"]


async def test_the_same_message_handled_twice_is_counted_once() -> None:
    w = await seeded()
    raw = build_dsn(recipient=ADDR, verp_to=verp_for(KEY, REC))
    await w.processor.handle_message(raw)
    await w.processor.handle_message(raw)
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.bounce_count == 1 and len(entry.evidence) == 1
    assert len(w.publish.events) == 2


async def test_a_crash_before_the_seen_record_repeats_nothing_but_the_events() -> None:
    w = await seeded()
    raw = build_dsn(recipient=ADDR, verp_to=verp_for(KEY, REC))
    await w.processor.handle_message(raw)
    await w.stores.seen.delete_when(bounce_id_for(raw), lambda _: True)  # crashed before it
    await w.processor.handle_message(raw)
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.bounce_count == 1
    ids = [e.event_id for e in w.publish.events]
    assert len(ids) == 4 and len(set(ids)) == 2, "re-sent events keep their ids (stream dedup)"


async def test_a_soft_bounce_flags_only_on_the_third_within_a_week() -> None:
    w = await seeded()
    for n in range(3):
        raw = build_dsn(
            recipient=ADDR,
            status="5.2.2",
            verp_to=verp_for(KEY, REC),
            diagnostic="552 5.2.2 Mailbox full",
            bounce_message_id=f"<d{n}@x>",
        )
        await w.processor.handle_message(raw)
        w.clock.advance(timedelta(days=2))
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status == "open" and entry.category == "mailbox_full"
    assert len(w.publish.of(PatronFlagged)) == 1
    sup, _ = await w.stores.suppressions.get(address_key(ADDR))
    assert sup is None, "only bad_address suppresses"


async def test_a_sender_side_bounce_never_flags_and_alerts_ops() -> None:
    w = await seeded()
    raw = build_dsn(
        recipient=ADDR,
        status="5.7.1",
        verp_to=verp_for(KEY, REC),
        diagnostic="554 5.7.1 Message rejected: message size exceeds fixed limit",
    )
    await w.processor.handle_message(raw)
    classified = w.publish.of(BounceClassified)
    assert classified and classified[0].subject() == "bounce.classified.sender_side"
    assert await w.stores.queue.get(patron_key("P1")) == (None, 0)
    assert w.metrics.sender_side.labels(carrier_group="other")._value.get() == 1


async def test_an_unreadable_message_goes_to_quarantine() -> None:
    w = await seeded()
    assert await w.processor.handle_message(b"\r\n  \r\n") == "quarantine"
    assert w.publish.events == []


async def test_an_email_change_resolves_the_flag_and_lifts_the_suppression() -> None:
    w = await seeded()
    await w.processor.handle_message(build_dsn(recipient=ADDR, verp_to=verp_for(KEY, REC)))
    events = PatronEvents(w.stores, w.publish, w.clock)
    change = PatronEmailChanged(
        occurred_at=T0, patron_id="P1", new_email="new@example.jp", old_email=ADDR
    )
    await events.email_changed(change)
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status == "resolved" and entry.notes[-1].by == "system"
    assert await w.stores.suppressions.get(address_key(ADDR)) == (None, 0)
    updated = w.publish.of(PatronFlagUpdated)
    assert len(updated) == 1 and updated[0].status == "resolved"  # type: ignore[attr-defined]
    assert await w.stores.patrons_for("new@example.jp") == ["P1"]


async def test_a_shared_address_stays_suppressed_while_another_family_member_is_flagged() -> None:
    w = world()
    events = PatronEvents(w.stores, w.publish, w.clock)
    for patron in ("P-PARENT", "P-CHILD"):
        await events.index_add(ADDR, patron)
        record = ledger_record(f"online_loan:{patron}:batch-2026-12-03", patron, ADDR)
        await w.stores.ledger.put(record.mail_id, record)
        raw = build_dsn(
            recipient=ADDR, verp_to=verp_for(KEY, record), bounce_message_id=f"<{patron}@mx>"
        )
        await w.processor.handle_message(raw)
    for patron in ("P-PARENT", "P-CHILD"):
        entry, _ = await w.stores.queue.get(patron_key(patron))
        assert entry is not None and entry.status == "open"
        assert entry.evidence[0].correlation == "verp"
    change = PatronEmailChanged(
        occurred_at=T0, patron_id="P-CHILD", new_email="kid@example.jp", old_email=ADDR
    )
    await events.email_changed(change)
    sup, _ = await w.stores.suppressions.get(address_key(ADDR))
    assert sup is not None and sup.patron_ids == ["P-PARENT"]


async def test_a_forged_token_does_not_flag_the_patron_it_names() -> None:
    w = await seeded()
    raw = build_dsn(recipient="someone@else.example", verp_to=verp_for(b"forger", REC))
    await w.processor.handle_message(raw)
    assert await w.stores.queue.get(patron_key("P1")) == (None, 0)
    classified = w.publish.of(BounceClassified)[0]
    assert isinstance(classified, BounceClassified) and classified.correlation == "none"


def outcome(**kw: object) -> MailOutcome:
    base: dict[str, object] = dict(
        occurred_at=T0,
        mail_key="online_loan:P2:b",
        kind="online_loan",
        outcome="failed",
        patron_id="P2",
        cause="smtp_permanent",
        recipient="u@ezweb.ne.jp",
        recipient_domain="ezweb.ne.jp",
        carrier_group="au",
        smtp_code=550,
        smtp_text="5.1.1 <u@ezweb.ne.jp>: User unknown",
        message_id=REC.message_id,
    )
    return MailOutcome.model_validate(base | kw)


@pytest.mark.parametrize(
    ("kw", "category"),
    [
        ({}, "bad_address"),
        (
            {
                "cause": "invalid_address",
                "smtp_code": None,
                "smtp_text": None,
                "detail": "アドレスに「@」がありません",
            },
            "bad_address",
        ),
        ({"smtp_code": 552, "smtp_text": "5.2.2 mailbox full"}, None),
    ],
)
async def test_the_mailers_5xx_failures_go_through_the_same_flagging(
    kw: dict[str, object], category: str | None
) -> None:
    w = world()
    failed = outcome(**kw)
    await w.processor.handle_smtp_failure(failed)
    await w.processor.handle_smtp_failure(failed)  # redelivery: no double count
    entry, _ = await w.stores.queue.get(patron_key("P2"))
    assert entry is not None and sum(entry.counts.values()) == 1
    assert entry.evidence[0].source == "smtp"
    assert (entry.status and entry.category) == category
