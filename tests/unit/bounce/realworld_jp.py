"""Synthetic-but-realistic bounces from Japanese ISPs, hosting services and carriers,
many with a Japanese human-readable part (ISO-2022-JP, Shift_JIS, EUC-JP or UTF-8).

Each case is ``(id, raw bytes, expected category)``. The English replies follow what the
ISPs' Postfix / qmail / Exchange servers send; the Japanese sentences use the stock
phrases of Japanese notices (宛先不明, 存在しません, 容量超過, 受信拒否, 迷惑メール,
一時的なエラー, ...; sisimai's Japanese MTA modules were the factual reference). Addresses
and hosts are made up; the domains are the real providers' so host rules are exercised.
"""

# ruff: noqa: E501
# The cases are one line each on purpose: a notice's wording reads best unbroken.
from __future__ import annotations

import base64
from email.header import Header

from tests.unit.bounce.dsn import MSGID, VERP
from tests.unit.bounce.realworld_cases import BAD, FULL, NOT, OURS, REJ, TMP, Case
from tests.unit.bounce.realworld_dsn import report

_RETURNED = f"""\
Return-Path: <{VERP}>
Received: from mail.plib.pref.aomori.lg.jp ([192.0.2.25])
\tby mx.example.ne.jp with ESMTP; Mon, 02 Nov 2026 09:00:00 +0900
From: library@plib.pref.aomori.lg.jp
Subject: loan reminder
Message-ID: {MSGID}
"""


def _body(text: str, charset: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, encoded body) as Japanese MUAs/MTAs send them."""
    if charset == "utf-8":
        return "base64", base64.encodebytes(text.encode("utf-8"))
    data = text.encode(charset)
    return ("7bit" if data.isascii() else "8bit"), data


def _subject(text: str, charset: str = "iso-2022-jp") -> str:
    return Header(text, charset).encode()


def notice(
    text: str,
    *,
    charset: str = "iso-2022-jp",
    sender: str = "MAILER-DAEMON@mx.example.ne.jp",
    subject: str = "Returned mail: see transcript for details",
    declared: bool = True,
    returned_body: str = "",
) -> bytes:
    """A single-part notice with a Japanese body (``declared=False``: no charset given)."""
    returned = f"{_RETURNED}\n{returned_body}" if returned_body else _RETURNED
    cte, data = _body(f"{text}\n\n----- Original message headers -----\n{returned}", charset)
    ctype = f"text/plain; charset={charset}" if declared else "text/plain"
    head = f"""\
Return-Path: <>
From: {sender}
To: {VERP}
Subject: {subject}
Date: Mon, 02 Nov 2026 09:05:00 +0900
MIME-Version: 1.0
Content-Type: {ctype}
Content-Transfer-Encoding: {cte}

"""
    return head.encode() + data


def jp_report(
    rcpt: str,
    status: str,
    diagnostic: str,
    human: str,
    *,
    charset: str = "iso-2022-jp",
    mta: str = "mx.example.ne.jp",
) -> bytes:
    """A DSN whose human-readable part is Japanese in ``charset``."""
    raw = report(rcpt, status, diagnostic, mta=mta, human="@@HUMAN@@")
    cte, data = _body(human, charset)
    raw = raw.replace(
        b"charset=us-ascii\n", f"charset={charset}\nContent-Transfer-Encoding: {cte}\n".encode(), 1
    )
    return raw.replace(b"@@HUMAN@@\n", data, 1)


_LEAD = "このメールはシステムより自動送信されています。\n次のアドレスへのメールを配送できませんでした。\n\n"

# fmt: off
ISP: list[Case] = [
    ("ocn-user-unknown-ja-dsn", jp_report("p@ocn.ne.jp", "5.1.1", "550 5.1.1 <p@ocn.ne.jp>: Recipient address rejected: User unknown", _LEAD + "  p@ocn.ne.jp\n\n理由: 宛先のメールアドレスは存在しません。", mta="mx.ocn.ne.jp"), BAD),
    ("ocn-ja-only-no-such-address", notice(_LEAD + "  p@ocn.ne.jp\n\n理由: このアドレスは存在しません。\n送信先のアドレスをご確認ください。", sender="postmaster@ocn.ne.jp", subject=_subject("メール配送に失敗しました")), BAD),
    ("biglobe-mailbox-full-ja", notice("   ----- The following addresses had delivery problems -----\np@biglobe.ne.jp\n\n   ----- Non-delivered information -----\n受信者のメールボックスがいっぱいのため、メールを配送できませんでした。", sender="postmaster@biglobe.ne.jp", subject="Returned mail: User unknown"), FULL),
    ("nifty-unknown-sjis", notice(_LEAD + "  p@nifty.com\n\n宛先不明のため配送できませんでした。", charset="shift_jis", sender="MAILER-DAEMON@nifty.com"), BAD),
    ("nifty-unknown-sjis-undeclared", notice(_LEAD + "  p@nifty.com\n\n宛先不明のため配送できませんでした。", charset="shift_jis", sender="MAILER-DAEMON@nifty.com", declared=False), BAD),
    ("sonet-quota-utf8", notice(_LEAD + "  p@so-net.ne.jp\n\n受信者のメールボックスが容量超過のため、配送できませんでした。", charset="utf-8", sender="MAILER-DAEMON@so-net.ne.jp"), FULL),
    ("plala-reception-refused", notice(_LEAD + "  p@plala.or.jp\n\n受信者の設定により、このメールの受信は拒否されました。", sender="MAILER-DAEMON@plala.or.jp"), REJ),
    ("eo-spam-refused", notice(_LEAD + "  p@eonet.ne.jp\n\n迷惑メールと判定されたため、受信を拒否しました。", charset="euc-jp", sender="MAILER-DAEMON@eonet.ne.jp"), REJ),
    ("jcom-temporary-ja", notice(_LEAD + "  p@jcom.zaq.ne.jp\n\n一時的なエラーが発生したため配送できませんでした。しばらくしてから再送してください。", sender="MAILER-DAEMON@zaq.ne.jp"), TMP),
    ("jcom-expired-ja", notice(_LEAD + "  p@jcom.home.ne.jp\n\n一定時間内に配送できませんでした。相手先サーバーが応答しません。", sender="MAILER-DAEMON@home.ne.jp"), TMP),
    ("kagoya-domain-not-found-ja", notice(_LEAD + "  p@exmaple.co.jp\n\n宛先ドメインが存在しません。", sender="MAILER-DAEMON@kagoya.net"), BAD),
    ("ocn-account-suspended-ja", notice(_LEAD + "  p@ocn.ne.jp\n\nこのアカウントは利用停止されています。", sender="postmaster@ocn.ne.jp"), BAD),
    ("biglobe-size-ja", notice(_LEAD + "  p@biglobe.ne.jp\n\nメールのサイズが大きすぎるため配送できませんでした。", sender="postmaster@biglobe.ne.jp"), OURS),
    ("sonet-spoofing-ja", notice(_LEAD + "  p@so-net.ne.jp\n\n送信ドメイン認証に失敗したため、なりすましメールとして受信を拒否しました。", charset="utf-8", sender="MAILER-DAEMON@so-net.ne.jp"), REJ),
    ("nifty-unknown-user-ja-phrase", notice(_LEAD + "  p@nifty.com\n\n該当するユーザーが見つかりません。", charset="shift_jis", sender="MAILER-DAEMON@nifty.com"), BAD),
    ("ocn-status-only-ja-quota", jp_report("p@ocn.ne.jp", "5.0.0", "", _LEAD + "  p@ocn.ne.jp\n\n容量超過のため受信できません。", mta=""), FULL),
    ("biglobe-dsn-ja-unknown-generic-status", jp_report("p@biglobe.ne.jp", "5.0.0", "550 Requested action not taken", _LEAD + "  p@biglobe.ne.jp\n\nこのメールアドレスは存在しません。", mta="mx.biglobe.ne.jp"), BAD),
]
# fmt: on

# fmt: off
HOSTING: list[Case] = [
    ("sakura-virtual-unknown", report("p@example.sakura.ne.jp", "5.1.1", "550 5.1.1 <p@example.sakura.ne.jp>: Recipient address rejected: User unknown in virtual mailbox table", mta="www1234.sakura.ne.jp"), BAD),
    ("sakura-quota-ja", jp_report("p@example.sakura.ne.jp", "5.2.2", "552 5.2.2 Mailbox full", "メールボックスの容量を超えているため、配送できませんでした。", mta="www1234.sakura.ne.jp"), FULL),
    ("xserver-dovecot-quota", report("p@example.xsrv.jp", "5.2.2", "552 5.2.2 <p@example.xsrv.jp> Quota exceeded (mailbox for user is full)", mta="sv1234.xserver.jp"), FULL),
    ("xserver-unknown-ja-notice", notice("送信先のメールアドレスが見つかりませんでした。\n\n  p@example.xsrv.jp\n\nアドレスに誤りがないかご確認ください。", charset="utf-8", sender="MAILER-DAEMON@sv1234.xserver.jp", subject=_subject("メール配送エラー", "utf-8")), BAD),
    ("kagoya-spam-refused", report("p@example.kagoya.net", "5.7.1", "554 5.7.1 Rejected: this message was classified as spam", mta="mx.kagoya.net"), REJ),
]
# fmt: on

# fmt: off
PROVIDERS: list[Case] = [
    ("yahoo-jp-ja-not-found", notice("以下のメールアドレスへの配送に失敗しました。\n\n  p@yahoo.co.jp\n\n宛先のメールアドレスが見つかりませんでした。", charset="utf-8", sender="MAILER-DAEMON@yahoo.co.jp", subject=_subject("配信失敗", "utf-8")), BAD),
    ("yahoo-jp-ja-mailbox-full", notice("以下のメールアドレスへの配送に失敗しました。\n\n  p@yahoo.co.jp\n\n受信者のメールボックスがいっぱいです。", charset="utf-8", sender="MAILER-DAEMON@yahoo.co.jp", subject=_subject("配信失敗", "utf-8")), FULL),
    ("rakumail-unknown", report("p@rakumail.jp", "5.1.1", "550 5.1.1 <p@rakumail.jp>: Recipient address rejected: User unknown", mta="mx.rakumail.jp"), BAD),
    ("rakumail-spam-ja", notice(_LEAD + "  p@rakumail.jp\n\n迷惑メールフィルターにより受信が拒否されました。", charset="utf-8", sender="MAILER-DAEMON@rakumail.jp"), REJ),
    ("auone-unknown", report("p@auone.jp", "5.1.1", "550 5.1.1 <p@auone.jp>: Recipient address rejected: User unknown", mta="mx.auone.jp"), BAD),
    ("ymobile-filter-5.2.0", report("p@ymobile.ne.jp", "5.2.0", "550 5.2.0 User unknown", mta="mx.ymobile.ne.jp"), REJ),
    ("dwmail-unknown", report("p@dwmail.jp", "5.1.1", "550 5.1.1 <p@dwmail.jp>: Recipient address rejected: User unknown", mta="mx.dwmail.jp"), BAD),
    ("ahamo-docomo-filter-at-data", report("p@docomo.ne.jp", "5.0.0", "550 Unknown user p@docomo.ne.jp", mta="mfsmax.docomo.ne.jp", human="<p@docomo.ne.jp>: host mfsmax.docomo.ne.jp[203.138.181.240] said: 550 Unknown user p@docomo.ne.jp (in reply to end of DATA command)"), REJ),
    ("softbank-mailbox-full", report("p@i.softbank.jp", "5.2.2", "552 5.2.2 <p@i.softbank.jp>: Mailbox full", mta="mx.i.softbank.jp"), FULL),
    ("softbank-ja-capacity", notice(_LEAD + "  p@softbank.ne.jp\n\n受信者の受信容量を超えたため、配信できませんでした。", charset="shift_jis", sender="MAILER-DAEMON@softbank.ne.jp"), FULL),
    ("exchange-ja-ndr-not-found", jp_report("p@example.co.jp", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "次の受信者またはグループへの配信に失敗しました:\n\np@example.co.jp\nメール アドレスが見つかりませんでした。", charset="utf-8", mta=""), BAD),
    ("gmail-ja-not-found-notice", notice("アドレス p@example.co.jp が見つからなかったか、メールを受信できないアドレスであるため、メールは配信されませんでした。", charset="utf-8", sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>", subject="Delivery Status Notification (Failure)"), BAD),
    ("gmail-ja-domain-not-found", notice("ドメイン exmaple.co.jp が見つからなかったため、p@exmaple.co.jp にメールを配信できませんでした。", charset="utf-8", sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>", subject="Delivery Status Notification (Failure)"), BAD),
    ("interscan-ja-unknown", notice("メッセージを配信できません。\n\n受信者: <p@example.co.jp>\n理由: 550 5.1.1 <p@example.co.jp>... User unknown", charset="shift_jis", sender="postmaster@example.co.jp", subject="Mail could not be delivered"), BAD),
    ("japanese-not-bounce-absence", notice("ただいま出張中のため、11月9日以降に返信いたします。", charset="iso-2022-jp", sender="Patron <p@example.co.jp>", subject=_subject("自動応答: 出張中")).replace(b"Return-Path: <>", b"Return-Path: <p@example.co.jp>"), NOT),
]
# fmt: on

_OUR_BODY = "迷惑メールフィルターをご利用の方は受信拒否設定を解除してください。メールボックスの容量にご注意ください。一時的に"
_YAHOO_JP = "Sorry, we were unable to deliver your message to the following address.\n\n<p@yahoo.co.jp>:\nRemote host said: {reply} [RCPT_TO]"

# fmt: off
ENGLISH_FORMATS: list[Case] = [
    ("yahoo-jp-remote-host-said", notice(_YAHOO_JP.format(reply="550 5.1.1 <p@yahoo.co.jp>: Recipient address rejected: User unknown"), charset="us-ascii", sender="MAILER-DAEMON@yahoo.co.jp", subject="Failure Notice"), BAD),
    ("ocn-postfix-rcpt-unknown", report("p@ocn.ne.jp", "5.1.1", "550 5.1.1 <p@ocn.ne.jp>: Recipient address rejected: User unknown in local recipient table", mta="mx.ocn.ne.jp", human="<p@ocn.ne.jp>: host mx.ocn.ne.jp[192.0.2.1] said: 550 5.1.1 <p@ocn.ne.jp>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)"), BAD),
    ("biglobe-number-of-messages", notice("   ----- The following addresses had delivery problems -----\np@biglobe.ne.jp\n\n   ----- Non-delivered information -----\nThe number of messages in recipient's mailbox exceeded the local limit.", charset="us-ascii", sender="postmaster@biglobe.ne.jp", subject="Returned mail: Delivery failed"), FULL),
    # BIGLOBE's own notice: "User unknown" with no SMTP phase is its reception filter (sisimai Lhost::Biglobe)
    ("biglobe-mail-delivery-failed-user-unknown", notice("   ----- The following addresses had delivery problems -----\np@biglobe.ne.jp\n\n   ----- Non-delivered information -----\nMail Delivery Failed... User unknown", charset="us-ascii", sender="postmaster@biglobe.ne.jp", subject="Returned mail: Delivery failed"), REJ),
    ("nifty-sendmail-unknown", report("p@nifty.com", "5.1.1", "550 5.1.1 <p@nifty.com>... User Unknown", mta="mx.nifty.com", human="<p@nifty.com>: host mx.nifty.com[192.0.2.1] said: 550 5.1.1 <p@nifty.com>... User Unknown (in reply to RCPT TO command)"), BAD),
]
# fmt: on

# fmt: off
GUARDS: list[Case] = [
    ("guard-our-japanese-body-quoted", notice(f"{_LEAD}  p@example.co.jp\n\n550 5.1.1 <p@example.co.jp>: Recipient address rejected: User unknown (in reply to RCPT TO command)", returned_body=_OUR_BODY), BAD),
    ("guard-isp-quota-warning-not-bounce", notice("お客様のメールボックスの使用量が容量の90%に達しました。\n不要なメールを削除してください。", sender="postmaster@ocn.ne.jp", subject=_subject("メールボックス容量のお知らせ")).replace(b"Return-Path: <>", b"Return-Path: <postmaster@ocn.ne.jp>"), NOT),
]
# fmt: on


def global_dsn(
    rcpt: str, diagnostic: str, *, kind: str = "message/global-delivery-status"
) -> bytes:
    """An RFC 6533 DSN whose Diagnostic-Code is UTF-8 Japanese (8-bit, unencoded)."""
    raw = report(rcpt, "5.0.0", diagnostic, mta="mx.example.ne.jp")
    return raw.replace(
        b"Content-Type: message/delivery-status", f"Content-Type: {kind}".encode(), 1
    )


# fmt: off
UTF8_FIELDS: list[Case] = [
    ("global-dsn-ja-unknown", global_dsn("p@example.ne.jp", "550 宛先不明: このアドレスは存在しません"), BAD),
    ("global-dsn-ja-refused", global_dsn("p@example.ne.jp", "554 受信者の設定により受信拒否されました"), REJ),
    ("utf8-dsn-ja-mailbox-full", global_dsn("p@example.ne.jp", "552 メールボックスがいっぱいです", kind="message/delivery-status"), FULL),
]
# fmt: on

ALL: list[Case] = ISP + HOSTING + PROVIDERS + ENGLISH_FORMATS + GUARDS + UTF8_FIELDS
