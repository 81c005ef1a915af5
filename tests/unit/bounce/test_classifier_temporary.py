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


GENERIC_550 = "550 Requested action not taken: mailbox unavailable"


@pytest.mark.parametrize(
    ("status", "diagnostic", "category"),
    [
        ("4.0.0", GENERIC_550, "bad_address"),  # the reviewer's case
        ("4.4.0", GENERIC_550, "bad_address"),
        ("4.2.1", GENERIC_550, "bad_address"),  # suspend: a 5xx reply, not a retry
        ("4.0.0", "550-Requested action not taken: mailbox unavailable", "bad_address"),
        ("4.0.0", "451 5.1.1 Requested action not taken: mailbox unavailable", "bad_address"),
        ("4.3.0", "550 Mailbox unavailable", "domain_rejection"),
    ],
)
def test_a_permanent_code_in_the_diagnostic_keeps_the_cause_under_a_4xx_status(
    status: str, diagnostic: str, category: str
) -> None:
    """Only when every code seen (status and reply) is temporary is the cause dropped."""
    r = _final(status, diagnostic)
    assert r.category.value == category, (r.evidence.rule, r.reason)
    assert not r.evidence.rule.endswith("+temporary")


def test_a_permanent_code_in_a_dsn_diagnostic_with_its_type_keeps_the_cause() -> None:
    raw = dsn(P, "4.0.0", GENERIC_550, action="failed").replace(
        b"Diagnostic-Code: smtp; 550", b"Diagnostic-Code: SMTP;550"
    )
    r = classify(raw).recipients[0]
    assert r.category is Category.BAD_ADDRESS, (r.evidence.rule, r.reason)


@pytest.mark.parametrize(
    "diagnostic",
    [
        "450 Requested action not taken: mailbox unavailable",
        "421 4.2.1 mailbox unavailable; host mx5.example.jp [192.0.2.55]",
        "450 mailbox unavailable (queue id 550A1B)",
    ],
)
def test_only_temporary_codes_still_give_a_transient_verdict(diagnostic: str) -> None:
    r = _final("4.2.1", diagnostic)
    assert r.category is Category.TRANSIENT, (r.evidence.rule, r.reason)
