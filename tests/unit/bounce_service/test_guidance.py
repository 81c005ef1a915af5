"""Every category carries the Japanese guidance staff read on the phone."""

from __future__ import annotations

from typing import get_args

import pytest

from services.bounce.guidance import all_guidance, guidance_for
from shared.contracts.bounce import BounceCategory

CATEGORIES = get_args(BounceCategory)


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_has_japanese_guidance(category: BounceCategory) -> None:
    guide = guidance_for(category)
    assert guide.title and guide.script
    assert any("\u3040" <= ch <= "\u30ff" for ch in guide.script), "Japanese text expected"


def test_domain_rejection_guidance_names_the_library_domain_and_the_setting() -> None:
    script = guidance_for("domain_rejection").script
    assert "@plib.pref.aomori.lg.jp" in script and "ドメイン指定受信" in script


@pytest.mark.parametrize(
    ("category", "phrase"),
    [("mailbox_full", "空き容量"), ("forwarding_failure", "転送"), ("bad_address", "登録し直")],
)
def test_the_four_causes_tell_the_patron_what_to_do(category: BounceCategory, phrase: str) -> None:
    assert phrase in guidance_for(category).script


def test_guidance_covers_exactly_the_contract_categories() -> None:
    assert sorted(g.category for g in all_guidance()) == sorted(CATEGORIES)
