"""Synthetic-but-realistic free-text bounces and non-bounces (Exim, qmail, Courier, Domino,
GMX/web.de, au, auto-replies, read receipts), worded as those MTAs really word them.

Each case is ``(id, raw bytes, expected category)``; ``NOT`` is the expected category of a
message that must not be taken for a bounce.
"""

# ruff: noqa: E501
# The cases are one line each on purpose: a notice's wording reads best unbroken.
from __future__ import annotations

from tests.unit.bounce.dsn import MSGID, VERP
from tests.unit.bounce.realworld_cases import BAD, FULL, NOT, OURS, REJ, TMP, UNK, Case

_RETURNED = f"""\
Return-path: <{VERP}>
Received: from mail.plib.pref.aomori.lg.jp ([192.0.2.25])
\tby mx.example.net with esmtp; Mon, 02 Nov 2026 09:00:00 +0900
From: library@plib.pref.aomori.lg.jp
To: p@example.jp
Subject: loan reminder
Message-ID: {MSGID}
Date: Mon, 02 Nov 2026 09:00:00 +0900

Your loan is due.
"""


def mail(body: str, *, sender: str, subject: str, extra: str = "") -> bytes:
    return f"""\
Return-Path: <>
From: {sender}
To: {VERP}
Subject: {subject}
Date: Mon, 02 Nov 2026 09:05:00 +0900
{extra}
{body}""".encode()


def exim(reason: str, rcpt: str = "p@example.jp") -> bytes:
    body = f"""\
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {rcpt}
{reason}

------ This is a copy of the message, including all the headers. ------

{_RETURNED}"""
    return mail(
        body,
        sender="Mail Delivery System <Mailer-Daemon@mx.example.net>",
        subject="Mail delivery failed: returning message to sender",
        extra=f"X-Failed-Recipients: {rcpt}\nAuto-Submitted: auto-replied\n",
    )


def qmail(reason: str, rcpt: str = "p@example.jp") -> bytes:
    body = f"""\
Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{rcpt}>:
{reason}

--- Below this line is a copy of the message.

{_RETURNED}"""
    return mail(body, sender="MAILER-DAEMON@mx.example.net", subject="failure notice")


_SMTP_ERR = "    host mx.example.jp [192.0.2.1]\n    SMTP error from remote mail server after"

# fmt: off
EXIM: list[Case] = [
    ("exim-remote-user-unknown", exim(f"{_SMTP_ERR} RCPT TO:<p@example.jp>:\n    550 5.1.1 <p@example.jp>: Recipient address rejected: User unknown in local recipient table"), BAD),
    ("exim-unrouteable", exim("    Unrouteable address"), BAD),
    ("exim-local-quota", exim("    mailbox is full: retry timeout exceeded"), FULL),
    ("exim-retry-timeout", exim("    retry timeout exceeded"), TMP),
    ("exim-all-hosts-nonexistent", exim("    all relevant MX records point to non-existent hosts"), BAD),
    ("exim-size-at-data", exim(f"{_SMTP_ERR} end of data:\n    552 5.3.4 Message size exceeds maximum permitted"), OURS),
    ("exim-spam-at-data", exim(f"{_SMTP_ERR} end of data:\n    550 5.7.1 Message rejected as spam by Content Filtering."), REJ),
    ("exim-cpanel-quota", exim(f"{_SMTP_ERR} RCPT TO:<p@example.jp>:\n    550 Mailbox quota exceeded"), FULL),
    ("exim-rbl-at-connect", exim("    host mx.example.jp [192.0.2.1]\n    SMTP error from remote mail server after initial connection:\n    554 mx.example.jp ESMTP not accepting messages from 203.0.113.5"), REJ),
    ("exim-relay-not-permitted", exim(f"{_SMTP_ERR} RCPT TO:<p@example.jp>:\n    550 relay not permitted"), UNK),
    ("exim-sender-verify", exim(f"{_SMTP_ERR} MAIL FROM:<{VERP}> SIZE=2048:\n    550 Sender verify failed"), REJ),
]
# fmt: on

# fmt: off
QMAIL: list[Case] = [
    ("qmail-remote-unknown", qmail("192.0.2.1 does not like recipient.\nRemote host said: 550 5.1.1 <p@example.jp>: Recipient address rejected: User unknown\nGiving up on 192.0.2.1."), BAD),
    ("qmail-no-mailbox", qmail("Sorry, no mailbox here by that name. (#5.1.1)"), BAD),
    ("qmail-no-host", qmail("Sorry, I couldn't find any host named exmaple.jp. (#5.1.2)", "p@exmaple.jp"), BAD),
    ("qmail-over-quota", qmail("The users mailfolder is over the allowed quota (size). (#5.2.2)"), FULL),
    ("qmail-vpopmail-quota", qmail("user is over quota"), FULL),
    ("qmail-queue-too-long", qmail("Connected to 192.0.2.1 but connection died. (#4.4.2)\nI'm not going to try again; this message has been in the queue too long."), TMP),
    ("qmail-rcpthosts", qmail("192.0.2.1 does not like recipient.\nRemote host said: 553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\nGiving up on 192.0.2.1."), UNK),
    ("qmail-size", qmail("192.0.2.1 failed after I sent the message.\nRemote host said: 552 sorry, that message size exceeds my databytes limit (#5.3.4)"), OURS),
]
# fmt: on

_COURIER = """\
This is a delivery status notification from mx.example.net,
running the Courier mail server, version 1.1.

The original message was received on Mon, 02 Nov 2026 09:00:00 +0900
from mail.plib.pref.aomori.lg.jp [192.0.2.25]

---------------------------------------------------------------------------

                           UNDELIVERABLE MAIL

Your message to the following recipients cannot be delivered:

<p@example.jp>:
    mx.example.jp [192.0.2.1]:
>>> RCPT TO:<p@example.jp>
<<< {reply}

---------------------------------------------------------------------------

If your message was also sent to additional recipients, their delivery
status is not included in this report.
"""

# fmt: off
COURIER: list[Case] = [
    ("courier-user-unknown", mail(_COURIER.format(reply="550 5.1.1 <p@example.jp>... User unknown"), sender="Courier mail server at mx.example.net <@>", subject="NOTICE: mail delivery status."), BAD),
    ("courier-mailbox-full", mail(_COURIER.format(reply="552 5.2.2 <p@example.jp>... Mailbox full"), sender="Courier mail server at mx.example.net <@>", subject="NOTICE: mail delivery status."), FULL),
]
# fmt: on

_DOMINO = """\
Your message

  Subject: loan reminder

was not delivered to:

  p@example.jp

because:

  {reason}
"""

# fmt: off
DOMINO: list[Case] = [
    ("domino-not-listed", mail(_DOMINO.format(reason="User p (p@example.jp) not listed in Domino Directory"), sender="Postmaster@example.jp", subject="DELIVERY FAILURE: User p (p@example.jp) not listed in Domino Directory"), BAD),
    ("domino-cannot-route", mail(_DOMINO.format(reason="Cannot route mail to user (p@example.jp)"), sender="Postmaster@example.jp", subject="DELIVERY FAILURE: Cannot route mail to user (p@example.jp)"), REJ),
]
# fmt: on

_GMX = f"""\
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of
its recipients. This is a permanent error. The following address(es)
failed:

p@gmx.de
SMTP error from remote server for RCPT TO command, host: mx00.emig.gmx.net (212.227.15.9) reason: {{reason}}

--- The header of the original message is following. ---

{_RETURNED}"""

# fmt: off
GMX: list[Case] = [
    ("gmx-unknown", mail(_GMX.format(reason="550 Requested action not taken: mailbox unavailable"), sender="\"Mail Delivery System\" <mailer-daemon@gmx.net>", subject="Mail delivery failed: returning message to sender"), BAD),
    ("gmx-quota", mail(_GMX.format(reason="552-Requested mail action aborted: exceeded storage allocation 552 Mailbox quota exceeded"), sender="\"Mail Delivery System\" <mailer-daemon@gmx.net>", subject="Mail delivery failed: returning message to sender"), FULL),
    ("webde-unknown", mail(_GMX.format(reason="550 Requested action not taken: mailbox unavailable").replace("gmx.de", "web.de"), sender="\"Mail Delivery System\" <mailer-daemon@web.de>", subject="Mail delivery failed: returning message to sender"), BAD),
]
# fmt: on

# fmt: off
NOT_BOUNCES: list[Case] = [
    ("gmail-vacation", mail("I am away until Monday and will answer your mail then.\n", sender="Patron <p@gmail.com>", subject="Out of Office: loan reminder", extra="Auto-Submitted: auto-replied\nPrecedence: bulk\nIn-Reply-To: " + MSGID + "\n").replace(b"Return-Path: <>", b"Return-Path: <p@gmail.com>"), NOT),
    ("exchange-automatic-reply", mail("I am out of the office until 10 November.\n", sender="Patron <p@example.jp>", subject="Automatic reply: loan reminder", extra="X-Auto-Response-Suppress: All\nAuto-Submitted: auto-generated\n"), NOT),
    ("japanese-absence-notice", mail("ただいま不在にしております。\n", sender="p@example.jp", subject="=?UTF-8?B?44CQ6Ieq5YuV6L+U5L+h44CR?= loan reminder", extra="Auto-Submitted: auto-replied\n"), NOT),
    ("outlook-read-receipt", mail(f"""--mdn
Content-Type: text/plain; charset=utf-8

Your message

  To: p@example.jp
  Subject: loan reminder

was read on 2026/11/02 10:00.

--mdn
Content-Type: message/disposition-notification

Reporting-UA: example.jp; Microsoft Outlook 16.0
Final-Recipient: rfc822;p@example.jp
Original-Message-ID: {MSGID}
Disposition: manual-action/MDN-sent-manually; displayed

--mdn--
""", sender="Patron <p@example.jp>", subject="Read: loan reminder", extra='MIME-Version: 1.0\nContent-Type: multipart/report; report-type=disposition-notification; boundary="mdn"\n'), NOT),
    ("thunderbird-return-receipt", mail(f"""--mdn2
Content-Type: text/plain; charset=UTF-8

This is a Return Receipt for the mail that you sent to p@example.jp.

Note: This Return Receipt only acknowledges that the message was displayed on the recipient's computer. There is no guarantee that the recipient has read or understood the message contents.

--mdn2
Content-Type: message/disposition-notification; name="MDNPart2.txt"

Reporting-UA: example.jp; Mozilla Thunderbird
Final-Recipient: rfc822;p@example.jp
Original-Message-ID: {MSGID}
Disposition: manual-action/MDN-sent-manually; displayed

--mdn2
Content-Type: text/rfc822-headers; name="MDNPart3.txt"

From: library@plib.pref.aomori.lg.jp
To: p@example.jp
Subject: loan reminder
Message-ID: {MSGID}

--mdn2--
""", sender="Patron <p@example.jp>", subject="Return Receipt (displayed) - loan reminder", extra='MIME-Version: 1.0\nContent-Type: multipart/report; report-type=disposition-notification; boundary="mdn2"\n'), NOT),
]
# fmt: on

ALL: list[Case] = EXIM + QMAIL + COURIER + DOMINO + GMX + NOT_BOUNCES
