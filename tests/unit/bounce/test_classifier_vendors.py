"""Vendor reply tables, connection-phase refusals and the parsing rules added with them,
each on a small synthetic bounce (never a corpus file)."""

from __future__ import annotations

import pytest

from services.bounce.classifier import Category, classify
from services.bounce.classifier.vendors import host_vendor, message_vendor
from tests.unit.bounce.dsn import VERP, dsn, plain
from tests.unit.bounce.realworld_cases import BAD, OURS, REJ, UNK


def _only(raw: bytes) -> tuple[str, Category, str]:
    res = classify(raw)
    assert res.is_bounce
    assert len(res.recipients) == 1
    r = res.recipients[0]
    return r.recipient, r.category, r.evidence.rule


def _with_headers(raw: bytes, headers: str) -> bytes:
    head, sep, body = raw.partition(b"\n\n")
    return head + b"\n" + headers.encode() + sep + body


def test_imail_unknown_user_is_a_bad_address() -> None:
    raw = _with_headers(
        plain("Unknown user: patron@example.jp\n", subject="Undeliverable Mail"),
        "X-Mailer: <SMTP32 v8.22>",
    )
    assert _only(raw)[1] is BAD


def test_the_same_words_without_imail_identity_stay_ambiguous() -> None:
    raw = plain("Unknown user: patron@example.jp\n", subject="Undeliverable Mail")
    assert _only(raw)[1] is REJ  # "unknown user" without a phase: reception filter


def test_verizon_no_such_user_here_is_a_bad_address() -> None:
    body = (
        "Error: Invalid user address\n\nError message below:\n"
        "550 - Requested action not taken: no such user here\n\n"
        "  RCPT TO: patron@vtext.com\n"
    )
    raw = plain(body, subject="Re: notice").replace(
        b"From: MAILER-DAEMON@mx.example.net", b"From: post_master@vtext.com"
    )
    assert _only(raw)[1:] == (BAD, "userunknown")


@pytest.mark.parametrize(
    ("diagnostic", "category", "rule"),
    [
        ("542 patron@example.jp Rejected", BAD, "userunknown"),
        ("550 patron@example.jp... No such user", BAD, "userunknown"),
        ("553 Sorry, your envelope sender is in my badmailfrom list", REJ, "rejected"),
    ],
)
def test_messagelabs_reply_table(diagnostic: str, category: Category, rule: str) -> None:
    raw = dsn(
        status="5.0.0",
        diagnostic=diagnostic,
        human="This is the mail delivery agent at messagelabs.com.",
    )
    assert _only(raw)[1:] == (category, rule)


def test_zoho_mail_rejected_by_destination_domain_refuses_our_sender() -> None:
    raw = dsn(
        status="5.4.1",
        diagnostic="541 5.4.1 Mail rejected by destination domain",
        remote_mta="mx.zoho.com",
    )
    assert _only(raw)[1:] == (REJ, "rejected")


def test_aol_malformed_mx_reply_means_no_mail_accepted() -> None:
    raw = dsn(
        status="5.4.4",
        diagnostic="Name service error for name=example.jp type=MX: Malformed or"
        " unexpected name server reply",
        remote_mta="omr-a01.mx.aol.com",
    )
    assert _only(raw)[1:] == (BAD, "notaccept")


def test_powermta_bounce_category_names_the_cause() -> None:
    raw = dsn(
        status="5.2.1",
        diagnostic="550 5.2.1 <patron@example.jp>... User Unknown",
        extra_fields="X-PowerMTA-BounceCategory: bad-mailbox\n",
    )
    assert _only(raw)[1:] == (BAD, "userunknown")


def test_vendor_identity_needs_the_vendor() -> None:
    assert message_vendor({"x-mailer": "<SMTP32 v9.23>"}, "", "") == "imail"
    assert message_vendor({"from": "post_master@vtext.com"}, "", "") == "verizon"
    assert message_vendor({}, "dns; server-1.bemta-2.messagelabs.com", "") == "messagelabs"
    assert message_vendor({"x-mailer": "Postfix"}, "dns; mx.example.jp", "hello") == ""
    assert host_vendor("dns; mx.zoho.com", "example.jp") == "zoho"
    assert host_vendor("dns; mx.notzoho.com", "example.jp") == ""


def test_exim_refusal_at_initial_connection_is_blocked() -> None:
    body = (
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        "  patron@example.jp\n"
        "    SMTP error from remote mail server after initial connection:\n"
        "    554 mx.example.jp : go elsewhere - 192.0.2.1\n"
    )
    assert _only(plain(body, subject="Mail delivery failed"))[1:] == (REJ, "blocked")


def test_sendmail_greeting_refusal_is_blocked() -> None:
    human = (
        "   ----- Transcript of session follows -----\n"
        "... while talking to mx.example.jp.:\n"
        "<<< 554 mx.example.jp ready when you are (XX)\n"
        "554 5.0.0 Service unavailable"
    )
    raw = dsn(status="5.5.0", diagnostic="554 mx.example.jp ready when you are (XX)", human=human)
    assert _only(raw)[1:] == (REJ, "blocked")


def test_not_accepting_connections_is_blocked() -> None:
    raw = dsn(status="5.5.0", diagnostic="554 mx.example.jp ESMTP not accepting connections")
    assert _only(raw)[1] is REJ


def test_insecure_mail_relay_is_a_relay_refusal() -> None:
    body = (
        "   ----- Transcript of session follows -----\n"
        f"While talking to mx.example.jp:\n>>> MAIL From:<{VERP}>\n"
        "<<< 550 Insecure Mail Relay\n554 <patron@example.jp>... Remote protocol error\n"
    )
    assert _only(plain(body))[1:] == (UNK, "norelaying")


def test_mail_local_unknown_user_is_a_bad_address() -> None:
    body = (
        "   ----- Transcript of session follows -----\n"
        "mail.local: unknown user: patron\n554 <patron@example.jp>... Service unavailable\n"
    )
    assert _only(plain(body))[1] is BAD


def test_local_program_temporary_failure_is_a_mailer_error() -> None:
    raw = dsn(status="4.3.0", diagnostic="temporary failure").replace(
        b"Diagnostic-Code: smtp; temporary failure", b"Diagnostic-Code: x-unix; temporary failure"
    )
    assert _only(raw)[1:] == (UNK, "mailererror")


def test_a_quoted_to_cc_date_subject_summary_is_not_the_returned_message() -> None:
    body = (
        f"Save to the following Address Book:\n\nTo: {VERP}\nCC:\n"
        "Date: Thursday, Apr 29, 2026 2:45:56 PM\nSubject: Undeliverable Mail\n\n"
        "undeliverable to patron@example.jp\n\nBody of message generated response:\n"
        "550-REJECTED - Blacklisted URL in message.\n"
    )
    assert _only(plain(body, subject="Undeliverable Mail"))[1] is REJ


def test_a_bounce_wrapped_by_a_gateway_is_read_through() -> None:
    inner = dsn(status="5.1.1", diagnostic="550 5.1.1 User unknown").decode()
    outer = (
        "Return-Path: <>\nFrom: MAILER-DAEMON@gw.example.jp\n"
        f"To: {VERP}\nSubject: Returned mail\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="GW"\n\n--GW\nContent-Type: text/plain\n\n'
        "The following addresses had permanent delivery errors\n\n"
        f"--GW\nContent-Type: message/rfc822\n\n{inner}\n--GW--\n"
    )
    assert _only(outer.encode())[:2] == ("patron@example.jp", BAD)


def test_a_transcript_reply_belongs_to_the_recipient_line_below_it() -> None:
    body = (
        "   ----- Transcript of session follows -----\n"
        f"While talking to mx.example.org:\n>>> MAIL From:<{VERP}>\n"
        "<<< 501 no access from mail server [192.0.2.1]\n"
        "554 <patron@example.org>... Remote protocol error\n"
        "550 example.org (smtp)... 550 Host unknown\n"
        "554 <other@example.org>... 550 Host unknown (Authoritative answer from name server)\n"
    )
    found = {r.recipient: r.category for r in classify(plain(body)).recipients}
    assert found == {"patron@example.org": REJ, "other@example.org": BAD}


def test_another_recipients_domain_line_ends_the_paragraph() -> None:
    body = (
        "554 <patron@example.edu>... Remote protocol error: Connection reset by peer\n"
        "550 example.org (smtp)... 550 Host unknown\n"
        "554 <other@example.org>... 550 Host unknown (Authoritative answer from name server)\n"
    )
    found = {r.recipient: r.category for r in classify(plain(body)).recipients}
    assert found == {"patron@example.edu": REJ, "other@example.org": BAD}


def test_relay_summary_gives_way_to_the_quoted_remote_reply() -> None:
    diagnostic = "5.1.0 - Unknown address error 550-'5.2.2 <patron@example.jp>... Mailbox Full'"
    raw = dsn(status="5.0.0", diagnostic=diagnostic, human=diagnostic)
    res = classify(raw).recipients[0]
    assert (res.status, res.category) == ("5.2.2", Category.MAILBOX_FULL)


def test_access_denied_under_5_7_1_is_a_security_refusal() -> None:
    diagnostic = "5.1.0 - Unknown address error 550-'5.7.1 <x@example.net>... Access denied'"
    raw = dsn(status="5.0.0", diagnostic=diagnostic, human=diagnostic)
    assert _only(raw)[1:] == (OURS, "securityerror")


def test_qmail_sender_was_rejected_still_names_our_sender() -> None:
    body = (
        "Hi. This is the qmail-send program at mx.example.net.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
        "<patron@example.jp>:\nConnected to 192.0.2.1 but sender was rejected.\n"
        "Remote host said: 550 5.7.1 <library@example.net>... Access denied\n"
    )
    assert _only(plain(body, subject="failure notice"))[1:] == (REJ, "rejected")


def test_x_failed_recipients_names_the_failures() -> None:
    body = (
        "Delivery to the following recipients failed permanently:\n\n"
        "   a@example.jp\n   b@example.jp\n\nTechnical details: 550 mailbox unavailable\n"
    )
    raw = _with_headers(plain(body), "X-Failed-Recipients: b@example.jp")
    assert [r.recipient for r in classify(raw).recipients] == ["b@example.jp"]
