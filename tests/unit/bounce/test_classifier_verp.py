"""The VERP token is found at any mail domain, in linear time (detect.py ``_VERP``)."""

from __future__ import annotations

import re

import pytest

from services.bounce.classifier import classify, detect
from shared.verp import envelope_sender, make_token
from tests.unit.bounce.dsn import VERP, dsn

KEY = b"test-verp-secret"
FLOOD = "bounce+" * 9400  # 66 KB: the old unbounded token class backtracked over it for ~7 s


def _unbounded_repeats(pattern: str) -> list[str]:
    """The ``*``, ``+`` and ``{n,}`` quantifiers of a pattern (escapes and classes aside)."""
    bare = re.sub(r"\[\^?\]?[^\]]*\]", "", re.sub(r"\\.", "", pattern))
    return re.findall(r"[*+]|\{\d*,\}", bare)


def test_the_token_pattern_has_only_bounded_repeats() -> None:
    """Bounded repeats only: each start position costs a bounded number of steps, so a
    scan is linear in its input whatever the input holds (no timing threshold needed)."""
    assert _unbounded_repeats(r"a+b\+[^+]*c{2,}") == ["+", "*", "{2,}"]  # the helper works
    assert _unbounded_repeats(detect._VERP.pattern) == []


def test_a_flood_of_bounce_plus_is_no_bounce_and_a_token_after_it_is_found() -> None:
    flood = f"Return-Path: <>\nFrom: x@example.com\nTo: x@example.com\nSubject: hi\n\n{FLOOD}"
    res = classify(flood.encode())
    assert (res.is_bounce, res.detector, res.verp_token) == (False, "no-bounce-signal", "")
    token = make_token(KEY, "abc123")
    res = classify(f"{flood[:60000]} bounce+{token}@example.org\n".encode())
    assert res.verp_token == token


@pytest.mark.parametrize(
    "domain", ["plib.pref.aomori.lg.jp", "mail.example-library.jp", "example.org"]
)
def test_the_token_is_found_whatever_the_configured_mail_domain(domain: str) -> None:
    sender = envelope_sender(KEY, "loan42", domain)
    res = classify(dsn().replace(VERP.encode(), sender.encode()))
    assert res.is_bounce
    assert res.verp_token == make_token(KEY, "loan42")
    assert res.recipients[0].evidence.verp_token == res.verp_token


def test_a_token_named_only_in_the_returned_headers_is_found_at_any_domain() -> None:
    sender = envelope_sender(KEY, "loan42", "mail.example-library.jp")
    raw = dsn().replace(VERP.encode(), b"postmaster@example.org")
    raw = raw.replace(b"From: library@", f"Return-Path: <{sender}>\nFrom: library@".encode())
    assert classify(raw).verp_token == make_token(KEY, "loan42")


def test_a_bounce_plus_address_not_shaped_like_our_token_is_no_token() -> None:
    """Only ``shared/verp.py``'s token shape counts (the same as the service's pre-scan)."""
    raw = dsn().replace(VERP.encode(), b"bounce+someone-else@plib.pref.aomori.lg.jp")
    assert classify(raw).verp_token == ""
