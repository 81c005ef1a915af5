"""Japanese (and Chinese, Korean, Russian) diagnostics: charset guessing for undeclared
Japanese bodies and the per-reason phrase table (services/bounce/classifier/phrases.py)."""

from __future__ import annotations

import pytest

from services.bounce.classifier import rules, secondary
from services.bounce.classifier.wire import decode_bytes

JA = "宛先不明のため配送できませんでした。"


@pytest.mark.parametrize("codec", ["iso-2022-jp", "shift_jis", "euc-jp", "cp932"])
def test_undeclared_japanese_body_is_decoded(codec: str) -> None:
    assert decode_bytes(JA.encode(codec), None) == JA


def test_iso_2022_jp_labelled_us_ascii_is_decoded() -> None:
    assert decode_bytes(JA.encode("iso-2022-jp"), "us-ascii") == JA


@pytest.mark.parametrize(
    "text", ["Empfänger unbekannt: Postfach voll", "Adresse électronique inconnue", "ÉÀÇ"]
)
def test_latin1_text_is_not_taken_for_japanese(text: str) -> None:
    assert decode_bytes(text.encode("latin-1"), None) == text


def test_declared_charset_wins() -> None:
    assert decode_bytes(JA.encode("shift_jis"), "shift_jis") == JA


PHRASES = [
    ("このアドレスは存在しません", rules.USER_UNKNOWN),
    ("該当するユーザーが見つかりません", rules.UNAMBIGUOUS_UNKNOWN),
    ("アドレス p@example.jp が見つからなかったか", rules.UNAMBIGUOUS_UNKNOWN),
    ("收件人邮箱不存在", rules.UNAMBIGUOUS_UNKNOWN),
    ("받는 사람의 메일 주소가 존재하지 않습니다", rules.UNAMBIGUOUS_UNKNOWN),
    ("локальный ящик пользователя не существует", rules.UNAMBIGUOUS_UNKNOWN),
    ("宛先ドメインが存在しません", rules.HOST_UNKNOWN),
    ("メールボックスがいっぱいです", rules.MAILBOX_FULL),
    ("容量超過のため受信できません", rules.MAILBOX_FULL),
    ("收件人邮箱空间已满", rules.MAILBOX_FULL),
    ("메일함 용량이 초과되었습니다", rules.MAILBOX_FULL),
    ("почтовый ящик получателя переполнен", rules.MAILBOX_FULL),
    ("受信者の設定により受信拒否されました", rules.FILTERED),
    ("받는 사람이 수신 거부하였습니다", rules.FILTERED),
    ("迷惑メールと判定されました", rules.SPAM),
    ("送信ドメイン認証に失敗", rules.AUTH_FAILURE),
    ("このアカウントは利用停止されています", rules.SUSPEND),
    ("メールのサイズが大きすぎます", rules.MESG_TOO_BIG),
    ("一定時間内に配送できませんでした", secondary.EXPIRED),
    ("一時的なエラーが発生しました", secondary.SYSTEM_ERROR),
]


@pytest.mark.parametrize(("text", "rule"), PHRASES, ids=[p[0] for p in PHRASES])
def test_phrase_table_names_the_reason(text: str, rule: rules.Rule) -> None:
    assert rule.matches(text.lower())


@pytest.mark.parametrize(
    "text",
    ["配送できませんでした。", "メールを送信できませんでした。以下のアドレス: p@example.jp"],
)
def test_generic_failure_sentence_names_no_reason(text: str) -> None:
    every = (*rules.EXPLICIT, rules.UNAMBIGUOUS_UNKNOWN, *secondary.SECONDARY)
    assert [r.name for r in every if r.matches(text.lower())] == []
