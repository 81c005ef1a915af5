"""SMTP reply verdicts, pacing decisions and ledger claim decisions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.mailer.plan.claims import Done, Later, Take, decide
from services.mailer.plan.pacing import Pacer, enhanced_status, is_throttle, verdict
from services.mailer.plan.timing import RetrySchedule
from shared.clock import JST
from tests.integration.mailer.events import online_loan_work

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=JST)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (250, "sent"),
        (421, "transient"),
        (452, "transient"),
        (0, "transient"),
        (550, "permanent"),
        (554, "permanent"),
    ],
)
def test_reply_verdicts(code: int, expected: str) -> None:
    assert verdict(code) == expected


@pytest.mark.parametrize(
    ("code", "text", "throttle"),
    [
        (421, "Service not available", True),
        (450, "4.7.1 Too many connections", True),
        (452, "4.2.2 Mailbox full", False),
        (550, "5.7.1 Rejected", False),
    ],
)
def test_throttling_answers(code: int, text: str, throttle: bool) -> None:
    assert is_throttle(code, text) is throttle


def test_enhanced_status_is_read_from_the_text() -> None:
    assert enhanced_status("4.7.0 Try again later") == "4.7.0"
    assert enhanced_status("Try again later") is None


def test_pacer_spaces_mails_at_the_configured_rate() -> None:
    pacer = Pacer(rate=10)
    waits = [pacer.reserve(100.0) for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.1, 0.2])


def test_pacer_slows_down_when_throttled_and_recovers_on_success() -> None:
    pacer = Pacer(rate=10)
    pacer.throttled()
    assert pacer.interval == pytest.approx(0.5)
    pacer.throttled()
    assert pacer.interval == pytest.approx(1.0)
    for _ in range(100):
        pacer.succeeded()
    assert pacer.interval == pytest.approx(0.1)


def test_unpaced_group_never_waits_until_throttled() -> None:
    pacer = Pacer(rate=0)
    assert pacer.reserve(5.0) == 0.0
    pacer.throttled()
    assert pacer.reserve(5.0) == 0.0 and pacer.reserve(5.0) == pytest.approx(0.5)


def _work():  # type: ignore[no-untyped-def]
    return online_loan_work("P1", "L1", "p1@example.jp")


def _decide(record, now=NOW):  # type: ignore[no-untyped-def]
    return decide(
        _work(),
        record,
        7 if record else None,
        now=now,
        lease=120,
        schedule=RetrySchedule(),
        domain="plib.pref.aomori.lg.jp",
    )


def test_a_new_mail_is_claimed_by_create() -> None:
    decision = _decide(None)
    assert isinstance(decision, Take) and decision.revision is None
    assert decision.record.state == "sending" and decision.record.attempts == 1


def test_a_finished_mail_is_never_sent_again() -> None:
    claimed = _decide(None)
    assert isinstance(claimed, Take)
    for state in ("sent", "failed", "suppressed", "expired"):
        record = claimed.record.model_copy(update={"state": state})
        assert isinstance(_decide(record), Done)


def test_a_fresh_claim_of_another_sender_is_respected_and_a_stale_one_taken_over() -> None:
    claimed = _decide(None)
    assert isinstance(claimed, Take)
    later = _decide(claimed.record, NOW + timedelta(seconds=30))
    assert isinstance(later, Later) and later.delay == pytest.approx(90.5)
    stale = _decide(claimed.record, NOW + timedelta(seconds=121))
    assert isinstance(stale, Take) and stale.revision == 7 and stale.record.attempts == 2


def test_a_deferred_mail_waits_for_its_retry_time() -> None:
    claimed = _decide(None)
    assert isinstance(claimed, Take)
    deferred = claimed.record.model_copy(update={"state": "pending"})
    assert isinstance(_decide(deferred, NOW + timedelta(seconds=10)), Later)
    assert isinstance(_decide(deferred, NOW + timedelta(seconds=301)), Take)
