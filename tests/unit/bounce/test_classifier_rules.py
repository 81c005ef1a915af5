"""Table tests of the rule table on small synthetic bounces."""

from __future__ import annotations

import pytest

from services.bounce.classifier import Category, classify
from tests.unit.bounce.dsn import MSGID, TOKEN, dsn, plain
from tests.unit.bounce.realworld_cases import BAD, FULL, FWD, OURS, REJ, TMP, UNK

CASES = [
    ("5.1.1 user unknown", "5.1.1", "550 5.1.1 <patron@example.jp>... User unknown", BAD),
    ("5.1.2 host unknown", "5.1.2", "550 5.1.2 Host unknown (Name server: host not found)", BAD),
    ("5.2.2 mailbox full", "5.2.2", "552 5.2.2 Mailbox full", FULL),
    ("quota text beats 5.0.0", "5.0.0", "550 user is over quota", FULL),
    ("4.2.2 full is still full", "4.2.2", "452 4.2.2 Mailbox full, try later", FULL),
    ("spamhaus listing", "5.7.1", "554 5.7.1 Service unavailable; blocked using spamhaus", REJ),
    ("dmarc refusal", "5.7.26", "550 5.7.26 Unauthenticated email fails DMARC policy", REJ),
    ("missing ptr", "5.7.25", "550 5.7.25 The IP address does not have a PTR record", REJ),
    ("spam content", "5.7.1", "554 5.7.1 Message rejected as spam", REJ),
    ("sender rejected", "5.1.8", "553 5.1.8 Domain of sender address does not exist", REJ),
    ("expired in queue", "4.4.7", "Delivery time expired", TMP),
    ("rate limited", "4.7.28", "421 4.7.28 rate limited, slow down", TMP),
    ("too many connections", "4.3.2", "421 Too many connections from your host", TMP),
    ("message too big", "5.3.4", "552 5.3.4 Message size exceeds fixed limit", OURS),
    ("rfc 5322 violation", "5.7.1", "550 5.7.1 message is not RFC 5322 compliant", OURS),
    ("5.4.6 mail loop", "5.4.6", "554 5.4.6 Too many hops", TMP),
    ("loop text only", "5.0.0", "554 mail forwarding loop for patron@example.jp", TMP),
    ("null mx", "5.1.10", "556 5.1.10 Domain does not accept mail (nullMX)", BAD),
    ("no relaying", "5.7.0", "550 5.7.0 Recipient address rejected: No relaying", UNK),
    ("spam under 5.6.0", "5.6.0", "554 5.6.0 This message has been scored as spam", REJ),
    ("multiple from", "5.7.1", "550 5.7.1 Messages with multiple addresses in From:", OURS),
    ("account disabled", "5.2.1", "550 5.2.1 This account is disabled", BAD),
    (
        "folded access denied",
        "5.4.1",
        "550 5.4.1 <p@example.jp>: Recipient\n    address rejected: Access denied",
        BAD,
    ),
    (
        "exchange access denied",
        "5.7.1",
        "554 5.7.1 <p@example.jp>: Recipient address rejected: Access denied",
        BAD,
    ),
    ("header error", "5.7.9", "554 5.7.9 Header error", REJ),
    ("protocol violation", "5.0.0", "550 Protocol violation", REJ),
    ("server disk full", "4.4.7", "452 4.4.5 Insufficient disk space; try again later", TMP),
    (
        "inactive service is no suspend",
        "5.4.316",
        "550 5.4.316 Message expired, a service that is inactive on the remote host",
        TMP,
    ),
    ("no tls at receiver", "5.0.0", "500 Remote server does not support TLS", TMP),
    ("gateway user", "5.0.0", "550 'p@example.jp' is not a registered gateway user", REJ),
    ("notes directory", "5.0.0", "User not listed in public Name & Address Book", BAD),
]


@pytest.mark.parametrize(("status", "diagnostic", "want"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_status_and_diagnostic_map_to_the_expected_category(
    status: str, diagnostic: str, want: Category
) -> None:
    res = classify(dsn(status=status, diagnostic=diagnostic))
    assert res.is_bounce
    assert [r.category for r in res.recipients] == [want]


JP = [
    ("docomo unknown at RCPT", "p@docomo.ne.jp", "5.1.1", "550 Unknown user p@docomo.ne.jp", BAD),
    ("docomo filter 5.2.0", "p@docomo.ne.jp", "5.2.0", "550 Unknown user p@docomo.ne.jp", REJ),
    ("au filter no address", "p@ezweb.ne.jp", "5.0.0", "550 : User unknown", REJ),
    ("au unknown named", "p@au.com", "5.1.1", "550 <p@au.com>: User unknown", BAD),
    ("softbank filter", "p@i.softbank.jp", "5.2.0", "550 User unknown", REJ),
]


@pytest.mark.parametrize(("rcpt", "status", "diagnostic", "want"), [c[1:] for c in JP],
                         ids=[c[0] for c in JP])  # fmt: skip
def test_japanese_carriers_split_unknown_user_by_status(
    rcpt: str, status: str, diagnostic: str, want: Category
) -> None:
    res = classify(dsn(rcpt, status, diagnostic, remote_mta="mx.carrier.example"))
    assert res.recipients[0].category is want


def test_docomo_unknown_user_at_data_is_a_domain_rejection() -> None:
    raw = dsn(
        "p@docomo.ne.jp",
        "5.0.0",
        "550 Unknown user p@docomo.ne.jp",
        human="<p@docomo.ne.jp>: host mfsmax.docomo.ne.jp said: 550 Unknown user"
        " p@docomo.ne.jp (in reply to end of DATA command)",
    )
    assert classify(raw).recipients[0].category is REJ


def test_au_spasign_ng_header_means_domain_rejection() -> None:
    raw = plain("<p@ezweb.ne.jp>\n\nEach of the following recipients was rejected.")
    raw = raw.replace(b"Subject:", b"X-SPASIGN: NG\nSubject:")
    assert classify(raw).recipients[0].category is REJ


@pytest.mark.parametrize(
    ("rcpt", "diagnostic", "want", "rule"),
    [
        ("p@wanadoo.fr", "550 5.2.0 Mail rejected. OFR_506 [506]", REJ, "spamdetected"),
        ("p@laposte.net", "550 5.5.0 Invalid recipient. LPN007_416", BAD, "userunknown"),
        ("p@orange.fr", "421 Service refused. OFR006_104", Category.TRANSIENT, "toomanyconn"),
    ],
)
def test_orange_laposte_vendor_codes_name_the_cause(
    rcpt: str, diagnostic: str, want: Category, rule: str
) -> None:
    found = classify(dsn(rcpt, "5.0.0", diagnostic)).recipients[0]
    assert (found.category, found.evidence.rule) == (want, f"orange-laposte-{rule}")


def test_orange_laposte_code_elsewhere_is_ignored() -> None:
    found = classify(dsn("p@example.fr", "5.0.0", "550 mail rejected OFR_506")).recipients[0]
    assert not found.evidence.rule.startswith("orange-laposte")


def test_recipient_differing_from_the_mailed_address_is_a_forwarding_failure() -> None:
    mailed = {MSGID: "patron@example.jp", TOKEN: "patron@example.jp"}
    raw = dsn("forwarded@elsewhere.example", "5.1.1", "550 5.1.1 User unknown")
    rec = classify(raw, sent=mailed.get).recipients[0]
    assert rec.category is FWD
    assert rec.evidence.underlying_category == BAD.value
    assert rec.evidence.forwarding == "sent-mismatch"
    assert rec.evidence.sent_to == "patron@example.jp"


def test_same_recipient_as_mailed_is_not_a_forwarding_failure() -> None:
    raw = dsn("patron@example.jp", "5.2.2", "552 5.2.2 Mailbox full")
    rec = classify(raw, sent=lambda key: "Patron@Example.jp").recipients[0]
    assert rec.category is FULL


def test_mail_loop_reports_the_underlying_cause_and_flags_forwarding() -> None:
    rec = classify(dsn(status="5.4.6", diagnostic="554 5.4.6 Too many hops")).recipients[0]
    assert rec.category is TMP
    assert rec.evidence.forwarding == "loop"
    assert rec.evidence.underlying_category == TMP.value


def test_forwarding_trail_without_a_known_cause_is_a_forwarding_failure() -> None:
    raw = dsn(
        "new@elsewhere.example",
        "5.0.0",
        "550 something odd happened",
        extra_fields="Original-Recipient: rfc822; patron@example.jp\n",
    )
    rec = classify(raw).recipients[0]
    assert rec.category is FWD
    assert rec.evidence.forwarding == "trail"


def test_original_recipient_trail_keeps_the_underlying_cause() -> None:
    raw = dsn(
        "new@elsewhere.example",
        "5.2.2",
        "552 5.2.2 Mailbox full",
        extra_fields="Original-Recipient: rfc822; patron@example.jp\n",
    )
    rec = classify(raw).recipients[0]
    assert rec.category is FULL
    assert rec.evidence.underlying_category == FULL.value
    assert rec.evidence.forwarding == "trail"
    assert rec.evidence.original_recipient == "patron@example.jp"


def test_correlation_keys_are_extracted() -> None:
    res = classify(dsn())
    assert res.original_message_id == MSGID
    assert res.verp_token == TOKEN
    assert res.recipients[0].evidence.verp_token == TOKEN
    assert res.recipients[0].evidence.remote_mta == "mx.example.jp"


@pytest.mark.parametrize("ending", [b"\r\n", b"\r", b"\n"], ids=["crlf", "cr-only", "lf"])
def test_line_endings_do_not_change_the_verdict(ending: bytes) -> None:
    raw = dsn(status="5.2.2", diagnostic="552 5.2.2 Mailbox full").replace(b"\n", ending)
    res = classify(raw)
    assert [(r.recipient, r.category) for r in res.recipients] == [("patron@example.jp", FULL)]


def test_free_text_qmail_bounce_is_read() -> None:
    body = (
        "Hi. This is the qmail-send program.\n\n"
        "<patron@example.jp>:\n192.0.2.1 does not like recipient.\n"
        "Remote host said: 550 5.1.1 <patron@example.jp>... User Unknown\nGiving up.\n"
    )
    res = classify(plain(body, subject="failure notice"))
    assert [(r.recipient, r.category) for r in res.recipients] == [("patron@example.jp", BAD)]


def test_broken_mime_is_still_classified_or_quarantined() -> None:
    raw = dsn().replace(b'boundary="BB"', b'boundary="NOPE"').replace(b"--BB--", b"")
    res = classify(raw)
    assert res.readable
    assert all(r.category in set(Category) for r in res.recipients)


def test_garbage_is_flagged_unreadable_not_raised() -> None:
    res = classify(b"\x00\xff" * 10 + b"\n\n")
    assert not res.is_bounce
    assert classify(b"").readable is False


def test_a_20_megabyte_message_is_bounded_and_classified() -> None:
    raw = dsn(status="5.2.2", diagnostic="552 5.2.2 Mailbox full")
    big = raw.replace(b"--BB--", b"--BB\nContent-Type: text/plain\n\n" + b"x" * 20_000_000)
    res = classify(big)
    assert res.recipients[0].category is FULL


def test_auto_reply_is_not_a_bounce() -> None:
    raw = (
        b"From: patron@example.jp\nTo: library@plib.pref.aomori.lg.jp\n"
        b"Auto-Submitted: auto-replied\nSubject: Out of office\n\nI am away until Monday.\n"
    )
    res = classify(raw)
    assert not res.is_bounce
    assert res.is_auto_reply


def test_successful_delivery_report_is_not_a_bounce() -> None:
    raw = dsn(status="2.0.0", diagnostic="250 2.0.0 OK", action="delivered")
    assert not classify(raw).is_bounce
