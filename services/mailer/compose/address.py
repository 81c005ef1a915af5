"""Catch the address mistakes patrons make when they register (Q6), one code each.

The checks run in the order a member of staff would explain them: characters first
(full-width, spaces, other non-ASCII), then the ``@``, then the comma typed for a dot,
then each part. Dots are deliberately lenient in the local part: docomo and au issued
addresses such as ``taro..hanako.@docomo.ne.jp`` (consecutive dots, a dot before ``@``)
for years, and those are deliverable, so they are accepted.

Messages (``message_ja``) are for the staff who call the patron; they may name the
offending characters but never repeat the address.
"""

from __future__ import annotations

import re
import unicodedata

from services.mailer.errors import InvalidAddress

MAX_LOCAL = 64  # RFC 5321 4.5.3.1.1
MAX_TOTAL = 254  # RFC 5321 path limit (256) less the angle brackets

_LOCAL_CHAR = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]"
_LABEL_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LOCAL_CHARS = re.compile(_LOCAL_CHAR)
_LABEL = re.compile(rf"^{_LABEL_PATTERN}$")
#: An address every check below accepts, bar the two lengths and the all-digit last label.
_PLAIN = re.compile(rf"{_LOCAL_CHAR}{{1,{MAX_LOCAL}}}@(?:{_LABEL_PATTERN}\.)+{_LABEL_PATTERN}")
_SHOWN_CHARS = 5


def check_address(raw: str) -> str:
    """The address stripped of surrounding whitespace, or ``InvalidAddress`` with a code."""
    address = raw.strip()
    if not _plainly_valid(address):
        _check_all(address, raw)
    return address


def _plainly_valid(address: str) -> bool:
    """Whether ``address`` passes every check (the fast path: no per-character loops).

    Exactly the addresses the checks accept; those they reject go through the checks,
    which say why.
    """
    return (
        len(address) <= MAX_TOTAL
        and _PLAIN.fullmatch(address) is not None
        and not address.rpartition(".")[2].isdigit()
    )


def _check_all(address: str, raw: str) -> None:
    _check_characters(address, raw)
    local, domain = _split(address, raw)
    _check_lengths(address, local, raw)
    _check_local(local, raw)
    _check_domain(domain, raw)


def _fail(code: str, message_ja: str, raw: str) -> InvalidAddress:
    return InvalidAddress(code, message_ja, address=raw)


def _shown(chars: list[str]) -> str:
    distinct = list(dict.fromkeys(chars))
    names = ["全角スペース" if c == "\u3000" else c for c in distinct[:_SHOWN_CHARS]]
    more = " ほか" if len(distinct) > _SHOWN_CHARS else ""
    return "、".join(f"「{n}」" for n in names) + more


def _breaks_or_controls(c: str) -> bool:
    """A line break (CR, LF, U+2028/9) or a control character; a tab reads as a space."""
    return c != "\t" and unicodedata.category(c) in ("Cc", "Zl", "Zp")


def _check_characters(address: str, raw: str) -> None:
    if not address:
        raise _fail("empty", "メールアドレスが登録されていません（空欄です）。", raw)
    if any(_breaks_or_controls(c) for c in address):
        raise _fail("control_char", "メールアドレスに改行などの制御文字が含まれています。", raw)
    wide = [c for c in address if unicodedata.east_asian_width(c) in ("F", "W")]
    if wide:
        raise _fail(
            "full_width",
            f"メールアドレスに全角文字が含まれています（{_shown(wide)}）。"
            "半角英数字で登録し直してください。",
            raw,
        )
    if any(c.isspace() for c in address):
        raise _fail(
            "space",
            "メールアドレスの途中に空白が含まれています。空白を除いて登録し直してください。",
            raw,
        )
    other = [c for c in address if not c.isascii()]
    if other:
        raise _fail(
            "non_ascii",
            f"メールアドレスに使えない文字が含まれています（{_shown(other)}）。"
            "半角英数字と記号で登録し直してください。",
            raw,
        )


def _split(address: str, raw: str) -> tuple[str, str]:
    count = address.count("@")
    if count == 0:
        raise _fail("no_at_sign", "メールアドレスに「@（アットマーク）」がありません。", raw)
    if count > 1:
        raise _fail(
            "multiple_at_signs", "メールアドレスに「@（アットマーク）」が2つ以上あります。", raw
        )
    if "," in address:
        raise _fail(
            "comma_for_dot",
            "メールアドレスに「,（コンマ）」が含まれています。"
            "「.（ドット）」の打ち間違いと思われます。",
            raw,
        )
    local, _, domain = address.partition("@")
    if not local:
        raise _fail("empty_local_part", "「@」の前（ユーザー名の部分）が空です。", raw)
    if not domain:
        raise _fail("empty_domain", "「@」の後ろ（ドメインの部分）が空です。", raw)
    return local, domain


def _check_lengths(address: str, local: str, raw: str) -> None:
    if len(local) > MAX_LOCAL:
        raise _fail("local_part_too_long", f"「@」の前が長すぎます（{MAX_LOCAL}文字まで）。", raw)
    if len(address) > MAX_TOTAL:
        raise _fail("too_long", f"メールアドレスが長すぎます（{MAX_TOTAL}文字まで）。", raw)


def _check_local(local: str, raw: str) -> None:
    bad = [c for c in local if not _LOCAL_CHARS.fullmatch(c)]
    if bad:
        raise _fail(
            "local_part_syntax",
            f"「@」の前に使えない文字が含まれています（{_shown(bad)}）。",
            raw,
        )


def _check_domain(domain: str, raw: str) -> None:
    if "." not in domain:
        raise _fail(
            "domain_without_dot",
            "「@」の後ろ（ドメイン）に「.（ドット）」がありません（例: docomo.ne.jp）。",
            raw,
        )
    labels = domain.split(".")
    if any(not label for label in labels):
        raise _fail(
            "domain_syntax",
            "「@」の後ろ（ドメイン）で「.（ドット）」が連続しているか、先頭・末尾にあります。",
            raw,
        )
    bad = [c for c in domain if not (c.isalnum() or c in ".-")]
    if bad:
        raise _fail(
            "domain_syntax",
            f"「@」の後ろ（ドメイン）に使えない文字が含まれています（{_shown(bad)}）。",
            raw,
        )
    if not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise _fail(
            "domain_syntax",
            "「@」の後ろ（ドメイン）の形式が正しくありません（ハイフンの位置や長さ）。",
            raw,
        )
