"""Synthetic-but-realistic RFC 3464 DSNs, worded as the common MTAs and providers word them.

Each case is ``(id, raw bytes, expected category)``. The wording follows what Postfix,
sendmail, Exchange / Office 365, Gmail, iCloud, docomo and au really send for the common
failures (sisimai's per-MTA modules were the factual reference for the phrasing); the
addresses and hosts are made up. Expected categories follow docs/bounce-rules.md.
"""

# ruff: noqa: E501
# The cases are one line each on purpose: a notice's wording reads best unbroken.
from __future__ import annotations

from tests.unit.bounce.dsn import MSGID, VERP
from tests.unit.bounce.realworld_cases import BAD, FULL, OURS, REJ, TMP, UNK, Case


def report(
    rcpt: str,
    status: str,
    diagnostic: str,
    *,
    mta: str = "mx.example.jp",
    dtype: str = "smtp",
    action: str = "failed",
    sender: str = "Mail Delivery System <MAILER-DAEMON@mail.plib.pref.aomori.lg.jp>",
    subject: str = "Undelivered Mail Returned to Sender",
    human: str = "I'm sorry to have to inform you that your message could not\n"
    "be delivered to one or more recipients.",
    reporter: str = "mail.plib.pref.aomori.lg.jp",
) -> bytes:
    """A multipart/report DSN for one recipient (LF line endings)."""
    remote = f"Remote-MTA: dns; {mta}\n" if mta else ""
    diag = f"Diagnostic-Code: {dtype}; {diagnostic}\n" if diagnostic else ""
    return f"""\
Return-Path: <>
From: {sender}
To: {VERP}
Subject: {subject}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="=_b0undary"

--=_b0undary
Content-Type: text/plain; charset=us-ascii

{human}

--=_b0undary
Content-Type: message/delivery-status

Reporting-MTA: dns; {reporter}
Arrival-Date: Mon, 2 Nov 2026 09:00:00 +0900

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: {action}
Status: {status}
{remote}{diag}
--=_b0undary
Content-Type: text/rfc822-headers

Return-Path: <{VERP}>
From: library@plib.pref.aomori.lg.jp
To: {rcpt}
Subject: =?UTF-8?B?6LKg5Ye65pyf6ZmQ44Gu44GK55+l44KJ44Gb?=
Message-ID: {MSGID}

--=_b0undary--
""".encode()


P = "p@example.jp"

# fmt: off
POSTFIX: list[Case] = [
    ("postfix-local-recipient-table", report(P, "5.1.1", f"550 5.1.1 <{P}>: Recipient address rejected: User unknown in local recipient table"), BAD),
    ("postfix-virtual-mailbox-table", report(P, "5.1.1", f"550 5.1.1 <{P}>: Recipient address rejected: User unknown in virtual mailbox table"), BAD),
    ("postfix-local-unknown-user", report(P, "5.1.1", 'unknown user: "p"', mta="", dtype="X-Postfix"), BAD),
    ("dovecot-lmtp-quota", report(P, "5.2.2", f"552 5.2.2 <{P}> Quota exceeded (mailbox for user is full)"), FULL),
    ("postfix-spamhaus", report(P, "5.7.1", "554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.5"), REJ),
    ("postfix-no-such-domain", report("p@exmaple.jp", "5.4.4", "Host or domain name not found. Name service error for name=exmaple.jp type=A: Host not found", mta="", dtype="X-Postfix"), BAD),
    ("postfix-dns-try-again", report(P, "4.4.3", "Host or domain name not found. Name service error for name=example.jp type=MX: Host not found, try again", mta="", dtype="X-Postfix"), TMP),
    ("postfix-relay-denied", report(P, "5.7.1", f"554 5.7.1 <{P}>: Relay access denied"), UNK),
    ("postfix-message-size", report(P, "5.3.4", "552 5.3.4 Message size exceeds fixed limit"), OURS),
    ("postfix-connect-refused-expired", report(P, "4.4.1", "connect to mx.example.jp[192.0.2.1]:25: Connection refused", mta="", dtype="X-Postfix"), TMP),
    ("postfix-connect-timeout-expired", report(P, "4.4.1", "connect to mx.example.jp[192.0.2.1]:25: Connection timed out", mta="", dtype="X-Postfix"), TMP),
    ("postfix-delayed-warning", report(P, "4.4.1", "connect to mx.example.jp[192.0.2.1]:25: Connection refused", mta="", dtype="X-Postfix", action="delayed", subject="Delayed Mail (still being retried)"), TMP),
    ("postfix-lost-connection", report(P, "4.4.2", "lost connection with mx.example.jp[192.0.2.1] while sending end of data -- message may be sent more than once", mta="", dtype="X-Postfix"), TMP),
    ("postfix-greylisted-expired", report(P, "4.2.0", f"450 4.2.0 <{P}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.jp.html"), TMP),
    ("postfix-greylisting-in-action", report(P, "4.7.1", "451 4.7.1 Greylisting in action, please come back later"), TMP),
    ("postfix-mailbox-file-too-large", report(P, "5.2.2", "cannot update mailbox /var/mail/p for user p. error writing message: File too large", mta="", dtype="X-Postfix"), FULL),
    ("postfix-rbl-spamcop", report(P, "5.7.1", "554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?203.0.113.5"), REJ),
    ("postfix-sender-domain-not-found", report(P, "5.1.8", "553 5.1.8 <bounce@plib.pref.aomori.lg.jp>: Sender address rejected: Domain not found"), REJ),
    ("postfix-helo-rejected", report(P, "5.7.1", "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"), REJ),
    ("postfix-server-busy", report(P, "4.3.0", "451 4.3.0 Temporary lookup failure", action="failed"), TMP),
]
# fmt: on

# fmt: off
SENDMAIL: list[Case] = [
    ("sendmail-user-unknown", report(P, "5.1.1", f"550 5.1.1 <{P}>... User unknown", sender="Mail Delivery Subsystem <MAILER-DAEMON@mail.plib.pref.aomori.lg.jp>", subject="Returned mail: see transcript for details"), BAD),
    ("sendmail-host-unknown", report("p@exmaple.jp", "5.1.2", "", mta="", subject="Returned mail: see transcript for details", human="   ----- The following addresses had permanent fatal errors -----\n<p@exmaple.jp>\n    (reason: 550 Host unknown)\n\n   ----- Transcript of session follows -----\n550 5.1.2 <p@exmaple.jp>... Host unknown (Name server: exmaple.jp: host not found)"), BAD),
    ("sendmail-deferred-warning", report(P, "4.4.1", "", action="delayed", subject="Warning: could not send message for past 4 hours", human="    **********************************************\n    **      THIS IS A WARNING MESSAGE ONLY      **\n    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n    **********************************************\n\nThe original message was received at Mon, 2 Nov 2026 05:00:00 +0900\n\n   ----- Transcript of session follows -----\n<p@example.jp>... Deferred: Connection timed out with mx.example.jp.\nWarning: message still undelivered after 4 hours\nWill keep trying until message is 5 days old"), TMP),
    ("sendmail-mailbox-full", report(P, "5.2.2", f"552 5.2.2 <{P}>... Mailbox full"), FULL),
]
# fmt: on

# fmt: off
MICROSOFT: list[Case] = [
    ("o365-recipient-not-found", report(P, "5.1.10", "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", mta="", sender="Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@example.onmicrosoft.com>", subject="Undeliverable: loan reminder", reporter="TYAPR01MB1234.jpnprd01.prod.outlook.com"), BAD),
    ("exchange-recipnotfound", report(P, "5.1.1", "smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", mta="", sender="postmaster@example.jp", subject="Undeliverable: loan reminder"), BAD),
    ("o365-dbeb-access-denied", report(P, "5.4.1", "smtp;550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [TY1PEPF0000A1B2.jpnprd01.prod.outlook.com]", mta="example-jp.mail.protection.outlook.com"), BAD),
    ("o365-quota", report(P, "5.2.2", "smtp;554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded", mta=""), FULL),
    ("o365-banned-ip", report(P, "5.7.606", "smtp;550 5.7.606 Access denied, banned sending IP [203.0.113.5]. To request removal from this list please visit https://sender.office.com/", mta="example-jp.mail.protection.outlook.com"), REJ),
    ("o365-traffic-not-accepted", report(P, "5.7.708", "smtp;550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653", mta="example-jp.mail.protection.outlook.com"), REJ),
    ("o365-dmarc", report(P, "5.7.509", "smtp;550 5.7.509 Access denied, sending domain plib.pref.aomori.lg.jp does not pass DMARC verification and has a DMARC policy of reject.", mta="example-jp.mail.protection.outlook.com"), REJ),
    ("o365-size", report(P, "5.3.4", "smtp;552 5.3.4 Message size exceeds fixed maximum message size", mta=""), OURS),
    ("o365-hop-count", report(P, "5.4.14", "smtp;554 5.4.14 Hop count exceeded - possible mail loop ATTR34", mta=""), TMP),
    ("o365-queue-expired", report(P, "4.4.7", "smtp;550 4.4.7 QUEUE.Expired; message expired", mta=""), TMP),
    ("o365-expired-dns", report(P, "5.4.300", "smtp;550 5.4.300 Message expired -> 451 4.4.0 DNS query failed", mta=""), TMP),
    ("outlook-com-unknown", report("p@outlook.jp", "5.5.0", "smtp; 550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302).", mta="outlook-jp.olc.protection.outlook.com"), BAD),
    ("outlook-com-blocked-ip", report("p@hotmail.co.jp", "5.7.1", "smtp; 550 5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", mta="hotmail-co-jp.olc.protection.outlook.com"), REJ),
]
# fmt: on

# fmt: off
GOOGLE: list[Case] = [
    ("gmail-no-such-user", report("p@gmail.com", "5.1.1", "550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. Learn more at 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser d9si1234567pla.123 - gsmtp", mta="gmail-smtp-in.l.google.com"), BAD),
    ("gmail-over-quota", report("p@gmail.com", "4.2.2", "452-4.2.2 The email account that you tried to reach is over quota. Please direct 452-4.2.2 the recipient to 452 4.2.2 https://support.google.com/mail/?p=OverQuotaTemp d9si1234567pla.123 - gsmtp", mta="gmail-smtp-in.l.google.com"), FULL),
    ("gmail-disabled", report("p@gmail.com", "5.2.1", "550-5.2.1 The email account that you tried to reach is disabled. Learn more at 550 5.2.1 https://support.google.com/mail/?p=DisabledUser d9si1234567pla.123 - gsmtp", mta="gmail-smtp-in.l.google.com"), BAD),
    ("gmail-unsolicited", report("p@gmail.com", "5.7.1", "550-5.7.1 [203.0.113.5] Our system has detected that this message is 550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail, 550-5.7.1 this message has been blocked. - gsmtp", mta="gmail-smtp-in.l.google.com"), REJ),
    ("gmail-dmarc", report("p@gmail.com", "5.7.26", "550-5.7.26 Unauthenticated email from plib.pref.aomori.lg.jp is not accepted due 550-5.7.26 to domain's DMARC policy. - gsmtp", mta="gmail-smtp-in.l.google.com"), REJ),
    ("gmail-no-auth", report("p@gmail.com", "5.7.1", "550-5.7.1 This message does not have authentication information or fails to 550-5.7.1 pass authentication checks (SPF or DKIM). - gsmtp", mta="gmail-smtp-in.l.google.com"), REJ),
    ("gmail-rate", report("p@gmail.com", "4.2.1", "452-4.2.1 The user you are trying to contact is receiving mail at a rate that 452-4.2.1 prevents additional messages from being delivered. - gsmtp", mta="gmail-smtp-in.l.google.com"), TMP),
    ("gmail-size", report("p@gmail.com", "5.2.3", "552-5.2.3 Your message exceeded Google's message size limits. - gsmtp", mta="gmail-smtp-in.l.google.com"), OURS),
    ("gmail-ptr", report("p@gmail.com", "5.7.25", "550-5.7.25 The IP address sending this message does not have a PTR record setup. - gsmtp", mta="gmail-smtp-in.l.google.com"), REJ),
    ("gmail-try-again-later", report("p@gmail.com", "4.7.0", "421-4.7.0 Try again later, closing connection. (EHLO) - gsmtp", mta="gmail-smtp-in.l.google.com"), TMP),
]
# fmt: on

# fmt: off
APPLE_YAHOO: list[Case] = [
    ("icloud-user-unknown", report("p@icloud.com", "5.1.1", "550 5.1.1 <p@icloud.com>: user does not exist", mta="mx01.mail.icloud.com"), BAD),
    ("icloud-over-quota", report("p@icloud.com", "5.2.2", "552 5.2.2 <p@icloud.com>: user is over quota", mta="mx01.mail.icloud.com"), FULL),
    ("icloud-policy", report("p@icloud.com", "5.7.1", "554 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137", mta="mx01.mail.icloud.com"), REJ),
    ("icloud-not-accepting", report("p@icloud.com", "5.0.0", "550 5.7.0 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=203.0.113.5", mta="mx01.mail.icloud.com"), REJ),
    ("yahoo-no-account", report("p@yahoo.com", "5.0.0", "554 delivery error: dd This user doesn't have a yahoo.com account (p@yahoo.com) [0] - mta1234.mail.gq1.yahoo.com", mta="mta5.am0.yahoodns.net"), BAD),
    ("yahoo-disabled", report("p@yahoo.com", "5.0.0", "554 delivery error: dd Sorry your message to p@yahoo.com cannot be delivered. This account has been disabled or discontinued [#102]. - mta1234.mail.gq1.yahoo.com", mta="mta5.am0.yahoodns.net"), BAD),
    ("yahoo-complaints", report("p@yahoo.com", "4.7.0", "421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", mta="mta5.am0.yahoodns.net"), REJ),
    ("yahoo-spamhaus", report("p@yahoo.com", "5.7.1", "553 5.7.1 [BL21] Connections will not be accepted from 203.0.113.5, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes", mta="mta5.am0.yahoodns.net"), REJ),
    ("yahoo-jp-user-unknown", report("p@yahoo.co.jp", "5.0.0", "550 5.1.1 <p@yahoo.co.jp>: Recipient address rejected: User unknown", mta="mx1.mail.yahoo.co.jp"), BAD),
    ("yahoo-jp-mailbox-full", report("p@yahoo.co.jp", "5.0.0", "552 5.2.2 <p@yahoo.co.jp>: Recipient address rejected: Mailbox full", mta="mx1.mail.yahoo.co.jp"), FULL),
]
# fmt: on

# fmt: off
CARRIERS: list[Case] = [
    ("docomo-filter-5.2.0", report("p@docomo.ne.jp", "5.2.0", "550 Unknown user p@docomo.ne.jp", mta="mfsmax.docomo.ne.jp"), REJ),
    ("docomo-unknown-rcpt", report("p@docomo.ne.jp", "5.1.1", "550 Unknown user p@docomo.ne.jp", mta="mfsmax.docomo.ne.jp", human="<p@docomo.ne.jp>: host mfsmax.docomo.ne.jp[203.138.181.112] said: 550 Unknown user p@docomo.ne.jp (in reply to RCPT TO command)"), BAD),
    ("au-filter-no-address", report("p@ezweb.ne.jp", "5.0.0", "550 : User unknown", mta="lsean.ezweb.ne.jp", human="<p@ezweb.ne.jp>: host lsean.ezweb.ne.jp[222.15.69.204] said: 550 : User unknown (in reply to end of DATA command)"), REJ),
    ("au-unknown-named", report("p@au.com", "5.1.1", "550 <p@au.com>: User unknown", mta="lsean.ezweb.ne.jp", human="<p@au.com>: host lsean.ezweb.ne.jp[222.15.69.204] said: 550 <p@au.com>: User unknown (in reply to RCPT TO command)"), BAD),
    ("softbank-filter", report("p@i.softbank.jp", "5.2.0", "550 5.2.0 User unknown", mta="mx.i.softbank.jp"), REJ),
    ("softbank-unknown-rcpt", report("p@softbank.ne.jp", "5.1.1", "550 5.1.1 Unknown user <p@softbank.ne.jp>", mta="mx.softbank.ne.jp", human="<p@softbank.ne.jp>: host mx.softbank.ne.jp said: 550 5.1.1 Unknown user <p@softbank.ne.jp> (in reply to RCPT TO command)"), BAD),
    ("docomo-size", report("p@docomo.ne.jp", "5.3.4", "552 5.3.4 Message size exceeds fixed limit", mta="mfsmax.docomo.ne.jp"), OURS),
]
# fmt: on

ALL: list[Case] = POSTFIX + SENDMAIL + MICROSOFT + GOOGLE + APPLE_YAHOO + CARRIERS
