"""The distributed rule alternations match exactly the texts the written ones match."""

from __future__ import annotations

import re
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.bounce.classifier import rules, rxtools
from services.bounce.classifier.decide import RULES
from services.bounce.classifier.wire import parse
from tests.support.servers import require
from tests.unit.bounce import corpus, realworld_dsn, realworld_text


def _pairs() -> list[tuple[str, re.Pattern[str], re.Pattern[str]]]:
    return [
        (name, rule.pattern, re.compile(rxtools.PLAIN[rule.pattern.pattern]))
        for name, rule in RULES.items()
    ]


@cache
def _texts() -> tuple[str, ...]:
    raws = [c[1] for c in realworld_dsn.ALL + realworld_text.ALL]
    if corpus.available():
        raws += [p.read_bytes() for p in sorted(corpus.EML.rglob("*.eml"))]
    out: list[str] = []
    for raw in raws:
        pm = parse(raw)
        diags = [" ".join(v.lower().split()) for rec in pm.dsn_records for v in rec.values()]
        out += [*diags, " ".join(pm.text.lower().split())[:4000]]
    return tuple(out)


def test_every_rule_was_compiled_through_the_expander() -> None:
    assert {rule.pattern.pattern for rule in RULES.values()} <= set(rxtools.PLAIN)
    assert rules.UNAMBIGUOUS_UNKNOWN.pattern.pattern in rxtools.PLAIN


def test_expanded_rules_agree_with_the_written_ones_on_real_texts() -> None:
    require("the shared sisimai corpus (../shared/corpus/sisimai)", corpus.available())
    for name, fast, plain in _pairs():
        for text in _texts():
            assert (fast.search(text) is None) == (plain.search(text) is None), (name, text)


_WORDS = sorted({w for p in rxtools.PLAIN.values() for w in re.findall(r"[a-z']{2,}", p)})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*_WORDS, " ", "5.1.1", ".", ":"]), max_size=12))
def test_expanded_rules_agree_on_random_word_soups(words: list[str]) -> None:
    text = " ".join(words)
    for name, fast, plain in _pairs():
        assert (fast.search(text) is None) == (plain.search(text) is None), name


@pytest.mark.parametrize(
    ("branch", "want"),
    [
        ("(?:a|b) c", ["a c", "b c"]),
        ("(?:a|b)? c", ["(?:a|b)? c"]),
        ("(?:a(?:x)|b) c", ["(?:a(?:x)|b) c"]),
        ("(?:[ab]|c)d", ["(?:[ab]|c)d"]),
        ("x(?:a|b)", ["x(?:a|b)"]),
    ],
)
def test_distribute_only_plain_leading_word_groups(branch: str, want: list[str]) -> None:
    assert rxtools.distribute(branch) == want


def test_top_level_split_respects_groups_classes_and_escapes() -> None:
    assert rxtools.top_level(r"a|(?:b|c)|[|]|\||[]|]d") == ["a", "(?:b|c)", "[|]", r"\|", "[]|]d"]
