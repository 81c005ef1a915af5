"""Delay warnings (the reporting MTA still retries) never yield a hard cause; final
failures keep theirs, whatever their status class (docs/bounce-rules.md, "Delay warnings")."""

from __future__ import annotations

import pytest

from services.bounce.classifier import Category, RecipientResult, classify
from services.bounce.classifier.pending import is_delay_warning, record_pending, text_pending
from tests.unit.bounce.dsn import VERP, dsn
from tests.unit.bounce.realworld_text import exim, mail

HARD = {
    Category.BAD_ADDRESS,
    Category.DOMAIN_REJECTION,
    Category.MAILBOX_FULL,
    Category.FORWARDING_FAILURE,
}
P = "p@example.jp"
POSTFIX_WARNING = """\
This is the mail system at host mx.plib.pref.aomori.lg.jp.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 5 day(s) old."""


def _only(raw: bytes) -> RecipientResult:
    res = classify(raw)
    assert res.is_bounce and len(res.recipients) == 1, res
    return res.recipients[0]


def _delayed(status: str, diagnostic: str, **kw: str) -> RecipientResult:
    return _only(dsn(P, status, diagnostic, action="delayed", human=POSTFIX_WARNING, **kw))


@pytest.mark.parametrize(
    ("status", "diagnostic", "cause"),
    [
        ("4.1.1", f"450 4.1.1 <{P}>: Recipient address rejected: User unknown", "bad_address"),
        ("4.0.0", "450 4.0.0 Requested mail action not taken: mailbox unavailable", ""),
        ("4.7.1", "451 4.7.1 Service unavailable - try again later", ""),
        ("4.2.1", "450 4.2.1 Mailbox disabled, not accepting messages", "bad_address"),
        ("4.2.2", "452 4.2.2 Mailbox full", "mailbox_full"),
        ("4.7.1", "421 4.7.1 Client host [192.0.2.25] blocked using zen.spamhaus.org", ""),
        ("4.7.0", "421 4.7.0 [TSS04] Messages temporarily deferred due to user complaints", ""),
        ("4.1.2", "450 4.1.2 <p@example.jp>: Recipient address rejected: Domain not found", ""),
        ("5.1.1", f"550 5.1.1 <{P}>: Recipient address rejected: User unknown", "bad_address"),
    ],
)
def test_a_dsn_delay_warning_is_transient_and_keeps_the_cause_as_evidence(
    status: str, diagnostic: str, cause: str
) -> None:
    r = _delayed(status, diagnostic)
    assert r.category is Category.TRANSIENT, (r.evidence.rule, r.reason)
    assert r.evidence.action == "delayed"
    if cause:  # the cause the reply names is kept for staff and ops, not acted on
        assert r.evidence.underlying_category == cause
        assert r.evidence.rule.endswith("+delayed")
        assert "still being retried" in r.reason


def test_a_delayed_record_for_another_address_is_not_a_forwarding_failure() -> None:
    raw = dsn("forwarded@example.net", "4.2.2", "452 4.2.2 Mailbox full", action="delayed")
    res = classify(raw, sent=lambda key: P)
    (r,) = res.recipients
    assert r.category is Category.TRANSIENT
    assert r.evidence.forwarding == "sent-mismatch"
    assert r.evidence.underlying_category == "mailbox_full"


def test_a_record_without_action_but_with_a_4xx_status_is_not_final() -> None:
    raw = dsn(P, "4.1.1", f"450 4.1.1 <{P}>: User unknown", action="delayed")
    r = _only(raw.replace(b"Action: delayed\n", b""))
    assert r.category is Category.TRANSIENT


def test_a_record_without_action_or_status_reads_the_reply_code() -> None:
    raw = dsn(P, "", f"450 <{P}>: Recipient address rejected: User unknown", action="delayed")
    r = _only(raw.replace(b"Action: delayed\n", b"").replace(b"Status: \n", b""))
    assert r.status == ""
    assert r.category is Category.TRANSIENT
    final = raw.replace(b"Action: delayed\n", b"").replace(b"450 <", b"550 <")
    assert _only(final.replace(b"Status: \n", b"")).category in HARD


@pytest.mark.parametrize(
    ("status", "diagnostic", "category"),
    [
        # Postfix returned the mail after its queue lifetime: the MTA gave up.
        ("4.1.1", f"450 4.1.1 <{P}>: Recipient address rejected: User unknown", "bad_address"),
        ("4.2.2", "452 4.2.2 Mailbox full", "mailbox_full"),
        ("4.4.7", "Delivery time expired (retry time exceeded)", "transient"),
        ("5.1.1", f"550 5.1.1 <{P}>: Recipient address rejected: User unknown", "bad_address"),
        ("5.7.1", "554 5.7.1 Client host [192.0.2.25] blocked using zen.spamhaus.org", ""),
    ],
)
def test_a_final_failure_keeps_its_cause_whatever_its_status_class(
    status: str, diagnostic: str, category: str
) -> None:
    r = _only(dsn(P, status, diagnostic, action="failed"))
    assert not r.evidence.rule.endswith("+delayed")
    if category:
        assert r.category.value == category
    else:
        assert r.category in HARD


_EXIM_WARNING = f"""\
This message was created automatically by mail delivery software.

A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on mx.plib.pref.aomori.lg.jp.

The address to which the message has not yet been delivered is:

  {P}
    host mx.example.jp [192.0.2.1]
    Delay reason: SMTP error from remote mail server after RCPT TO:<{P}>:
    450 4.1.1 <{P}>: Recipient address rejected: User unknown in local recipient table

No action is required on your part. Delivery attempts will continue for
some time, and this warning may be repeated at intervals if the message
remains undelivered. Eventually the mail delivery software will give up,
and when that happens, the message will be returned to you.
"""
_SENDMAIL_WARNING = f"""\
    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **
    **********************************************

The original message was received at Mon, 2 Nov 2026 05:00:00 +0900

   ----- Transcript of session follows -----
... while talking to mx.example.jp.:
>>> RCPT To:<{P}>
<<< 452 4.2.2 <{P}>... Mailbox full
<{P}>... Deferred: 452 4.2.2 <{P}>... Mailbox full
Warning: message still undelivered after 4 hours
Will keep trying until message is 5 days old
"""
_EXIM_RETRY_NOT_EXCEEDED = f"""\
This message was created automatically by mail delivery software.

A message that you sent has not yet been delivered to one or more of its
recipients after more than 4 hours on the queue.

  {P}
    retry timeout not exceeded: 451 4.7.1 <{P}>: Recipient refused: blocked by policy
"""
_EXCHANGE_DELAY = f"""\
Delivery is delayed to these recipients or groups:

{P}

Subject: loan reminder

This message hasn't been delivered yet. Delivery will continue to be attempted.

The server will keep trying to deliver this message for the next 1 days, 19 hours.
You'll be notified if the message can't be delivered by that time.

Remote Server returned '450 4.2.1 The recipient's mailbox is disabled'
"""
_QMAIL_STILL_TRYING = f"""\
Hi. This is the qmail-send program at mx.plib.pref.aomori.lg.jp.
I'm not able to deliver your message to the following addresses yet.
I'm still trying.

<{P}>:
192.0.2.1 does not like recipient.
Remote host said: 450 <{P}>: User unknown
"""
_JP_DELAY = f"""\
このメールは送信者への通知です。配信が遅延しています。
以下の宛先へのメールはまだ配送されていません。配送を再試行します。

{P}
452 4.2.2 Mailbox full
"""


@pytest.mark.parametrize(
    ("body", "subject"),
    [
        (_EXIM_WARNING, "Warning: message 1abCde-000Ab0-Ff delayed 24 hours"),
        (_SENDMAIL_WARNING, "Warning: could not send message for past 4 hours"),
        (_EXIM_RETRY_NOT_EXCEEDED, "Warning: message delayed"),
        (_EXCHANGE_DELAY, "Delivery delayed:loan reminder"),
        (_QMAIL_STILL_TRYING, "failure notice"),
        (_JP_DELAY, "=?utf-8?b?6YWN5L+h6YGF5bu244Gu44GK55+l44KJ44Gb?="),  # 配信遅延のお知らせ
    ],
    ids=["exim", "sendmail", "exim-retry-not-exceeded", "exchange", "qmail", "japanese"],
)
def test_a_plain_text_delay_warning_is_never_a_hard_cause(body: str, subject: str) -> None:
    res = classify(mail(body, sender="MAILER-DAEMON@mx.example.net", subject=subject))
    assert res.is_bounce
    assert [r.recipient for r in res.recipients] == [P]
    (r,) = res.recipients
    assert r.category is Category.TRANSIENT, (r.evidence.rule, r.reason)
    assert r.evidence.rule.endswith("+delayed")  # the reply named a cause: kept as evidence
    assert r.evidence.underlying_category in {c.value for c in HARD}


def test_a_delay_warning_that_names_no_cause_is_expired_not_unknown() -> None:
    body = _EXIM_WARNING.replace(
        "450 4.1.1 <p@example.jp>: Recipient address rejected: User unknown in local recipient"
        " table",
        "Xq7 zzz frobnicated",
    )
    r = _only(mail(body, sender="MAILER-DAEMON@mx.example.net", subject="Warning"))
    assert (r.category, r.evidence.rule) == (Category.TRANSIENT, "expired")


def test_a_plain_text_final_failure_after_temporary_replies_keeps_its_cause() -> None:
    qmail = f"""\
Hi. This is the qmail-send program at mx.plib.pref.aomori.lg.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{P}>:
192.0.2.1 does not like recipient.
Remote host said: 450 4.1.1 <{P}>: Recipient address rejected: User unknown
I'm not going to try again; this message has been in the queue too long.
"""
    r = _only(mail(qmail, sender="MAILER-DAEMON@mx.example.net", subject="failure notice"))
    assert r.category is Category.BAD_ADDRESS
    assert _only(exim("    mailbox is full: retry timeout exceeded")).category is (
        Category.MAILBOX_FULL
    )


def test_a_plain_text_permanent_failure_is_still_hard() -> None:
    r = _only(exim(f"    SMTP error from remote mail server after RCPT TO:<{P}>:\n"
                   f"    550 5.1.1 <{P}>: Recipient address rejected: User unknown"))  # fmt: skip
    assert r.category is Category.BAD_ADDRESS


def test_a_plain_text_temporary_reply_without_give_up_wording_is_not_hard() -> None:
    body = f"Delivery to the following recipient failed:\n\n{P}\n451 4.7.1 Blocked by policy\n"
    r = _only(mail(body, sender="MAILER-DAEMON@mx.example.net", subject="Undeliverable"))
    assert r.category is Category.TRANSIENT


def test_pending_rules() -> None:
    assert record_pending("delayed", "5.1.1", "550 5.1.1 unknown", "")
    assert not record_pending("failed", "4.1.1", "450 4.1.1 unknown", "")
    assert record_pending("", "", "450 unknown user", "")
    assert not record_pending("", "", "450 unknown user", "retry timeout exceeded")
    assert not record_pending("", "5.1.1", "", "")
    assert is_delay_warning("THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND")
    assert not is_delay_warning("This is a permanent error; I've given up. still trying")
    assert not text_pending("This is a warning", "gave up after 5 days", "4.4.7")
    assert text_pending("", "Remote host said: 421 try later", "")
    assert not text_pending("", "Remote host said: 550 no such user", "")
    assert VERP  # the helper addresses the notices to our VERP return path
