"""RFC 3834 auto-replies (vacation, out-of-office) are not bounces, even when they come
with a null return path and words a failure notice would use ("returned")."""

from __future__ import annotations

import pytest

from services.bounce.classifier import classify
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
