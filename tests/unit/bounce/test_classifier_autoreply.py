"""RFC 3834 auto-replies (vacation, out-of-office) are not bounces, even when they come
with a null return path and words a failure notice would use ("returned"); a failure
notice is never an auto-reply, whatever RFC 3834 headers its MTA or carrier adds."""

from __future__ import annotations

import pytest

from services.bounce.classifier import Classification, classify
from tests.support.servers import require
from tests.unit.bounce import corpus
from tests.unit.bounce.dsn import VERP, dsn

BODY = (
    "Thank you for your message. I am travelling this month and will answer it when I have"
    " returned.\n"
)


def _reply(subject: str, extra: str = "", sender: str = "Taro <taro@example.com>") -> bytes:
    return (
        f"Return-Path: <>\nFrom: {sender}\nTo: {VERP}\nSubject: {subject}\n"
        f"Message-ID: <vac-1@example.com>\n{extra}"
        f"Content-Type: text/plain; charset=us-ascii\n\n{BODY}"
    ).encode()


@pytest.mark.parametrize(
    ("subject", "extra"),
    [
        ("Re: your mail", "Precedence: bulk\n"),  # the reviewer's vacation reply
        ("Your loan is due", "Precedence: junk\n"),
        ("Your loan is due", "Precedence: list\n"),
        ("Re: your mail", ""),
        ("RE : Your loan is due", ""),
        ("Auto: Your loan is due", ""),
        # auto-generated is not a reply (RFC 3834), but from a person's address with no
        # failure evidence it is no failure notice either: a weak sign, like bulk
        ("Your loan is due", "Auto-Submitted: auto-generated\n"),
        ("Your loan is due", "Auto-Submitted: auto-notified; owner-email=x@example.com\n"),
    ],
)
def test_an_auto_reply_is_not_a_bounce(subject: str, extra: str) -> None:
    res = classify(_reply(subject, extra))
    assert not res.is_bounce, res
    assert res.is_auto_reply
    assert res.detector == "rfc3834-auto-reply"
    assert res.recipients == ()


@pytest.mark.parametrize(
    ("subject", "extra", "sender"),
    [
        # Auto-Submitted: no says a person sent it; the failure wording decides.
        ("Mail delivery failed", "Auto-Submitted: no\n", "Taro <taro@example.com>"),
        # A daemon's notice may be Precedence: bulk or answer with "Re:": still a bounce.
        ("Returned mail: User unknown", "Precedence: bulk\n", "postmaster@mx.example.jp"),
        ("Re: Your loan is due", "Precedence: bulk\n", "Mail Delivery Subsystem <x@example.jp>"),
    ],
)
def test_a_failure_notice_with_weak_auto_reply_signs_is_still_a_bounce(
    subject: str, extra: str, sender: str
) -> None:
    raw = _reply(subject, extra, sender).replace(
        BODY.encode(), b"Your message could not be delivered to taro@example.com.\n"
    )
    res = classify(raw)
    assert res.is_bounce and not res.is_auto_reply, res


def test_a_dsn_with_auto_submitted_and_precedence_bulk_is_still_a_bounce() -> None:
    raw = dsn().replace(
        b"MIME-Version", b"Auto-Submitted: auto-replied\nPrecedence: bulk\nMIME-Version"
    )
    res = classify(raw)
    assert res.is_bounce and not res.is_auto_reply


NOTICE = (
    "Each of the following recipients was rejected by a remote mail server.\n\n"
    "<taro@ezweb.ne.jp>: 550 : User unknown\n"
)
AU_NOTICE = (
    "送信先のメールボックスが一杯のため、送信できませんでした。\n\n"
    "     Could not be delivered to: <taro@x0001.dion.ne.jp>\n"
    "     As their mailbox is full.\n"
)


def _notice(sender: str, extra: str, body: str, subject: str = "Mail System Error") -> bytes:
    return (
        f"From: {sender}\nTo: {VERP}\nSubject: {subject}\n{extra}MIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{body}"
    ).encode()


def _categories(res: Classification) -> list[str]:
    return [r.category.value for r in res.recipients]


@pytest.mark.parametrize(
    "extra",
    [
        "Auto-Submitted: auto-generated\n",
        "Auto-Submitted: auto-generated (failure)\n",
        "Auto-Submitted: auto-notified\n",
        "Precedence: bulk\n",
        "Precedence: junk\n",
    ],
)
@pytest.mark.parametrize(
    ("sender", "body", "category"),
    [
        ("<Postmaster@ezweb.ne.jp>", NOTICE, "domain_rejection"),
        ("no-reply@x0001.dion.ne.jp", AU_NOTICE, "mailbox_full"),  # au/KDDI's real sender
        ("noreply@mail.example.jp", NOTICE, "domain_rejection"),
        ("Mailer Daemon <errors@mx.example.jp>", NOTICE, "domain_rejection"),
        ("MMSC NDR Administrator <sysadmin@mms.example.com>", NOTICE, "domain_rejection"),
    ],
)
def test_a_carrier_text_bounce_with_rfc3834_headers_is_still_a_bounce(
    sender: str, body: str, category: str, extra: str
) -> None:
    """sendmail and carriers put ``Auto-Submitted: auto-generated`` (RFC 3834: not a
    reply) and ``Precedence: bulk`` on their notices; from a daemon-like sender they
    count for nothing."""
    res = classify(_notice(sender, extra, body))
    assert res.is_bounce and not res.is_auto_reply, res
    assert _categories(res) == [category]


@pytest.mark.parametrize(
    "extra",
    [
        "X-Autoreply: yes\n",
        "X-Autorespond: yes\n",
        "Precedence: auto_reply\n",
        "Auto-Submitted: auto-replied\n",  # Exim's own bounces carry it
        "Precedence: bulk\n",
        "Auto-Submitted: auto-generated\n",
    ],
)
@pytest.mark.parametrize(
    "body",
    [
        NOTICE,
        AU_NOTICE,
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its recipients.\n"
        "  taro@example.com\n    host mx.example.com [192.0.2.1]\n"
        "    SMTP error from remote mail server after RCPT TO:<taro@example.com>:\n"
        "    550 5.1.1 <taro@example.com>: Recipient address rejected\n",
        "Delivery to the following recipient failed permanently:\n\n    taro@example.com\n",
        "<taro@example.com>:\nhost mx.example.com[192.0.2.1] said: 550 Requested action not"
        " taken: mailbox unavailable (in reply to RCPT TO command)\n",
        "<taro@example.com>: 554 5.7.9 Message not accepted for policy reasons\n",
        "<taro@example.jp>: 宛先不明のため送信できませんでした。\n",
    ],
)
def test_failure_evidence_in_the_text_is_never_an_auto_reply(extra: str, body: str) -> None:
    """Whatever responder signs it carries, from whatever sender, a text that reports a
    failure in words no vacation reply uses is a bounce."""
    raw = _notice("Mail Gateway <gateway@relay.example.jp>", extra, body, "Returned mail")
    res = classify(raw)
    assert res.is_bounce and not res.is_auto_reply, res


def test_a_vacation_subject_does_not_hide_a_failure_notice() -> None:
    raw = _notice(
        "Mail Delivery <mail@ezweb.ne.jp>", "", AU_NOTICE, "Out of office: Your loan is due"
    )
    res = classify(raw)
    assert res.is_bounce and _categories(res) == ["mailbox_full"], res


@pytest.mark.parametrize(
    "body",
    [
        "山田は1月5日まで不在です。急ぎの用件は携帯 (yamada@docomo.ne.jp) へ送信できます。\n",
        "I am away. Messages will not be delivered to me until I return; please write to"
        " office@example.co.jp instead.\n",
        "I am out of the office; your message could not be delivered to my team yet.\n",
    ],
)
def test_a_persons_auto_reply_using_failure_words_of_itself_stays_an_auto_reply(
    body: str,
) -> None:
    """Found by a review: a vacation reply saying 「…へ送信できます」 or "will not be
    delivered to me" was taken for a bounce, and the second address in it flagged at once
    as a forwarding failure. From a person with a strong responder sign, only a quoted
    SMTP reply or the rule table's unknown-user phrases count as failure evidence."""
    raw = _notice("山田 <yamada@example.co.jp>", "Auto-Submitted: auto-replied\n", body, "自動応答")
    res = classify(raw)
    assert not res.is_bounce and res.is_auto_reply, res


@pytest.mark.parametrize(
    "body",
    [
        "I am unavailable until 5 May and will answer when I have returned.\n",
        "Taro is unavailable this week. Your mail has not been forwarded.\n"
        "Urgent matters: call 555-1234 or 550 1234 (the office).\n",
        "Out of office. Error: I failed to set an end date, so this reply may repeat.\n",
        "ただいま出張中のため、返信が遅れます。\n",
    ],
)
@pytest.mark.parametrize(
    ("subject", "extra"),
    [("Re: Your loan is due", ""), ("Your loan is due", "Auto-Submitted: auto-replied\n")],
)
def test_a_vacation_reply_in_everyday_words_stays_an_auto_reply(
    body: str, subject: str, extra: str
) -> None:
    res = classify(_reply(subject, extra).replace(BODY.encode(), body.encode()))
    assert not res.is_bounce and res.is_auto_reply, res


CARRIER_SAMPLES = ("lhost-ezweb/lhost-ezweb-01.eml", "lhost-kddi/lhost-kddi-01.eml")
INJECTED = (
    b"Auto-Submitted: auto-generated\n",
    b"Auto-Submitted: auto-generated (failure)\n",
    b"Precedence: bulk\n",
)


def _with_header(raw: bytes, line: bytes) -> bytes:
    at = raw.index(b"\nSubject:") + 1
    return raw[:at] + line + raw[at:]


@pytest.mark.parametrize("line", INJECTED)
@pytest.mark.parametrize("path", CARRIER_SAMPLES)
def test_a_corpus_carrier_bounce_with_rfc3834_headers_keeps_its_verdict(
    path: str, line: bytes
) -> None:
    """The reviewer's reproducer: au/EZweb notices (Postmaster@ezweb.ne.jp,
    no-reply@...dion.ne.jp) with the headers sendmail and carriers add."""
    require("the shared sisimai corpus (../shared/corpus/sisimai)", corpus.available())
    raw = (corpus.EML / path).read_bytes()
    base, res = classify(raw), classify(_with_header(raw, line))
    assert base.is_bounce
    assert res.is_bounce and _categories(res) == _categories(base), res


def test_no_corpus_text_bounce_is_lost_to_rfc3834_headers() -> None:
    """Every free-text bounce of the corpus keeps its verdict with the headers added."""
    require("the shared sisimai corpus (../shared/corpus/sisimai)", corpus.available())
    lost: list[str] = []
    for path in sorted(corpus.EML.glob("[lr]host-*/*.eml")):
        raw = path.read_bytes().replace(b"\r\n", b"\n")
        base = classify(raw)
        if not base.is_bounce or base.detector != "free-text" or b"\nSubject:" not in raw:
            continue
        for line in INJECTED:
            res = classify(_with_header(raw, line))
            if _categories(res) != _categories(base):
                lost.append(f"{path.parent.name}/{path.name} + {line.decode().strip()}")
    assert not lost, lost
