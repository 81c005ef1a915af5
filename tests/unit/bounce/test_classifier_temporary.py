"""A final failure under a class 4 status whose cause only the 4.x.x code names is
transient: the receiver was only temporarily unable (docs/bounce-rules.md, "Delay
warnings"); wording that names a lasting cause keeps it."""

from __future__ import annotations

import pytest

from services.bounce.classifier import Category, RecipientResult, classify
from tests.unit.bounce.dsn import dsn

P = "taro@example.jp"


def _final(status: str, diagnostic: str) -> RecipientResult:
    res = classify(dsn(P, status, diagnostic, action="failed"))
    assert res.is_bounce and len(res.recipients) == 1, res
    return res.recipients[0]


@pytest.mark.parametrize(
    ("status", "diagnostic", "rule"),
    [
        ("4.2.1", "450 4.2.1 Mailbox unavailable, try again later", "suspend+temporary"),
        ("4.2.1", "450 4.2.1 Mailbox unavailable", "suspend+temporary"),
        (
            "4.3.2",
            "421 4.3.2 Service not available, closing transmission channel",
            "notaccept+temporary",
        ),
        ("4.0.0", "450 4.0.0 Requested mail action not taken: mailbox unavailable", ""),
    ],
)
def test_a_final_failure_whose_cause_only_a_4xx_code_names_is_transient(
    status: str, diagnostic: str, rule: str
) -> None:
    r = _final(status, diagnostic)
    assert r.category is Category.TRANSIENT, (r.evidence.rule, r.reason)
    assert r.evidence.action == "failed"
    if rule:
        assert r.evidence.rule == rule
        assert r.evidence.underlying_category == Category.BAD_ADDRESS.value
        assert r.reason.startswith("temporary (4.x.x) status")


@pytest.mark.parametrize(
    ("status", "diagnostic", "category"),
    [
        ("4.1.1", f"450 4.1.1 <{P}>: Recipient address rejected: User unknown", "bad_address"),
        ("4.2.2", "452 4.2.2 Mailbox full", "mailbox_full"),  # RFC 3463: X.2.2 is class 4
        ("4.2.2", "", "mailbox_full"),
        ("5.0.0", "550 5.0.0 Requested action not taken: mailbox unavailable", "bad_address"),
    ],
)
def test_wording_that_names_the_cause_keeps_it(status: str, diagnostic: str, category: str) -> None:
    r = _final(status, diagnostic)
    assert r.category.value == category, (r.evidence.rule, r.reason)
    assert not r.evidence.rule.endswith("+temporary")
