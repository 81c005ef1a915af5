"""Synthetic-but-realistic bounces of the common MTAs, providers, Japanese ISPs and
carriers, ESPs and gateways (see realworld_*.py):
the rules must read each one as its wording and status mean, without per-sample rules."""

from __future__ import annotations

import pytest

from services.bounce.classifier import Category, classify
from tests.unit.bounce import realworld_dsn, realworld_intl, realworld_jp, realworld_text

CASES = realworld_dsn.ALL + realworld_text.ALL + realworld_jp.ALL + realworld_intl.ALL


def test_case_ids_are_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("raw", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_realistic_notice_gets_the_expected_category(raw: bytes, want: Category) -> None:
    res = classify(raw)
    assert res.readable
    if want is Category.NOT_A_BOUNCE:
        assert not res.is_bounce
        assert all(r.category is want for r in res.recipients)
        return
    assert res.is_bounce
    assert [r.category for r in res.recipients] == [want]
