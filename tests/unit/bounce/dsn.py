"""Build small synthetic bounces for the rule tests."""

from __future__ import annotations

TOKEN = "loan42.abcdefghijklmnop"
"""Shaped like ``shared/verp.py``'s tokens (mail id, ".", 16 base32 characters)."""
VERP = f"bounce+{TOKEN}@plib.pref.aomori.lg.jp"
MSGID = "<loan-42@plib.pref.aomori.lg.jp>"


def dsn(
    recipient: str = "patron@example.jp",
    status: str = "5.1.1",
    diagnostic: str = "550 5.1.1 <patron@example.jp>... User unknown",
    *,
    action: str = "failed",
    remote_mta: str = "mx.example.jp",
    extra_fields: str = "",
    human: str = "Your message could not be delivered.",
) -> bytes:
    """An RFC 3464 multipart/report DSN for one recipient, LF line endings."""
    text = f"""\
Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.plib.pref.aomori.lg.jp>
To: {VERP}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BB"

--BB
Content-Type: text/plain; charset=us-ascii

{human}

--BB
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.plib.pref.aomori.lg.jp

Final-Recipient: rfc822; {recipient}
{extra_fields}Action: {action}
Status: {status}
Remote-MTA: dns; {remote_mta}
Diagnostic-Code: smtp; {diagnostic}

--BB
Content-Type: text/rfc822-headers

From: library@plib.pref.aomori.lg.jp
To: {recipient}
Subject: Your loan is due
Message-ID: {MSGID}

--BB--
"""
    return text.encode()


def plain(body: str, subject: str = "Returned mail: see transcript for details") -> bytes:
    """A free-text (non-MIME) bounce."""
    return f"""\
Return-Path: <>
From: MAILER-DAEMON@mx.example.net
To: {VERP}
Subject: {subject}

{body}
""".encode()
