"""Synthetic-but-realistic bounces of ESPs, mail gateways and large non-Japanese providers
(SendGrid, Mailgun, Postmark, Amazon SES, Zimbra, MDaemon, Kerio, Mimecast, Proofpoint,
Barracuda, Cisco IronPort, McAfee, Fortinet, GoDaddy, mail.ru, Yandex, QQ / 163, Naver /
Daum), some with Chinese, Korean or Russian human-readable text.

Each case is ``(id, raw bytes, expected category)``; the replies follow the vendors'
published error lists (sisimai's Lhost / Rhost modules were the factual reference).
Addresses and hosts are made up.
"""

# ruff: noqa: E501
# The cases are one line each on purpose: a notice's wording reads best unbroken.
from __future__ import annotations

from tests.unit.bounce.realworld_cases import BAD, FULL, REJ, TMP, Case
from tests.unit.bounce.realworld_dsn import report
from tests.unit.bounce.realworld_jp import notice

P = "p@example.com"


def at_rcpt(rcpt: str, host: str, reply: str) -> str:
    """Postfix's human-readable line for a reply to RCPT TO (our own MTA's report)."""
    return f"<{rcpt}>: host {host}[192.0.2.1] said: {reply} (in reply to RCPT TO command)"


# fmt: off
ESP: list[Case] = [
    ("sendgrid-user-unknown", report(P, "5.1.1", f"550 5.1.1 <{P}>... User unknown", mta="mx.example.com", reporter="sendgrid.net", sender="MAILER-DAEMON <MAILER-DAEMON@sendgrid.net>", human="This is an automatically generated message from SendGrid.\n\nI'm sorry to have to tell you that your message was not able to be\ndelivered to one of its intended recipients."), BAD),
    ("sendgrid-mx-not-found", report("p@exmaple.com", "5.1.2", "Unable to resolve MX host exmaple.com: no such domain", mta="", reporter="sendgrid.net"), BAD),
    ("mailgun-no-such-user", report(P, "5.1.1", "550 5.1.1 No such user - psmtp", mta="mx.example.com", reporter="mailgun.net"), BAD),
    ("mailgun-mailbox-full", report(P, "5.2.2", "552 5.2.2 The email account that you tried to reach is over quota", mta="mx.example.com", reporter="mailgun.net"), FULL),
    ("postmark-spam-notice", report(P, "5.7.1", "554 5.7.1 Message rejected because it was identified as spam", mta="mx.example.com", reporter="pm-bounces.postmarkapp.com"), REJ),
    ("ses-bad-destination-host", report("p@exmaple.com", "5.1.2", "5.1.2 - Bad destination host 'DNS Hard Error looking up exmaple.com (MX): NXDomain'", mta="", reporter="a27-12.smtp-out.us-west-2.amazonses.com"), BAD),
    ("ses-mailbox-full", report(P, "5.2.2", "smtp; 552 5.2.2 Mailbox full", mta="mx.example.com", reporter="a27-12.smtp-out.us-west-2.amazonses.com"), FULL),
]
# fmt: on

# fmt: off
SERVERS: list[Case] = [
    ("zimbra-lmtp-over-quota", report(P, "5.2.2", "552 5.2.2 Over quota", mta="zimbra.example.com", dtype="smtp"), FULL),
    ("zimbra-no-such-user", report(P, "5.1.1", f"550 5.1.1 <{P}>: Recipient address rejected: {P}", mta="zimbra.example.com"), BAD),
    ("mdaemon-unknown-text", notice(f"The following recipient(s) could not be reached:\n\n     {P}\n          Error Type: SMTP\n          Remote server (192.0.2.1) issued an error.\n          hMailServer sent: RCPT TO:<{P}>\n          Remote server replied: 550 5.1.1 <{P}>... Unknown user", charset="us-ascii", sender="MDaemon@mail.example.com", subject="Message delivery failure"), BAD),
    ("mdaemon-mailbox-full", notice(f"Message delivery to '{P}' failed.\n\n552 The recipient's mailbox is over its storage limit.", charset="us-ascii", sender="MDaemon@mail.example.com", subject="Message delivery failure"), FULL),
    ("kerio-unknown", report(P, "5.1.1", "550 5.1.1 User unknown", mta="kerio.example.com", reporter="kerio.example.com"), BAD),
    ("kerio-quota", report(P, "4.2.2", "452 4.2.2 Mailbox quota exceeded", mta="kerio.example.com", reporter="kerio.example.com"), FULL),
]
# fmt: on

# fmt: off
GATEWAYS: list[Case] = [
    ("mimecast-invalid-recipient", report(P, "5.0.0", "550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [AbCdEfGh.uk10]", mta="eu-smtp-inbound-1.mimecast.com"), BAD),
    ("mimecast-security-policies", report(P, "5.0.0", "554 Email rejected due to security policies - https://community.mimecast.com/docs/DOC-1369#554 [AbCd.uk10]", mta="eu-smtp-inbound-1.mimecast.com"), REJ),
    ("mimecast-anti-spoofing", report(P, "5.0.0", "550 Rejected by header based Anti-Spoofing policy: library@plib.pref.aomori.lg.jp - https://community.mimecast.com/docs/DOC-1369#550 [AbCd.uk10]", mta="eu-smtp-inbound-1.mimecast.com"), REJ),
    ("mimecast-temporary", report(P, "4.0.0", "451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451", mta="eu-smtp-inbound-1.mimecast.com", action="delayed"), TMP),
    ("proofpoint-user-unknown", report(P, "5.1.1", f"550 5.1.1 <{P}>: User Unknown", mta="mx0a-001234.pphosted.com"), BAD),
    ("proofpoint-blocked-ip", report(P, "5.7.1", "554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.5", mta="mx0a-001234.pphosted.com"), REJ),
    ("proofpoint-spam", report(P, "5.7.1", "550 5.7.1 Message rejected as spam by Proofpoint Essentials", mta="mx1-us1.ppe-hosted.com"), REJ),
    ("barracuda-no-such-user", report(P, "5.1.1", f"550 No such user ({P})", mta="d123456a.ess.barracudanetworks.com"), BAD),
    ("barracuda-reputation", report(P, "5.7.1", "554 Service unavailable; Client host [203.0.113.5] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?r=1&ip=203.0.113.5", mta="d123456a.ess.barracudanetworks.com"), REJ),
    ("ironport-address-rejected", report(P, "5.1.0", f"550 #5.1.0 Address rejected {P}", mta="esa1.example.iphmx.com"), BAD),
    ("ironport-poor-reputation", report(P, "5.7.1", "554 5.7.1 Your access to this mail system has been rejected due to the sending MTA's poor reputation. If you believe that this failure is in error, please contact the intended recipient via alternate means.", mta="esa1.example.iphmx.com"), REJ),
    ("mcafee-not-exist", report(P, "5.1.1", f"550 5.1.1 User <{P}> not exist", mta="mail.example.com"), BAD),
    ("mcafee-rejected-content", report(P, "5.7.1", "554 5.7.1 Denied by policy: message contains content not allowed", mta="mail.example.com"), REJ),
    ("fortimail-unknown", report(P, "5.1.1", "550 5.1.1 User unknown", mta="fortimail.example.com"), BAD),
    ("fortimail-spam", report(P, "5.7.1", "554 5.7.1 This message has been blocked because it contains a banned word", mta="fortimail.example.com"), REJ),
    ("trendmicro-hes-unknown", report(P, "5.1.1", f"550 5.1.1 <{P}>: Recipient address rejected: User unknown in relay recipient table", mta="in.hes.trendmicro.com"), BAD),
]
# fmt: on

# fmt: off
HOSTS: list[Case] = [
    ("godaddy-spamhaus-ib104", report(P, "5.7.1", "554 p3plibsmtp01-01.prod.phx3.secureserver.net bizsmtp IB104 Connection refused. This IP is listed on the Spamhaus Block List (SBL).", mta="mx1.secureserver.net"), REJ),
    ("godaddy-account-storage", report(P, "5.0.0", "552 Account storage limit", mta="mx1.secureserver.net"), FULL),
    ("godaddy-recipient-not-found", report(P, "5.0.0", "550 Recipient not found.", mta="mx1.secureserver.net"), BAD),
    ("bigfoot-unknown", report("p@bigfoot.com", "5.1.1", "550 5.1.1 <p@bigfoot.com>... User unknown", mta="mx.bigfoot.com"), BAD),
    ("mailru-invalid-mailbox", report("p@mail.ru", "5.0.0", "550 Message was not accepted -- invalid mailbox.  Local mailbox p@mail.ru is unavailable: user not found", mta="mxs.mail.ru", human=at_rcpt("p@mail.ru", "mxs.mail.ru", "550 Message was not accepted -- invalid mailbox.  Local mailbox p@mail.ru is unavailable: user not found")), BAD),
    ("mailru-spam", report("p@mail.ru", "5.0.0", "550 spam message rejected. Please visit http://help.mail.ru/notspam-support/id?c=AbCd or report details to abuse@corp.mail.ru. Error code: AbCd. ID: 0001.", mta="mxs.mail.ru"), REJ),
    ("mailru-russian-full", notice("К сожалению, Ваше письмо не может быть доставлено одному или нескольким получателям:\n\np@mail.ru\nПочтовый ящик получателя переполнен.", charset="utf-8", sender="Mail Delivery System <MAILER-DAEMON@corp.mail.ru>", subject="Mail failure."), FULL),
    ("yandex-no-such-user", report("p@yandex.ru", "5.7.1", "550 5.7.1 No such user!", mta="mx.yandex.ru", human=at_rcpt("p@yandex.ru", "mx.yandex.ru", "550 5.7.1 No such user!")), BAD),
    ("yandex-size-limit", report("p@yandex.ru", "5.2.2", "552 5.2.2 Mailbox size limit exceeded", mta="mx.yandex.ru"), FULL),
    ("yandex-spam", report("p@yandex.ru", "5.7.1", "554 5.7.1 [2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc", mta="mx.yandex.ru"), REJ),
    ("qq-mailbox-not-found", report("p@qq.com", "5.0.0", "550 Mailbox not found. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000728", mta="mx3.qq.com"), BAD),
    ("qq-content-denied", report("p@qq.com", "5.0.0", "550 Mail content denied. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000726", mta="mx3.qq.com"), REJ),
    ("qq-ip-frequency", report("p@qq.com", "4.0.0", "550 Ip frequency limited. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000725", mta="mx3.qq.com"), TMP),
    ("qq-chinese-no-user", notice("很抱歉您的邮件没有发送成功。\n\n收件人: p@qq.com\n退信原因: 收件人邮箱不存在。", charset="gb18030", sender="Mail Delivery System <MAILER-DAEMON@qq.com>", subject="Undelivered Mail Returned to Sender"), BAD),
    ("163-spam-dt-spm", report("p@163.com", "5.0.0", "554 DT:SPM 163 mx12,EcCowAB,0001 1767312000, please see http://mail.163.com/help/help_spam_16.htm?ip=203.0.113.5", mta="163mx01.mxmail.netease.com"), REJ),
    ("163-user-not-found", report("p@163.com", "5.0.0", "550 User not found: p@163.com", mta="163mx01.mxmail.netease.com", human=at_rcpt("p@163.com", "163mx01.mxmail.netease.com", "550 User not found: p@163.com")), BAD),
    ("163-chinese-full", notice("您发送的邮件未能送达以下收件人:\n\np@163.com\n原因: 收件人邮箱空间已满。", charset="gb2312", sender="postmaster@163.com", subject="系统退信"), FULL),
    ("naver-korean-no-user", notice("메일이 전송되지 않았습니다.\n\n받는 사람: p@naver.com\n사유: 받는 사람의 메일 주소가 존재하지 않습니다.", charset="euc-kr", sender="MAILER-DAEMON@naver.com", subject="Undelivered Mail Returned to Sender"), BAD),
    ("daum-korean-full", notice("메일이 전송되지 않았습니다.\n\n받는 사람: p@hanmail.net\n사유: 받는 사람의 메일함 용량이 초과되었습니다.", charset="utf-8", sender="MAILER-DAEMON@daum.net", subject="Undelivered Mail Returned to Sender"), FULL),
    ("naver-korean-refused", notice("메일이 전송되지 않았습니다.\n\n받는 사람: p@naver.com\n사유: 받는 사람이 수신 거부하였습니다.", charset="utf-8", sender="MAILER-DAEMON@naver.com", subject="Undelivered Mail Returned to Sender"), REJ),
    ("naver-unknown-dsn", report("p@naver.com", "5.1.1", "550 5.1.1 <p@naver.com>: Recipient address rejected: User unknown", mta="mx1.naver.com"), BAD),
]
# fmt: on

ALL: list[Case] = ESP + SERVERS + GATEWAYS + HOSTS
