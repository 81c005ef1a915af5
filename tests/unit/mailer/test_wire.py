"""The direct UTF-8 writer reads back exactly as the stdlib-built message does."""

from __future__ import annotations

import email
import email.policy
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest

from services.mailer.compose import Envelope, RenderedMail
from services.mailer.compose.mime import build_message
from services.mailer.compose.wire import build_utf8, fast_path_ok
from tests.unit.mailer.builders import envelope

SUBJECTS = [
    "【青森県立図書館】オンライン貸出メール（12月6日(日)から受取開始）",
    "短い件名",
    "Plain ASCII subject",
    "A very long plain ASCII subject that certainly needs folding onto a second line ok",
    "絵文字📚と①と髙と" * 6,
    "mixed ASCII and 日本語 with  two spaces and a trailing space ",
    "ä" * 80,
    "x",
]
BODIES = ["本文\n二行目\n", "no final newline", "\n\n空行\n\n", "a" * 300 + "\n", "📚" * 100]
NAMES = ["オンライン貸出サービス担当", "青森県立図書館 オンライン貸出サービス担当（返信不可）" * 2]


def _parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _raw_from(data: bytes) -> str:
    raw = email.message_from_bytes(data, policy=email.policy.compat32)["From"]
    return str(make_header(decode_header(raw)))


def _same(fast: bytes, slow: bytes) -> None:
    # The stdlib's address parser puts a space between adjacent encoded-words of a long
    # display name (wherever each writer happened to split it); RFC 2047 decoding does not.
    assert _raw_from(fast) == _raw_from(slow)
    a, b = _parse(fast), _parse(slow)
    assert [i for i in a.items() if i[0] != "From"] == [i for i in b.items() if i[0] != "From"]
    assert a.get_content() == b.get_content()
    assert fast.isascii()
    assert b"\n" not in fast.replace(b"\r\n", b"")
    assert all(len(line) <= 78 for line in fast.split(b"\r\n"))


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("name", NAMES)
def test_headers_read_back_as_the_stdlib_message(subject: str, name: str) -> None:
    env = envelope(from_name=name, reply_to="counter@plib.pref.aomori.lg.jp")
    mail = RenderedMail(subject=subject, body="本文\n")
    assert fast_path_ok(env)
    _same(build_utf8(mail, env), build_message(mail, env, "utf-8"))


@pytest.mark.parametrize("body", BODIES)
def test_the_body_reads_back_and_matches_byte_for_byte(body: str) -> None:
    env = envelope()
    mail = RenderedMail(subject="件名", body=body)
    fast, slow = build_utf8(mail, env), build_message(mail, env, "utf-8")
    _same(fast, slow)
    assert fast.split(b"\r\n\r\n", 1)[1] == slow.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("to", ["taro..hanako.@docomo.ne.jp", "a+b@example.jp", "x@a.b-c.jp"])
def test_unusual_but_valid_local_parts_are_written_unchanged(to: str) -> None:
    env = envelope(to)
    mail = RenderedMail(subject="件名", body="本文\n")
    assert fast_path_ok(env)
    _same(build_utf8(mail, env), build_message(mail, env, "utf-8"))


@pytest.mark.parametrize(
    "change",
    [
        {"from_name": "Library"},
        {"to": '"quoted local"@example.jp'},
        {"message_id": "no-brackets@x"},
    ],
)
def test_other_envelopes_take_the_stdlib_path(change: dict[str, str]) -> None:
    env: Envelope = envelope(**change)
    assert not fast_path_ok(env)
