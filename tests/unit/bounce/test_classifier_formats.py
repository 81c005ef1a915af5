"""Notice formats that are not RFC 3464: Amazon SES JSON and the fml list manager."""

from __future__ import annotations

import json

from services.bounce.classifier import Category, classify
from services.bounce.classifier.wire import trim_returned
from tests.unit.bounce.dsn import MSGID, dsn

_SES_HEAD = (
    "From: SES <no-reply@sns.amazonaws.com>\nTo: bounces@plib.pref.aomori.lg.jp\n"
    "Subject: AWS Notification Message\nContent-Type: text/plain; charset=UTF-8\n\n"
)


def _ses(
    kind: str, status: str = "5.1.1", code: str = "smtp; 550 5.1.1 user unknown"
) -> dict[str, object]:
    rcpt = {"emailAddress": "p@example.jp", "action": "failed", "status": status}
    return {
        "notificationType": kind,
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [rcpt | {"diagnosticCode": code}],
        },
    }


def test_ses_bounce_json_is_classified_per_recipient() -> None:
    res = classify((_SES_HEAD + json.dumps(_ses("Bounce"))).encode())
    assert res.is_bounce
    assert [(r.recipient, r.category) for r in res.recipients] == [
        ("p@example.jp", Category.BAD_ADDRESS)
    ]


def test_ses_bounce_inside_an_sns_envelope() -> None:
    envelope = {"Type": "Notification", "Message": json.dumps(_ses("Bounce", "5.2.2", "552 full"))}
    res = classify((_SES_HEAD + json.dumps(envelope, indent=2)).encode())
    assert [r.category for r in res.recipients] == [Category.MAILBOX_FULL]


def test_ses_delivery_notification_is_not_a_bounce() -> None:
    doc = {"notificationType": "Delivery", "delivery": {"recipients": ["p@example.jp"]}}
    assert not classify((_SES_HEAD + json.dumps(doc)).encode()).is_bounce


def test_broken_ses_json_never_raises() -> None:
    res = classify((_SES_HEAD + '{"notificationType":"Bounce","bounce":{"bounced').encode())
    assert res.readable


_FML = (
    "From: list-admin@example.org\nTo: library@plib.pref.aomori.lg.jp\n"
    "Subject: {subject}\nMessage-ID: <200504292334.FMLAA01.list@example.org>\n"
    "X-MLServer: fml [fml 4.0.3 release]\n\n{body}\n\nOriginal mail as follows:\n\n"
    "From: library@plib.pref.aomori.lg.jp\nSubject: hello\n\nhello\n"
)


def test_fml_not_member_notice_is_a_list_rejection() -> None:
    raw = _FML.format(
        subject="You are not member (list ML)",
        body="You are not a member of this mailing list <list@example.org>.",
    )
    res = classify(raw.encode())
    assert [(r.recipient, r.category) for r in res.recipients] == [
        ("list@example.org", Category.DOMAIN_REJECTION)
    ]


def test_fml_loop_alert_is_transient() -> None:
    raw = _FML.format(
        subject="Loop Alert: Duplicated Message-ID (list ML)",
        body="Duplicated Message-ID in <list@example.org>.",
    )
    assert [r.category for r in classify(raw.encode()).recipients] == [Category.TRANSIENT]


def test_an_ordinary_fml_list_post_is_not_a_bounce() -> None:
    raw = (
        "From: member@example.org\nTo: list@example.org\nSubject: [list:00042] hello\n"
        "Message-ID: <abc@example.org>\nX-MLServer: fml [fml 4.0.3 release]\n\n"
        "You are not a member of this mailing list <list@example.org>.\n"
    )
    assert not classify(raw.encode()).is_bounce


def test_headers_of_a_returned_message_rfc822_part_are_read() -> None:
    raw = dsn(status="5.1.1", diagnostic="550 5.1.1 User unknown").replace(
        b"Content-Type: text/rfc822-headers", b"Content-Type: message/rfc822"
    )
    raw = raw.replace(
        b"--BB--", b"Content-Type: multipart/mixed; boundary=X\n\n--X\n\nbody\n--X--\n--BB--"
    )
    res = classify(raw)
    assert res.original_message_id == MSGID
    assert [r.category for r in res.recipients] == [Category.BAD_ADDRESS]


def _with_big_returned_message() -> bytes:
    raw = dsn(status="5.2.2", diagnostic="552 5.2.2 Mailbox full").replace(
        b"Content-Type: text/rfc822-headers", b"Content-Type: message/rfc822"
    )
    lines = b"\n".join([b"QUJD" * 19] * 2000)
    attachment = b"--IN\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n"
    inner = b"Content-Type: multipart/mixed; boundary=IN\n\n" + attachment + lines + b"\n--IN--\n"
    return raw.replace(b"--BB--", inner + b"--BB--").replace(
        MSGID.encode() + b"\n\n", MSGID.encode() + b"\n"
    )


def test_the_body_of_a_large_returned_message_is_not_parsed() -> None:
    raw = _with_big_returned_message()
    trimmed = trim_returned(raw)
    assert len(trimmed) < 16 * 1024 < len(raw)
    assert MSGID.encode() in trimmed


def test_a_bounce_with_a_large_returned_message_is_classified() -> None:
    res = classify(_with_big_returned_message())
    assert res.original_message_id == MSGID
    assert [r.category for r in res.recipients] == [Category.MAILBOX_FULL]
