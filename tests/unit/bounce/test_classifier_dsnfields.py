"""DSN field groups run together without blank lines (AOL's relay) keep every recipient."""

from __future__ import annotations

from services.bounce.classifier import Category, classify
from services.bounce.classifier.dsnfields import split_group
from services.bounce.classifier.wire import parse, parse_fields
from tests.support.servers import require
from tests.unit.bounce import corpus
from tests.unit.bounce.dsn import MSGID, VERP

_AOL_RUN = """\
Reporting-MTA: dns; omr-m09.mx.aol.com
Arrival-Date: Fri, 21 Nov 2014 17:24:04 -0500 (EST)
Final-Recipient: rfc822; a@example.jp
Original-Recipient: rfc822;a@example.jp
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 550 5.2.2 <a@example.jp>... Mailbox Full
Final-Recipient: rfc822; b@example.jp
Original-Recipient: rfc822;b@example.jp
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <b@example.jp>...
    User Unknown
"""


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        name, _, value = line.partition(":")
        out.append((name.strip().lower(), value.strip()))
    return out


def test_a_run_of_two_recipients_splits_at_the_repeated_final_recipient() -> None:
    blocks = parse_fields(_AOL_RUN)
    assert [b.get("final-recipient") for b in blocks] == [
        None,
        "rfc822; a@example.jp",
        "rfc822; b@example.jp",
    ]
    assert blocks[0] == {
        "reporting-mta": "dns; omr-m09.mx.aol.com",
        "arrival-date": "Fri, 21 Nov 2014 17:24:04 -0500 (EST)",
    }
    assert blocks[1]["status"] == "5.2.2" and blocks[2]["status"] == "5.1.1"
    assert blocks[2]["diagnostic-code"].endswith("<b@example.jp>... User Unknown")


def test_original_recipient_first_starts_the_next_record() -> None:
    run = (
        "Original-Recipient: rfc822;a@x.jp\nFinal-Recipient: rfc822;a@x.jp\nAction: failed\n"
        "Original-Recipient: rfc822;b@x.jp\nFinal-Recipient: rfc822;b@x.jp\nAction: delayed"
    )
    blocks = split_group(_pairs(run))
    assert [(b["original-recipient"], b["action"]) for b in blocks] == [
        ("rfc822;a@x.jp", "failed"),
        ("rfc822;b@x.jp", "delayed"),
    ]


def test_one_record_in_an_unusual_field_order_stays_one_record() -> None:
    action_first = (  # Amazon SES writes Action before the address
        "Action: failed\nFinal-Recipient: rfc822;a@x.jp\nOriginal-Recipient: rfc822;a@x.jp"
    )
    mixed = (  # Mimecast: per-message and per-recipient fields in one group
        "Reporting-MTA: dns;mx.mimecast.com\nAction: failed\nStatus: 5.0.0\n"
        "Original-Recipient: rfc822;a@x.jp\nRemote-MTA: x.jp\nFinal-Recipient: rfc822;a@x.jp"
    )
    for run in (action_first, mixed):
        (block,) = split_group(_pairs(run))
        assert block["final-recipient"] == "rfc822;a@x.jp"
        assert block["action"] == "failed"


def test_a_duplicated_field_that_starts_no_recipient_keeps_its_first_value() -> None:
    (block,) = split_group(_pairs("Final-Recipient: rfc822;a@x.jp\nStatus: 5.1.1\nStatus: 4.0.0"))
    assert block["status"] == "5.1.1"


def _report(records: str) -> bytes:
    return f"""\
Return-Path: <>
From: MAILER-DAEMON@omr-m09.mx.aol.com
To: {VERP}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BB"

--BB
Content-Type: text/plain

Your message could not be delivered.

--BB
Content-Type: message/delivery-status

{records}
--BB
Content-Type: text/rfc822-headers

From: library@plib.pref.aomori.lg.jp
Message-ID: {MSGID}

--BB--
""".encode()


def test_a_dsn_without_blank_lines_reports_every_recipient() -> None:
    pm = parse(_report(_AOL_RUN))
    assert pm.dsn_message["reporting-mta"] == "dns; omr-m09.mx.aol.com"
    res = classify(_report(_AOL_RUN))
    assert [(r.recipient, r.category) for r in res.recipients] == [
        ("a@example.jp", Category.MAILBOX_FULL),
        ("b@example.jp", Category.BAD_ADDRESS),
    ]


def test_corpus_aol_03_keeps_both_recipients() -> None:
    require("the shared sisimai corpus (../shared/corpus/sisimai)", corpus.available())
    res = corpus.result("rhost-aol/rhost-aol-03.eml")
    assert {r.recipient: r.category for r in res.recipients} == {
        "sabineko@example.jp": Category.MAILBOX_FULL,
        "mikeneko@example.jp": Category.BAD_ADDRESS,
    }
