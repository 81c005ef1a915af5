"""The registration mistakes of Q6, one code each; docomo/au legacy dots are accepted."""

from __future__ import annotations

import pickle

import pytest

from services.mailer.compose import check_address
from services.mailer.errors import InvalidAddress

MISTAKES = [
    ("taro.docomo.ne.jp", "no_at_sign", "「@（アットマーク）」がありません"),
    ("taro@docomo,ne,jp", "comma_for_dot", "「,（コンマ）」"),
    ("taro,hanako@docomo.ne.jp", "comma_for_dot", "「.（ドット）」の打ち間違い"),
    ("taro＠docomo.ne.jp", "full_width", "全角文字が含まれています（「＠」）"),
    ("ｔａｒｏ@docomo.ne.jp", "full_width", "「ｔ」、「ａ」、「ｒ」、「ｏ」"),
    ("taro@docomo．ne．jp", "full_width", "「．」"),
    ("taro１２３@docomo.ne.jp", "full_width", "「１」"),
    ("taro@docomo、ne。jp", "full_width", "「、」、「。」"),
    ("taro\u3000@docomo.ne.jp", "full_width", "全角スペース"),
    ("たろう@docomo.ne.jp", "full_width", "「た」"),
    ("taro @docomo.ne.jp", "space", "空白"),
    ("taro@docomo.ne.jp\tx", "space", "空白"),
    ("tarö@example.de", "non_ascii", "「ö」"),
    ("taro\x00@docomo.ne.jp", "control_char", "制御文字"),
    ("taro@docomo.ne.jp\r\nBcc: x@example.jp", "control_char", "改行"),
    ("taro\n@docomo.ne.jp", "control_char", "改行"),
    ("taro\u2028@docomo.ne.jp", "control_char", "改行"),
    ("taro\t@docomo.ne.jp", "space", "空白"),
    ("", "empty", "空欄"),
    ("   ", "empty", "空欄"),
    ("taro@@docomo.ne.jp", "multiple_at_signs", "2つ以上"),
    ("taro@docomo.ne.jp@au.com", "multiple_at_signs", "2つ以上"),
    ("@docomo.ne.jp", "empty_local_part", "「@」の前"),
    ("taro@", "empty_domain", "「@」の後ろ"),
    ("taro@localhost", "domain_without_dot", "ドット"),
    ("taro@docomo..ne.jp", "domain_syntax", "連続"),
    ("taro@.docomo.ne.jp", "domain_syntax", "先頭・末尾"),
    ("taro@docomo.ne.jp.", "domain_syntax", "先頭・末尾"),
    ("taro@docomo_ne.jp", "domain_syntax", "「_」"),
    ("taro@-docomo.ne.jp", "domain_syntax", "ハイフン"),
    ("taro@192.168.0.1", "domain_syntax", "形式"),
    ("ta(ro)@docomo.ne.jp", "local_part_syntax", "「(」、「)」"),
    ("taro<x>@docomo.ne.jp", "local_part_syntax", "「<」"),
    ("a" * 65 + "@docomo.ne.jp", "local_part_too_long", "64文字"),
    ("a" * 60 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".jp", "too_long", "254文字"),
]


@pytest.mark.parametrize(("raw", "code", "says"), MISTAKES, ids=[m[1] for m in MISTAKES])
def test_each_mistake_has_its_code_and_a_clear_message(raw: str, code: str, says: str) -> None:
    with pytest.raises(InvalidAddress) as caught:
        check_address(raw)
    assert caught.value.code == code
    assert says in caught.value.message_ja
    assert caught.value.address == raw


@pytest.mark.parametrize(
    "raw",
    ["taro@docomo,ne,jp", "taro..hanako@docomo.ne.jp x", "ｔａｒｏ@docomo.ne.jp", "taro@localhost"],
)
def test_the_address_never_reaches_str_or_repr(raw: str) -> None:
    with pytest.raises(InvalidAddress) as caught:
        check_address(raw)
    for text in (str(caught.value), repr(caught.value), str(caught.value.args)):
        assert raw not in text
        assert "taro" not in text


def test_invalid_address_survives_pickling() -> None:
    error = InvalidAddress("no_at_sign", "メッセージ", address="x")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.message_ja, copy.address) == ("no_at_sign", "メッセージ", "x")


ACCEPTED = [
    ("taro@docomo.ne.jp", "taro@docomo.ne.jp"),
    ("  taro@docomo.ne.jp \n", "taro@docomo.ne.jp"),
    ("taro..hanako.@docomo.ne.jp", "taro..hanako.@docomo.ne.jp"),
    (".taro@ezweb.ne.jp", ".taro@ezweb.ne.jp"),
    ("taro._.-hanako..@ezweb.ne.jp", "taro._.-hanako..@ezweb.ne.jp"),
    ("Taro.Hanako+lib@Example.CO.JP", "Taro.Hanako+lib@Example.CO.JP"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("a@b.jp", "a@b.jp"),
    ("a" * 64 + "@docomo.ne.jp", "a" * 64 + "@docomo.ne.jp"),
]


@pytest.mark.parametrize(("raw", "expected"), ACCEPTED, ids=[a[1][:30] for a in ACCEPTED])
def test_deliverable_addresses_are_accepted_and_stripped(raw: str, expected: str) -> None:
    assert check_address(raw) == expected
