"""Fuzz: mutated corpus messages never make ``classify`` raise or invent categories."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.bounce.classifier import Category, classify
from tests.support.servers import require
from tests.unit.bounce import corpus


@pytest.fixture(autouse=True)
def _corpus_present() -> None:
    """The corpus sits beside the repo (../shared); missing, it skips locally, fails in CI."""
    require("the shared sisimai corpus (../shared/corpus/sisimai)", corpus.available())


VALID = set(Category)


@cache
def _samples() -> tuple[bytes, ...]:
    paths = sorted(corpus.EML.rglob("*.eml")) if corpus.available() else []
    return tuple(Path(p).read_bytes()[: 64 * 1024] for p in paths[::4]) or (b"",)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    samples = _samples()
    raw = bytearray(samples[draw(st.integers(0, len(samples) - 1))])
    for _ in range(draw(st.integers(0, 8))):
        if raw:
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    if raw and draw(st.booleans()):
        raw = raw[: draw(st.integers(0, len(raw)))]
    ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\r"]))
    return bytes(raw).replace(b"\r\n", b"\n").replace(b"\n", ending)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_classify_never_raises_on_mutated_bounces(raw: bytes) -> None:
    res = classify(raw)
    assert res.detector != "internal-error", "a bug was hidden by the safety net"
    for r in res.recipients:
        assert r.category in VALID
        assert isinstance(r.recipient, str)
    if not res.is_bounce:
        assert not res.recipients or all(r.category in VALID for r in res.recipients)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=4096))
def test_classify_never_raises_on_random_bytes(raw: bytes) -> None:
    res = classify(raw)
    assert res.detector != "internal-error", "a bug was hidden by the safety net"
    assert all(r.category in VALID for r in res.recipients)


@pytest.mark.parametrize(
    "subject",
    [
        b"=?ISO-2022-JP?B?\x00yRCJWEhPCVrQXc/LiUoJWkhPBsoQiAoRXJyb3IgbWVzc2FnZSkA?=",
        b"=?utf-8?B?4?=",
        b"=?\x80SO-2022-JP?B?GyRCJWEhPCVrQXc/LiUoJWkhPBsoQiAoRXJyb3IgbWVzc2FnZSkA?=",
    ],
    ids=["nul-in-base64", "bad-padding", "unknown-charset-name"],
)
def test_a_broken_encoded_word_in_the_subject_is_read_as_it_came(subject: bytes) -> None:
    """Found by the mutation fuzzer: the decoder raised ``HeaderParseError`` and, for a
    charset name it cannot even look up, ``CharsetError`` (neither a ``ValueError``),
    which only the safety net caught."""
    raw = (
        b"From: Mail Administrator <Postmaster@mopera.net>\nTo: admin@sp.example.jp\n"
        b"Subject: " + subject + b"\nMIME-Version: 1.0\nContent-Type: text/plain\n\n"
        b"user unknown\n<nobody@mopera.ne.jp>\n"
    )
    assert classify(raw).detector != "internal-error"
