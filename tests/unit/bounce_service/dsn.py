"""Building realistic delivery status notifications for tests (RFC 3464, as Postfix does)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.mailrecord import MailRecord, mail_id_for, message_id_for
from shared.verp import envelope_sender

DOMAIN = "plib.pref.aomori.lg.jp"


def ledger_record(business_key: str, patron_id: str, recipient: str) -> MailRecord:
    mail_id = mail_id_for(business_key)
    now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    return MailRecord(
        mail_id=mail_id,
        business_key=business_key,
        kind="online_loan",
        patron_id=patron_id,
        recipient=recipient,
        message_id=message_id_for(mail_id, DOMAIN),
        state="sent",
        attempts=1,
        created_at=now,
        updated_at=now,
    )


def build_dsn(
    *,
    recipient: str,
    status: str = "5.1.1",
    diagnostic: str = "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
    verp_to: str | None = None,
    original_message_id: str | None = None,
    bounce_message_id: str = "<dsn-1@mx.example.net>",
    remote_mta: str = "mx.example.net",
) -> bytes:
    """A Postfix-style DSN; ``verp_to`` is the VERP envelope sender it returns to."""
    to = verp_to or f"bounce@{DOMAIN}"
    original = f"Message-ID: {original_message_id}\r\n" if original_message_id else ""
    diag = diagnostic.format(rcpt=recipient)
    text = (
        f"Return-Path: <>\r\nFrom: MAILER-DAEMON@mail.{DOMAIN} (Mail Delivery System)\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {bounce_message_id}\r\nDate: Sat, 5 Dec 2026 09:00:00 +0900\r\n"
        "MIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your "
        "message could not be delivered to one or more recipients.\r\n\r\n"
        f"<{recipient}>: host {remote_mta} said: {diag}\r\n\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mail.{DOMAIN}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: failed\r\nStatus: {status}\r\nRemote-MTA: dns; {remote_mta}\r\n"
        f"Diagnostic-Code: smtp; {diag}\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Return-Path: <{to}>\r\n"
        f"From: =?UTF-8?B?44Kq44Oz44Op44Kk44Oz6LK45Ye6?= <noreply@{DOMAIN}>\r\n"
        f"To: {recipient}\r\n{original}Subject: test\r\n\r\n--B--\r\n"
    )
    return text.encode()


def verp_for(secret: bytes, record: MailRecord) -> str:
    return envelope_sender(secret, record.mail_id, DOMAIN)
