"""The weekly digest's content, IMAP answer parsing and the CLI's text (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

from services.bounce.digest import build_digest
from services.bounce.guidance import guidance_for
from services.bounce.mailbox import protocol
from services.bounce.queue import Policy, apply_bounce
from services.bounce.queue_view import render_list, render_show
from services.bounce.staff_api import summary
from shared.contracts.bounce import BounceCategory
from shared.contracts.schedule import TriggerFired
from shared.contracts.staff import (
    Correlation,
    QueueEntry,
    QueueEvidence,
    QueueListReply,
    QueueShowReply,
    VerpCheck,
)

NOW = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


def flagged(patron: str, category: BounceCategory, at: datetime) -> QueueEntry:
    ev = QueueEvidence(
        bounce_id=f"b-{patron}",
        received_at=at,
        source="imap",
        category=category,
        correlation="verp",
        diagnostic="550 User unknown",
    )
    entry = apply_bounce(None, patron, ev, Policy(), at).entry
    assert entry is not None
    return entry


def fired(occurrence: str = "weekly-bounce-digest:2026-12-07T09:00+09:00") -> TriggerFired:
    return TriggerFired(
        occurred_at=NOW,
        trigger="weekly-bounce-digest",
        occurrence_id=occurrence,
        nominal_time=NOW,
        run_date=date(2026, 12, 7),
    )


def test_the_digest_counts_open_flags_by_cause_and_lists_new_and_oldest() -> None:
    entries = [
        flagged("P-OLD", "bad_address", NOW - timedelta(days=30)),
        flagged("P-NEW", "domain_rejection", NOW - timedelta(days=1)),
        flagged("P-NEW2", "domain_rejection", NOW - timedelta(days=2)),
    ]
    digest = build_digest(entries, fired(), oldest=2)
    assert digest.open_by_category == {"bad_address": 1, "domain_rejection": 2}
    assert [d.patron_id for d in digest.new_this_week] == ["P-NEW2", "P-NEW"]
    assert [d.patron_id for d in digest.oldest_open] == ["P-OLD", "P-NEW2"]
    assert digest.subject() == "bounce.digest"


def test_the_digest_event_id_is_stable_per_occurrence() -> None:
    one, two = build_digest([], fired(), 5), build_digest([], fired(), 5)
    assert one.event_id == two.event_id != build_digest([], fired("x:2"), 5).event_id


def test_imap_answers_are_parsed() -> None:
    assert protocol.uids([b"3 1 2", b"Search completed"]) == [1, 2, 3]
    assert protocol.uids([b"", b"Search completed"]) == []
    lines: list[object] = [
        b'1 FETCH (UID 7 INTERNALDATE "29-Nov-2026 15:51:16 +0000" BODY[] {5}',
        bytearray(b"hello"),
        b")",
        b"Fetch completed",
    ]
    body, when = protocol.fetched(lines)
    assert body == b"hello" and when == datetime(2026, 11, 29, 15, 51, 16, tzinfo=UTC)
    assert protocol.fetched([b"Fetch completed"]) == (None, None)


def test_the_cli_shows_the_flag_with_guidance_evidence_and_notes() -> None:
    entry = flagged("P1", "domain_rejection", NOW)
    text = render_show(QueueShowReply(entry=entry, guidance=guidance_for("domain_rejection")))
    assert "利用者番号: P1" in text and "ドメイン指定受信" in text and "550 User unknown" in text
    row = summary(entry)
    assert row is not None
    listing = render_list(QueueListReply(entries=[row], total=1))
    assert (
        listing.splitlines()[0].startswith("利用者番号") and "受信拒否(domain_rejection)" in listing
    )


def shown_evidence(
    correlation: Correlation, verp: VerpCheck, source: Literal["imap", "smtp"] = "imap"
) -> str:
    """The bracketed correlation of the evidence line ``queue show`` prints."""
    ev = QueueEvidence(
        bounce_id="b-1", received_at=NOW, source=source, category="bad_address",
        correlation=correlation, verp=verp, diagnostic="550 User unknown",
    )  # fmt: skip
    entry = QueueEntry(patron_id="P1", status="open", category="bad_address", bounce_count=1,
                       first_seen=NOW, last_seen=NOW, updated_at=NOW, evidence=[ev])  # fmt: skip
    text = render_show(QueueShowReply(entry=entry, guidance=guidance_for("bad_address")))
    (line,) = [s for s in text.splitlines() if s.startswith("  2026-12-07 09:00 ")]
    return line[line.index("[") + 1 : line.index("]")]


def test_queue_show_names_the_correlation_in_japanese() -> None:
    assert shown_evidence("verp", "verified") == "送信記録と一致（VERP）"
    assert shown_evidence("message_id", "absent") == "送信記録と一致（Message-ID）"
    assert shown_evidence("none", "absent", "smtp") == "送信時の拒否（送信記録）"
    assert shown_evidence("none", "forged") == "照合できず, VERP偽造"


def test_queue_show_says_an_address_only_bounce_was_not_confirmed_nor_suppressed() -> None:
    assert shown_evidence("address", "absent") == "アドレス一致のみ・未確認（配信停止なし）"
    unrecorded = shown_evidence("address", "verified")  # a token the ledger does not know
    assert unrecorded == "VERPの送信記録なし・アドレス一致のみ・未確認（配信停止なし）"
