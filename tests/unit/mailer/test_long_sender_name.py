"""A sender display name too long for one encoded-word works on every compose path.

Staff configure ``OTAYORI_MAIL_FROM_NAME``; a name over about 13 Japanese characters
needs several RFC 2047 words. Python 3.11's address parser reads the whitespace between
two such words as a space (CPython gh-128110; RFC 2047 section 6.2 says to ignore it), so
the parse-back check used to refuse every ISO-2022-JP (and fallback UTF-8) mail with such a
name. The words are read here independently of the code under test: each decoded on its
own, concatenated.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
from email.message import EmailMessage
from functools import cache

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.mailer.compose import ComposedMail, Envelope, RenderedMail, compose
from services.mailer.compose.mime import build_message, sender_names, verify
from services.mailer.compose.wire import build_utf8, fast_path_ok
from services.mailer.errors import ComposeError
from services.mailer.settings import MailerSettings, check_display_name
from tests.unit.mailer.builders import BATCH, RUN_DATE, envelope, loan_item, online_loan, parse

JIS_DOMAINS = frozenset({"docomo.ne.jp"})
DEFAULT_NAME = "オンライン貸出サービス担当"
BRIEF_EXAMPLE = "青森県立図書館 オンライン貸出サービス担当（平日9時〜17時）"
_MIXED = (
    '青森県立図書館 "Online Lending" (オンライン貸出) サービス担当・返信不可のアドレスです。'
    "お問い合わせは一般閲覧室カウンター（平日9時〜17時）まで"
)
#: 10 to 80 characters: Japanese with ASCII words, quotes and parentheses; every one
#: JIS X 0208, so an ISO-2022-JP recipient gets ISO-2022-JP mail.
LONG_NAMES = [
    BRIEF_EXAMPLE,
    *(_MIXED[:n] for n in (10, 16, 20, 25, 30, 40, 50, 60, 70, 80)),
    "あ" * 80,
    "a" + "あ" * 79,  # every cut falls one byte later than in the line above
    "Aomori Prefectural Library オンライン貸出サービス担当 'desk' (no reply)",
    "図書館 " * 11,  # spaces next to the cuts, and a trailing one
]
#: The ways a UTF-8 mail leaves the fast path (``wire.fast_path_ok``).
FALLBACKS = {
    "message_id_without_brackets": {"message_id": "otayori.0123456789abcdef@example.jp"},
    "quoted_from_local_part": {"from_addr": '"online lending"@plib.pref.aomori.lg.jp'},
}
_WORD = re.compile(rb"=\?([^?]+)\?b\?([A-Za-z0-9+/=]*)\?=")


def _loan_mail(env: Envelope) -> ComposedMail:
    return compose(
        "online_loan",
        [online_loan([loan_item(1, "津軽のむかし話")])],
        batch=BATCH,
        run_date=RUN_DATE,
        envelope=env,
        iso2022jp_domains=JIS_DOMAINS,
    )


def _parse_bytes(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _header_lines(data: bytes, name: bytes) -> list[bytes]:
    """The lines of header ``name`` as written (first line and continuation lines)."""
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(i for i, line in enumerate(head) if line.startswith(name + b":"))
    lines = [head[start]]
    for line in head[start + 1 :]:
        if not line.startswith((b" ", b"\t")):
            break
        lines.append(line)
    return lines


def _words(lines: list[bytes], name: bytes) -> list[tuple[str, bytes]]:
    """(charset, decoded octets) of each encoded-word; the text must be words only."""
    text = b" ".join(line.strip() for line in lines)[len(name) + 1 :]
    tokens = text.split()
    matches = [_WORD.fullmatch(token) for token in tokens]
    assert all(matches), tokens
    return [(m[1].decode("ascii"), base64.b64decode(m[2], validate=True)) for m in matches if m]


def _display_words(data: bytes) -> list[tuple[str, bytes]]:
    lines = _header_lines(data, b"From")
    phrase, _, address = b" ".join(line.strip() for line in lines).rpartition(b" <")
    assert address.endswith(b">")
    return _words([phrase], b"From")


def _check_words(words: list[tuple[str, bytes]], charset: str) -> str:
    """The text of ``words`` (RFC 2047: each decodes alone, nothing between them)."""
    texts = []
    for word_charset, octets in words:
        assert word_charset == charset
        if charset == "iso-2022-jp" and b"\x1b" in octets:
            # Starts in ASCII (decodes alone) and ends switched back to ASCII.
            assert octets.rsplit(b"\x1b", 1)[1].startswith(b"(B")
        texts.append(octets.decode(charset))
    return "".join(texts)


def _check_lengths(data: bytes) -> None:
    head = data.split(b"\r\n\r\n", 1)[0]
    assert all(len(word[0]) <= 75 for word in _WORD.finditer(head))
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))


@cache
def _stdlib_ignores_space_between_words() -> bool:
    """Whether this Python reads adjacent encoded-words of a display name as RFC 2047 says."""
    msg = email.message_from_string(
        "From: =?utf-8?b?YQ==?= =?utf-8?b?Yg==?= <a@example.jp>\n\n", policy=email.policy.default
    )
    return bool(msg["From"].addresses[0].display_name == "ab")


def _check_stdlib_reading(mail: ComposedMail, name: str) -> None:
    """The stdlib's own reading: exact, or (gh-128110) one space at each cut only."""
    read = parse(mail)["From"].addresses[0].display_name
    words = _display_words(mail.data)
    if _stdlib_ignores_space_between_words() or len(words) == 1:
        assert read == name
    else:
        assert read == " ".join(octets.decode(charset) for charset, octets in words)


@pytest.mark.parametrize("name", LONG_NAMES)
def test_a_utf_8_recipient_reads_the_long_name(name: str) -> None:
    mail = _loan_mail(envelope(from_name=name))
    assert mail.charset == "utf-8"
    assert _check_words(_display_words(mail.data), "utf-8") == name
    _check_lengths(mail.data)
    _check_stdlib_reading(mail, name)


@pytest.mark.parametrize("name", LONG_NAMES)
def test_an_iso_2022_jp_recipient_reads_the_long_name(name: str) -> None:
    mail = _loan_mail(envelope("taro@docomo.ne.jp", from_name=name))
    assert mail.charset == "iso-2022-jp"
    words = _display_words(mail.data)
    if len(name) >= 30:
        assert len(words) > 1
    assert _check_words(words, "iso-2022-jp") == name
    _check_lengths(mail.data)
    _check_stdlib_reading(mail, name)
    assert "津軽のむかし話" in parse(mail).get_content()


@pytest.mark.parametrize("change", FALLBACKS.values(), ids=list(FALLBACKS))
@pytest.mark.parametrize("name", LONG_NAMES)
def test_the_utf_8_fallback_reads_the_long_name(name: str, change: dict[str, str]) -> None:
    env = envelope(from_name=name, **change)
    assert not fast_path_ok(env)
    mail = _loan_mail(env)
    assert mail.charset == "utf-8"
    assert _check_words(_display_words(mail.data), "utf-8") == name
    _check_lengths(mail.data)
    _check_stdlib_reading(mail, name)


@pytest.mark.parametrize("name", [DEFAULT_NAME, "担当", *LONG_NAMES])
def test_the_fast_path_and_the_fallback_write_the_same_sender(name: str) -> None:
    env = envelope(from_name=name)
    mail = RenderedMail(subject="件名", body="本文\n")
    fast, slow = build_utf8(mail, env), build_message(mail, env, "utf-8")
    assert _header_lines(fast, b"From") == _header_lines(slow, b"From")
    assert (
        sender_names(fast, _parse_bytes(fast)) == sender_names(slow, _parse_bytes(slow)) == [name]
    )


def test_the_default_name_is_one_word_on_every_path() -> None:
    for env in (
        envelope(),
        envelope("taro@docomo.ne.jp"),
        envelope(**FALLBACKS["message_id_without_brackets"]),
    ):
        mail = _loan_mail(env)
        assert len(_header_lines(mail.data, b"From")) == 2  # the word, then <address>
        assert parse(mail)["From"].addresses[0].display_name == DEFAULT_NAME


@pytest.mark.parametrize(
    "name",
    [
        'Aomori Prefectural Library Online Lending Service Desk (weekdays 9-17) "no reply"',
        "Library",
        "  padded  name ",
        "a" * 70,
        "=?utf-8?b?5ouF5b2T?=",
    ],
)
def test_ascii_names_read_back_exactly(name: str) -> None:
    for to in ("taro@example.jp", "taro@docomo.ne.jp"):
        mail = _loan_mail(envelope(to, from_name=name))
        assert sender_names(mail.data, parse(mail)) == [name]
        _check_lengths(mail.data)


def test_cp932_symbols_in_the_name_are_sent_as_their_jis_equivalents() -> None:
    name = "オンライン貸出サービス担当（平日9:00～17:00受付・土日祝休み）"  # FULLWIDTH TILDE
    mail = _loan_mail(envelope("taro@docomo.ne.jp", from_name=name))
    assert mail.charset == "iso-2022-jp"
    assert _check_words(_display_words(mail.data), "iso-2022-jp") == name.replace("～", "〜")


SUBJECTS = [
    "【青森県立図書館】オンライン貸出メール（12月6日(日)から受取開始）",
    "【青森県立図書館】" + "予約資料「津軽のむかし話 第一巻」のご用意ができました・" * 4,
    'Mixed ASCII 件名 with (parentheses) and "quotes" ' * 3,
    "あ" * 120,
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_a_long_subject_in_iso_2022_jp_mail(subject: str) -> None:
    mail = RenderedMail(subject=subject, body="本文\n")
    data = build_message(
        mail, envelope("taro@docomo.ne.jp", from_name=BRIEF_EXAMPLE), "iso-2022-jp"
    )
    verify(data, mail, envelope("taro@docomo.ne.jp", from_name=BRIEF_EXAMPLE))
    assert (
        _check_words(_words(_header_lines(data, b"Subject"), b"Subject"), "iso-2022-jp") == subject
    )
    assert str(_parse_bytes(data)["Subject"]) == subject
    _check_lengths(data)


def test_a_sender_that_reads_back_differently_is_refused() -> None:
    env = envelope(from_name=BRIEF_EXAMPLE)
    mail = RenderedMail(subject="件名", body="本文\n")
    data = build_message(mail, env, "iso-2022-jp")
    words = _header_lines(data, b"From")
    tampered = data.replace(words[1], b" =?iso-2022-jp?b?GyRCJCIbKEI=?=")  # "あ"
    with pytest.raises(ComposeError, match="From"):
        verify(tampered, mail, env)
    broken = data.replace(words[1], b" =?iso-2022-jp?b?gICA?=")  # 0x80: not ISO-2022-JP
    assert sender_names(broken, _parse_bytes(broken)) == [None]


_JIS_TEXT = "青森県立図書館オンライン貸出サービス担当平日時受付「」（）・〜ー" + "あいうアイウ"
_ALPHABET = _JIS_TEXT + "AZaz09 .,:;@<>()[]\"'\\=?_-!#\u3000" + "①髙📚é\u200b"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=90))
@example(BRIEF_EXAMPLE)
@example("=?")
def test_every_name_the_settings_accept_reads_back_on_every_path(name: str) -> None:
    try:
        check_display_name(name)
    except ValueError:
        assume(False)  # refused at startup (blank, invisible characters): never composed
    for change in ({}, {"to": "taro@docomo.ne.jp"}, FALLBACKS["message_id_without_brackets"]):
        mail = _loan_mail(envelope(**{"from_name": name, **change}))
        assert sender_names(mail.data, parse(mail)) == [name]
        _check_lengths(mail.data)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("担当\r\n", "U+000D"),
        ("担当\n", "U+000A"),
        ("担当\t（平日）", "U+0009"),
        ("担当\x1b$B", "U+001B"),
        ("担当\x00", "U+0000"),
        ("担当\x7f", "U+007F"),
        ("担当\x85", "U+0085"),
        ("担当\u2028", "U+2028"),
        ("担当\u2029", "U+2029"),
        ("担当\udcff", "U+DCFF"),  # a byte of the environment that was not UTF-8
    ],
)
def test_the_settings_refuse_a_name_no_header_can_hold(name: str, code: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"character 3 ({code})")):
        check_display_name(name)
    with pytest.raises(ValidationError, match="mail_from_name") as caught:
        MailerSettings(mail_from_name=name)
    assert "one line of printable text" in str(caught.value)
    assert name not in str(caught.value)


@pytest.mark.parametrize("name", [DEFAULT_NAME, BRIEF_EXAMPLE, "図書館\u3000担当", "担当📚"])
def test_the_settings_accept_printable_names(name: str) -> None:
    assert MailerSettings(mail_from_name=name).mail_from_name == name
