"""Log redaction: every address form a log line can carry is masked to ``***@domain``;
URL credentials are masked by the one helper every command and service uses."""

from __future__ import annotations

import io
import json
import logging

import pytest

from shared.runtime.logging import JsonFormatter, mask_url, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("taro@docomo.ne.jp", "***@docomo.ne.jp"),
        ('"taro.."@docomo.ne.jp', "***@docomo.ne.jp"),
        ('rcpt "taro \\" yamada"@docomo.ne.jp ok', "rcpt ***@docomo.ne.jp ok"),
        ('"a@b"@example.jp', "***@example.jp"),
        ("taro@例え.jp", "***@例え.jp"),
        ("太郎@例え.jp", "***@例え.jp"),
        ("taro＠docomo.ne.jp", "***@docomo.ne.jp"),
        ("宛先：taro＠docomo.ne.jp。", "宛先：***@docomo.ne.jp。"),
        ("<taro@docomo.ne.jp>, hanako@ezweb.ne.jp", "<***@docomo.ne.jp>, ***@ezweb.ne.jp"),
        ('{"to": "taro@x.jp"}', '{"to": "***@x.jp"}'),
        ("mailto:taro@x.jp", "mailto:***@x.jp"),
        ("to=taro.@docomo.ne.jp", "***@docomo.ne.jp"),
    ],
    ids=[
        "plain",
        "quoted-local-part",
        "quoted-with-escaped-quote",
        "quoted-with-at-sign",
        "idn-domain",
        "idn-local-and-domain",
        "full-width-at",
        "full-width-at-in-japanese-text",
        "two-addresses",
        "inside-json",
        "mailto",
        "key-value",
    ],
)
def test_every_address_form_is_masked_to_its_domain(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "mail.sent mail_id=abc123 patron=P1100234567",
        'quoted "words" and "more words" without an address',
        "x" * 5000,
        "a long token " + "ab" * 3000 + " and no at sign",
    ],
)
def test_text_without_an_address_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_a_full_width_address_in_a_log_field_is_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("otayori.test.redaction.fullwidth")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "mail.refused",
            extra={"detail": "550 taro＠docomo.ne.jp", "rcpt": ['"taro.."@docomo.ne.jp']},
        )
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["detail"] == "550 ***@docomo.ne.jp"
    assert line["rcpt"] == ["***@docomo.ne.jp"]
    assert "taro" not in stream.getvalue()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nats://otayori:s3cret@nats.internal:4222", "nats://***@nats.internal:4222"),
        ("nats://token@nats.internal", "nats://***@nats.internal"),
        (
            "nats://a:b@n1:4222,nats://c:d@n2:4222",
            "nats://***@n1:4222,nats://***@n2:4222",
        ),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        ("cannot reach tls://u:p@host: refused", "cannot reach tls://***@host: refused"),
    ],
    ids=["user-password", "token", "server-list", "no-credentials", "in-a-message"],
)
def test_url_credentials_are_masked(url: str, expected: str) -> None:
    assert mask_url(url) == expected
