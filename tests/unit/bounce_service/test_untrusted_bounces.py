"""Bounces are written by strangers: over-long fields and forged VERP tokens change nothing."""

from __future__ import annotations

import logging

import pytest

from services.bounce.bounded import bounded, limits
from services.bounce.processor import COMPLAINT_REASON, bounce_id_for
from services.bounce.stores import AddressPatrons, patron_key
from shared.contracts.bounce import BounceClassified
from shared.contracts.staff import QueueEvidence
from shared.mailrecord import address_key
from tests.unit.bounce_service.dsn import DOMAIN, build_dsn, ledger_record, verp_for
from tests.unit.bounce_service.fakes import KEY, T0, world

ADDR = "taro@example.jp"
REC = ledger_record("online_loan:P1:batch-2026-12-03", "P1", ADDR)
LONG_ID = "<" + "a" * 320 + "@spam.example>"


def test_bounded_cuts_each_string_to_the_limit_its_model_declares() -> None:
    ev = bounded(
        QueueEvidence,
        bounce_id="m1",
        received_at=T0,
        source="imap",
        category="unknown",
        correlation="none",
        status="5" * 50,
        remote_mta="x" * 999,
        message_id=LONG_ID,
        mail_key=None,
    )
    caps = limits(QueueEvidence)
    assert (len(ev.status), len(ev.remote_mta)) == (caps["status"], caps["remote_mta"])
    assert ev.message_id == LONG_ID[:300] and ev.mail_key is None


async def test_a_foreign_bounce_with_an_over_long_message_id_is_handled() -> None:
    w = world()
    raw = build_dsn(recipient="someone@example.net", original_message_id=LONG_ID)
    assert await w.processor.handle_message(raw) == "processed"
    (classified,) = w.publish.of(BounceClassified)
    assert isinstance(classified, BounceClassified)
    assert classified.evidence.message_id == LONG_ID[:300]


async def test_over_long_diagnostic_and_remote_mta_are_kept_cut_to_size() -> None:
    w = world()
    await w.stores.ledger.put(REC.mail_id, REC)
    raw = build_dsn(
        recipient=ADDR,
        verp_to=verp_for(KEY, REC),
        remote_mta="mx." + "m" * 400 + ".example.jp",
        diagnostic="550 5.1.1 <{rcpt}>: User unknown " + "x" * 2000,
    )
    assert await w.processor.handle_message(raw) == "processed"
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status == "open"
    ev = entry.evidence[0]
    assert len(ev.remote_mta) <= 255 and len(ev.diagnostic) <= 1000


def complaint(original_message_id: str) -> bytes:
    """A minimal ARF (RFC 5965) abuse report about one of our mails."""
    text = (
        f"From: fbl@isp.example\r\nTo: bounce@{DOMAIN}\r\nSubject: FW: complaint\r\n"
        "Message-ID: <fbl-1@isp.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n\r\n'
        "--F\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\r\n"
        "--F\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: fbl/1.0\r\nVersion: 1\r\n\r\n"
        "--F\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: noreply@{DOMAIN}\r\nTo: {ADDR}\r\nMessage-ID: {original_message_id}\r\n"
        "Subject: test\r\n\r\n--F--\r\n"
    )
    return text.encode()


async def test_a_complaint_is_published_with_the_machine_reason_and_a_bounded_id() -> None:
    w = world()
    assert await w.processor.handle_message(complaint(LONG_ID)) == "processed"
    (event,) = w.publish.of(BounceClassified)
    assert isinstance(event, BounceClassified)
    assert event.subject() == "bounce.classified.not_a_bounce"
    assert event.reason == COMPLAINT_REASON == "complaint"
    assert event.evidence.message_id == LONG_ID[:300]
    assert w.metrics.complaints._value.get() == 1


async def test_a_forged_token_flags_nobody_even_when_the_address_is_a_patrons(
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = world()
    index = AddressPatrons(patron_ids=["P1"], updated_at=T0)
    await w.stores.addresses.put(address_key(ADDR), index)
    forged = f"bounce+{REC.mail_id}.aaaaaaaaaaaaaaaa@{DOMAIN}"
    raw = build_dsn(recipient=ADDR, verp_to=forged)
    with caplog.at_level(logging.WARNING, logger="services.bounce.processor"):
        assert await w.processor.handle_message(raw) == "processed"
    assert await w.stores.queue.get(patron_key("P1")) == (None, 0)
    assert await w.stores.suppressions.get(address_key(ADDR)) == (None, 0)
    (event,) = w.publish.of(BounceClassified)
    assert isinstance(event, BounceClassified)
    assert (event.correlation, event.patron_ids) == ("none", [])
    assert w.metrics.verp_forged._value.get() == 1
    (record,) = [r for r in caplog.records if r.msg == "bounce.verp_forged"]
    assert record.bounce_id == bounce_id_for(raw)  # type: ignore[attr-defined]
    assert ADDR not in caplog.text


async def test_a_token_signed_with_the_right_secret_still_flags() -> None:
    w = world()
    await w.stores.ledger.put(REC.mail_id, REC)
    await w.processor.handle_message(build_dsn(recipient=ADDR, verp_to=verp_for(KEY, REC)))
    entry, _ = await w.stores.queue.get(patron_key("P1"))
    assert entry is not None and entry.status == "open"
    assert entry.evidence[0].verp == "verified"
    assert w.metrics.verp_forged._value.get() == 0
