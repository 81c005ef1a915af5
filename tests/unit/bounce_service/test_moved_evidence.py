"""Evidence of a bounce for an address the patron had already left is marked as such.

The bounce stays evidence only (no flag, no suppression: ``test_moved_address.py``); these
tests check that its evidence entry says so, that ``queue show`` marks its line for staff,
that every other evidence line reads exactly as before, and that entries stored before the
field existed still decode.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from services.bounce.guidance import guidance_for
from services.bounce.patrons import PatronEvents
from services.bounce.queue import Policy, apply_bounce
from services.bounce.queue_view import MOVED_MARK, render_show
from services.bounce.stores import patron_key
from shared.contracts.ils import PatronEmailChanged
from shared.contracts.mail import MailOutcome
from shared.contracts.staff import QueueEntry, QueueEvidence, QueueShowReply
from tests.unit.bounce_service.dsn import build_dsn, ledger_record, verp_for
from tests.unit.bounce_service.fakes import KEY, T0, World, world

OLD, NEW = "old@example.jp", "new@example.jp"
REC = ledger_record("online_loan:P1:batch-2026-12-03", "P1", OLD)
AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # 18:00 JST


def evidence(bounce_id: str, at: datetime = AT, **extra: object) -> QueueEvidence:
    values: dict[str, object] = {
        "bounce_id": bounce_id,
        "received_at": at,
        "source": "imap",
        "category": "bad_address",
        "status": "5.1.1",
        "correlation": "verp",
        "mail_kind": "online_loan",
        "message_id": f"<{bounce_id}@plib>",
        "diagnostic": "550 User unknown",
    }
    return QueueEvidence.model_validate(values | extra)


async def change_address(w: World) -> None:
    change = PatronEmailChanged(occurred_at=T0, patron_id="P1", old_email=OLD, new_email=NEW)
    await PatronEvents(w.stores, w.publish, w.clock).email_changed(change)
    w.clock.advance(timedelta(hours=2))


async def stored(w: World, patron_id: str = "P1") -> QueueEntry:
    entry, _ = await w.stores.queue.get(patron_key(patron_id))
    assert entry is not None
    return entry


# -- the field: stored records and the wire --------------------------------------------


def test_a_stored_entry_written_before_the_field_still_decodes() -> None:
    old = (
        '{"patron_id":"P1","status":"open","category":"bad_address","bounce_count":1,'
        '"counts":{"bad_address":1},"first_seen":"2026-12-05T09:00:00Z",'
        '"last_seen":"2026-12-05T09:00:00Z","flagged_at":"2026-12-05T09:00:00Z",'
        '"flagged_by":"m1","evidence":[{"bounce_id":"m1","received_at":"2026-12-05T09:00:00Z",'
        '"source":"imap","category":"bad_address","status":"5.1.1","reason":"",'
        '"diagnostic":"550 User unknown","remote_mta":"mx.example.net","rule":"status",'
        '"correlation":"verp","verp":"verified","carrier_group":"other",'
        '"mail_key":"online_loan:P1:b","mail_kind":"online_loan","message_id":"<m1@plib>"}],'
        '"soft_recent":[],"bounce_ids":["m1"],"address_keys":[],"notes":[],'
        '"updated_at":"2026-12-05T09:00:00Z"}'
    )
    entry = QueueEntry.model_validate_json(old)
    assert entry.evidence[0].moved_away is False


def test_ordinary_evidence_is_written_exactly_as_before() -> None:
    data = json.loads(evidence("m1").model_dump_json())
    assert "moved_away" not in data, "older readers forbid unknown fields"


def test_moved_away_evidence_round_trips_through_the_show_reply() -> None:
    entry = QueueEntry(
        patron_id="P1",
        first_seen=AT,
        last_seen=AT,
        updated_at=AT,
        evidence=[evidence("m1"), evidence("m2", moved_away=True)],
    )
    wire = QueueShowReply(entry=entry).model_dump_json()
    items = json.loads(wire)["entry"]["evidence"]
    assert [item.get("moved_away") for item in items] == [None, True]
    back = QueueShowReply.model_validate_json(wire)
    assert back.entry is not None
    assert [e.moved_away for e in back.entry.evidence] == [False, True]


# -- who sets it -------------------------------------------------------------------------


def test_the_queue_rules_mark_only_evidence_recorded_for_a_left_address() -> None:
    flagged = apply_bounce(None, "P1", evidence("m1"), Policy(), AT).entry
    assert flagged is not None and flagged.status == "open"
    later = AT + timedelta(hours=1)
    after = apply_bounce(flagged, "P1", evidence("m2", later), Policy(), later, moved=True)
    assert after.entry is not None and not after.flagged
    assert [e.moved_away for e in after.entry.evidence] == [False, True]
    assert after.entry.evidence[1].bounce_id == "m2"


async def test_a_late_bounce_for_the_old_address_is_stored_as_moved_away() -> None:
    w = world()
    await w.stores.ledger.put(REC.mail_id, REC)
    await w.processor.handle_message(build_dsn(recipient=OLD, verp_to=verp_for(KEY, REC)))
    await change_address(w)
    late = build_dsn(recipient=OLD, verp_to=verp_for(KEY, REC), bounce_message_id="<late@mx>")
    assert await w.processor.handle_message(late) == "processed"
    entry = await stored(w)
    assert [e.moved_away for e in entry.evidence] == [False, True]


async def test_a_send_time_failure_to_the_old_address_is_stored_as_moved_away() -> None:
    w = world()
    await change_address(w)
    outcome = MailOutcome(
        occurred_at=T0, outcome="failed", mail_key=REC.business_key, kind="online_loan",
        patron_id="P1", recipient=OLD, recipient_domain="example.jp", carrier_group="other",
        cause="smtp_permanent", smtp_code=550, smtp_text="5.1.1 <old@example.jp>: User unknown",
        smtp_command="rcpt", message_id=REC.message_id, attempt=1,
    )  # fmt: skip
    await w.processor.handle_smtp_failure(outcome)
    (ev,) = (await stored(w)).evidence
    assert ev.moved_away is True and ev.source == "smtp"


async def test_a_family_member_still_on_the_address_gets_unmarked_evidence() -> None:
    w = world()
    events = PatronEvents(w.stores, w.publish, w.clock)
    for patron in ("P1", "P2"):
        await events.index_add(OLD, patron)
    await change_address(w)
    await w.stores.ledger.put(REC.mail_id, REC)  # mailed to P1, who has left OLD
    await w.processor.handle_message(build_dsn(recipient=OLD, verp_to=verp_for(KEY, REC)))
    (mine,) = (await stored(w, "P1")).evidence
    assert mine.moved_away is True
    await w.processor.handle_message(build_dsn(recipient=OLD, bounce_message_id="<b2@mx>"))
    (theirs,) = (await stored(w, "P2")).evidence  # by address: P2 still uses OLD
    assert theirs.moved_away is False


# -- what staff see ----------------------------------------------------------------------


#: How a bounce tied to the patron by its verified VERP token reads (``[verp]`` before).
VERP = "[送信記録と一致（VERP）]"


def shown(*items: QueueEvidence) -> list[str]:
    entry = QueueEntry(
        patron_id="P1",
        status="open",
        category="bad_address",
        bounce_count=1,
        first_seen=AT,
        last_seen=AT,
        updated_at=AT,
        evidence=list(items),
    )
    reply = QueueShowReply(entry=entry, guidance=guidance_for("bad_address"))
    return render_show(reply).splitlines()


def test_queue_show_marks_the_line_of_a_bounce_for_the_old_address() -> None:
    later = AT + timedelta(hours=1)
    lines = shown(evidence("m1"), evidence("m2", later, moved_away=True))
    assert MOVED_MARK in "".join(lines) and "変更前" in MOVED_MARK
    first = lines.index("証拠:") + 1
    assert lines[first : first + 4] == [
        f"  2026-12-05 19:00 imap bad_address 5.1.1 {VERP} online_loan <m2@plib> {MOVED_MARK}",
        "    550 User unknown",
        f"  2026-12-05 18:00 imap bad_address 5.1.1 {VERP} online_loan <m1@plib>",
        "    550 User unknown",
    ]


def test_queue_show_keeps_every_other_evidence_line_as_it_was() -> None:
    forged = evidence("m3", correlation="none", verp="forged", mail_kind=None, message_id=None)
    lines = shown(evidence("m1"), forged)
    first = lines.index("証拠:") + 1
    assert lines[first : first + 4] == [
        "  2026-12-05 18:00 imap bad_address 5.1.1 [照合できず, VERP偽造] -",
        "    550 User unknown",
        f"  2026-12-05 18:00 imap bad_address 5.1.1 {VERP} online_loan <m1@plib>",
        "    550 User unknown",
    ]
    assert MOVED_MARK not in "\n".join(lines)
