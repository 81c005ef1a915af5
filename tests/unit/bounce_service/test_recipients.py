"""Every failed recipient of one bounce counts, once: the queue's key is bounce + recipient."""

from __future__ import annotations

from datetime import timedelta

from services.bounce.queue import Policy, apply_bounce, hit_key
from services.bounce.stores import patron_key
from shared.contracts.bounce import BounceCategory, BounceClassified
from shared.contracts.staff import QueueEntry, QueueEvidence
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tests.unit.bounce_service.fakes import KEY, T0, world

ADDR = "taro@example.jp"
REC = ledger_record("online_loan:P1:batch-2026-12-03", "P1", ADDR)
SECOND = (
    b"Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: {status}\r\n"
    b"Diagnostic-Code: smtp; {diag}\r\n\r\n--B\r\nContent-Type: text/rfc822-headers"
)


def two_recipients(first: tuple[str, str], second: tuple[str, str, str]) -> bytes:
    """One DSN for the mail REC with two failed recipients (a forward expanded to two)."""
    status, diag = first
    raw = build_dsn(recipient=ADDR, status=status, diagnostic=diag, verp_to=verp_for(KEY, REC))
    rcpt, status2, diag2 = second
    extra = (
        SECOND.replace(b"{rcpt}", rcpt.encode())
        .replace(b"{status}", status2.encode())
        .replace(b"{diag}", diag2.encode())
    )
    return raw.replace(b"--B\r\nContent-Type: text/rfc822-headers", extra, 1)


FULL = ("5.2.2", "552 5.2.2 <{rcpt}>: Mailbox full")
UNKNOWN = ("fwd@example.jp", "5.1.1", "550 5.1.1 <fwd@example.jp>: User unknown")


async def test_a_hard_second_recipient_flags_after_a_soft_first_one() -> None:
    w = world()
    await w.stores.ledger.put(REC.mail_id, REC)
    raw = two_recipients(FULL, UNKNOWN)
    assert await w.processor.handle_message(raw) == "processed"
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status == "open" and len(entry.evidence) == 2
    assert len(w.publish.of(BounceClassified)) == 2


async def test_a_message_handled_again_counts_none_of_its_recipients_twice() -> None:
    w = world()
    await w.stores.ledger.put(REC.mail_id, REC)
    raw = two_recipients(FULL, UNKNOWN)
    await w.processor.handle_message(raw)
    first, _ = await w.stores.queue.get(patron_key("P1"))
    for key in await w.stores.seen.keys():  # a crash before the seen record: handled anew
        await w.stores.seen.delete_when(key, lambda _: True)
    await w.processor.handle_message(raw)
    again, _ = await w.stores.queue.get(patron_key("P1"))
    assert first is not None and again is not None
    assert (again.bounce_count, again.counts, len(again.evidence)) == (
        first.bounce_count,
        first.counts,
        len(first.evidence),
    )


def ev(bounce_id: str, category: BounceCategory = "bad_address") -> QueueEvidence:
    return QueueEvidence(
        bounce_id=bounce_id, received_at=T0, source="imap", category=category,
        correlation="verp",
    )  # fmt: skip


def test_two_soft_recipients_of_one_message_are_one_soft_repeat() -> None:
    policy = Policy(soft_threshold=2, soft_window=timedelta(days=7))
    first = apply_bounce(None, "P1", ev("m1", "mailbox_full"), policy, T0, hit="m1.a")
    second = apply_bounce(first.entry, "P1", ev("m1", "mailbox_full"), policy, T0, hit="m1.b")
    assert second.entry is not None and not second.flagged
    assert second.entry.status is None and len(second.entry.soft_recent) == 1
    assert second.entry.counts == {"mailbox_full": 2}
    third = apply_bounce(second.entry, "P1", ev("m2", "mailbox_full"), policy, T0, hit="m2.a")
    assert third.flagged, "a second message reaches the threshold"


def test_an_entry_written_with_plain_bounce_ids_still_ignores_that_bounce() -> None:
    """Entries from before the per-recipient keys hold the bare bounce id."""
    legacy = QueueEntry(
        patron_id="P1", status="open", category="bad_address", bounce_count=1,
        first_seen=T0, last_seen=T0, flagged_by="m1", bounce_ids=["m1"], updated_at=T0,
    )  # fmt: skip
    applied = apply_bounce(legacy, "P1", ev("m1"), Policy(), T0, hit=hit_key("m1", ADDR, 0))
    assert applied.duplicate and applied.entry is None
    other = apply_bounce(legacy, "P1", ev("m2"), Policy(), T0, hit=hit_key("m2", ADDR, 0))
    assert other.entry is not None and other.entry.bounce_count == 2


def test_the_key_names_the_recipient_by_hash_or_position() -> None:
    a, b = hit_key("m1", "A@example.jp", 0), hit_key("m1", "b@example.jp", 0)
    assert a != b and a.startswith("m1.") and "example" not in a
    assert hit_key("m1", "a@example.jp", 5) == a  # case-insensitive, position irrelevant
    assert hit_key("m1", "", 3) == "m1.n3"
