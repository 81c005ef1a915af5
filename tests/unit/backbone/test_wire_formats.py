"""Pure wire formats shared by services: VERP tokens, Message-IDs, carriers, log redaction."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.carriers import carrier_group
from shared.mailrecord import address_key, mail_id_for, mail_id_from_message_id, message_id_for
from shared.runtime.logging import JsonFormatter, redact
from shared.verp import VerpError, envelope_sender, find_token, make_token, verify_token

SECRET = b"test-secret"


def test_a_verp_token_round_trips_and_survives_case_folding() -> None:
    sender = envelope_sender(SECRET, "abc123", "plib.pref.aomori.lg.jp")
    token = find_token(f"To: <{sender.upper()}>")
    assert token is not None
    assert verify_token(SECRET, token) == "abc123"


@given(st.binary(min_size=1, max_size=64), st.from_regex(r"[a-z0-9]{1,40}", fullmatch=True))
def test_the_token_mac_is_base32_of_the_truncated_hmac(secret: bytes, mail_id: str) -> None:
    # The format is public (the bounce service verifies it): 16 lower-case base32
    # characters of the first 80 bits of HMAC-SHA256, exactly as ``b32encode`` writes them.
    digest = hmac.new(secret, mail_id.encode(), hashlib.sha256).digest()
    expected = base64.b32encode(digest[:10]).decode().lower()
    assert make_token(secret, mail_id) == f"{mail_id}.{expected}"


@pytest.mark.parametrize("forged", ["abc123.aaaaaaaaaaaaaaaa", "abc123", "abc123.ABCDEFGH"])
def test_a_forged_or_malformed_token_is_refused(forged: str) -> None:
    with pytest.raises(VerpError):
        verify_token(SECRET, forged)


def test_a_token_made_with_another_secret_is_refused() -> None:
    with pytest.raises(VerpError):
        verify_token(SECRET, make_token(b"other", "abc123"))


def test_message_id_leads_back_to_the_mail_id() -> None:
    mail_id = mail_id_for("online_loan:P1:batch-2026-12-03:L1")
    assert len(mail_id) == 32
    assert mail_id_from_message_id(message_id_for(mail_id, "plib.pref.aomori.lg.jp")) == mail_id
    assert mail_id_from_message_id("<random@example.com>") is None


def test_address_keys_are_kv_safe_and_case_insensitive() -> None:
    key = address_key(" Taro.Hanako+x@Docomo.ne.jp ")
    assert key == address_key("taro.hanako+x@docomo.ne.jp")
    assert key.isalnum()


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("a@docomo.ne.jp", "docomo"),
        ("a@ezweb.ne.jp", "au"),
        ("a@au.com", "au"),
        ("a@i.softbank.jp", "softbank"),
        ("a@t.vodafone.ne.jp", "softbank"),
        ("a@gmail.com", "gmail"),
        ("a@yahoo.co.jp", "yahoo_japan"),
        ("a@example.jp", "other"),
        ("no-at-sign", "other"),
    ],
)
def test_carrier_groups(address: str, group: str) -> None:
    assert carrier_group(address) == group


def test_redaction_masks_local_parts_but_keeps_the_domain() -> None:
    assert redact("to taro.hanako@docomo.ne.jp failed") == "to ***@docomo.ne.jp failed"


def test_json_log_lines_carry_no_address_in_message_or_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("otayori.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "mail.failed for hanako@ezweb.ne.jp",
            extra={"patron_id": "P1", "rcpt": ["jiro@i.softbank.jp"], "detail": {"to": "a@b.jp"}},
        )
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    record = json.loads(line)
    assert record["patron_id"] == "P1"
    assert "hanako@" not in line and "jiro@" not in line and "a@b.jp" not in line
    assert record["event"] == "mail.failed for ***@ezweb.ne.jp"
