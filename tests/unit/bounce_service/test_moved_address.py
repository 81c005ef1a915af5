"""A late bounce for an address the patron has changed since is evidence, not a new flag."""

from __future__ import annotations

from datetime import timedelta

from services.bounce.patrons import PatronEvents
from services.bounce.queue import MOVED_NOTE
from services.bounce.stores import AddressPatrons, patron_key
from shared.contracts.bounce import BounceClassified, PatronFlagged
from shared.contracts.ils import PatronEmailChanged
from shared.contracts.mail import MailOutcome
from shared.mailrecord import address_key
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tests.unit.bounce_service.fakes import KEY, T0, World, world

OLD, NEW = "old@example.jp", "new@example.jp"
REC = ledger_record("online_loan:P1:batch-2026-12-03", "P1", OLD)


async def changed(w: World, old: str = OLD, new: str = NEW) -> PatronEvents:
    events = PatronEvents(w.stores, w.publish, w.clock)
    change = PatronEmailChanged(occurred_at=T0, patron_id="P1", old_email=old, new_email=new)
    await events.email_changed(change)
    w.clock.advance(timedelta(hours=2))
    return events


async def late_bounce(w: World) -> None:
    await w.stores.ledger.put(REC.mail_id, REC)
    raw = build_dsn(recipient=OLD, verp_to=verp_for(KEY, REC), bounce_message_id="<late@mx>")
    assert await w.processor.handle_message(raw) == "processed"


async def test_a_late_bounce_after_a_change_keeps_the_resolved_flag_resolved() -> None:
    w = world()
    await w.stores.ledger.put(REC.mail_id, REC)
    await w.processor.handle_message(build_dsn(recipient=OLD, verp_to=verp_for(KEY, REC)))
    await changed(w)
    w.publish.events.clear()
    await late_bounce(w)
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status == "resolved" and entry.bounce_count == 1
    assert len(entry.evidence) == 2, "the late bounce is kept as evidence"
    assert entry.notes[-1].text == MOVED_NOTE and entry.notes[-1].status == "resolved"
    assert entry.address_keys == []
    assert await w.stores.suppressions.get(address_key(OLD)) == (None, 0)
    assert w.publish.of(PatronFlagged) == []
    (classified,) = w.publish.of(BounceClassified)
    assert isinstance(classified, BounceClassified)
    assert (classified.correlation, classified.patron_ids) == ("verp", [])
    assert w.metrics.address_moved._value.get() == 1


async def test_a_late_bounce_for_a_patron_never_flagged_only_records_evidence() -> None:
    w = world()
    await changed(w)
    await late_bounce(w)
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status is None and len(entry.evidence) == 1
    assert entry.notes == [] and entry.soft_recent == []


async def test_a_patron_back_on_the_old_address_is_flagged_again() -> None:
    w = world()
    events = await changed(w)
    back = T0 + timedelta(hours=1)
    await events.email_changed(
        PatronEmailChanged(occurred_at=back, patron_id="P1", old_email=NEW, new_email=OLD)
    )
    await late_bounce(w)
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status == "open"
    assert (await w.stores.suppressions.get(address_key(OLD)))[0] is not None


async def test_a_family_member_still_on_the_address_is_flagged_by_the_address() -> None:
    w = world()
    events = PatronEvents(w.stores, w.publish, w.clock)
    for patron in ("P1", "P2"):
        await events.index_add(OLD, patron)
    await changed(w)
    await w.processor.handle_message(build_dsn(recipient=OLD))  # no token: by address
    assert (await w.stores.queue.get(patron_key("P1")))[0] is None
    entry, _ = await w.stores.queue.get(patron_key("P2"))
    assert entry is not None and entry.status == "open"


async def test_a_send_time_failure_to_the_old_address_does_not_flag() -> None:
    w = world()
    await changed(w)
    outcome = MailOutcome(
        occurred_at=T0, outcome="failed", mail_key=REC.business_key, kind="online_loan",
        patron_id="P1", recipient=OLD, recipient_domain="example.jp", carrier_group="other",
        cause="smtp_permanent",
        smtp_code=550, smtp_text="5.1.1 <old@example.jp>: User unknown",
        smtp_command="rcpt", message_id=REC.message_id, attempt=1,
    )  # fmt: skip
    await w.processor.handle_smtp_failure(outcome)
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status is None
    assert await w.stores.suppressions.get(address_key(OLD)) == (None, 0)


async def test_the_index_records_who_moved_away_and_reads_old_entries() -> None:
    w = world()
    await w.stores.addresses.put(address_key(OLD), AddressPatrons(patron_ids=["P1"], updated_at=T0))
    assert await w.stores.moved_away(OLD) == frozenset()
    await changed(w)
    value, _ = await w.stores.addresses.get(address_key(OLD))
    assert value is not None and (value.patron_ids, value.moved_away) == ([], ["P1"])
    assert await w.stores.moved_away(OLD) == {"P1"}
    assert await w.stores.patrons_for(NEW) == ["P1"]


async def test_a_change_from_an_address_the_index_never_saw_is_still_recorded() -> None:
    w = world()
    await changed(w, old="unseen@example.jp")
    assert await w.stores.moved_away("unseen@example.jp") == {"P1"}


async def test_a_stale_ils_event_with_the_old_address_moves_nobody_back() -> None:
    # An event created before the change (or retried) still carries OLD: it occurred
    # before the move, so the late bounce still concerns nobody.
    w = world()
    events = await changed(w)
    await events.index_add(OLD, "P1", T0 - timedelta(minutes=5))
    await late_bounce(w)
    assert w.publish.of(PatronFlagged) == []
    assert await w.stores.suppressions.get(address_key(OLD)) == (None, 0)
    # A newer event on OLD (the patron registered it again at the counter) does.
    await events.index_add(OLD, "P1", T0 + timedelta(hours=1))
    entry, _ = await w.stores.addresses.get(address_key(OLD))
    assert entry is not None and "P1" in entry.patron_ids and "P1" not in entry.moved_away
