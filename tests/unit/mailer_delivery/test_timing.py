"""Retry schedule and usefulness deadlines."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from services.mailer.plan.timing import RetrySchedule, end_of_day, expires_at
from shared.clock import JST
from shared.contracts.schedule import BatchWindow
from tests.integration.mailer.events import hold_ready, online_loan, overdue

BATCH = BatchWindow(
    thursday=date(2026, 12, 3), pickup_start=date(2026, 12, 6), pickup_deadline=date(2026, 12, 13)
)
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=JST)


@pytest.mark.parametrize(
    ("attempt", "seconds"),
    [(1, 300.0), (2, 390.0), (3, 507.0), (30, 86400.0), (10_000, 86400.0)],
)
def test_default_retry_delay_grows_by_1_3_from_5_minutes_up_to_a_day(
    attempt: int, seconds: float
) -> None:
    assert RetrySchedule().delay(attempt) == pytest.approx(seconds)


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError):
        RetrySchedule().delay(0)


def test_a_retry_past_the_mails_usefulness_is_given_up() -> None:
    schedule = RetrySchedule()
    assert schedule.next_attempt(1, NOW, NOW + timedelta(minutes=10)) == NOW + timedelta(minutes=5)
    assert schedule.next_attempt(1, NOW, NOW + timedelta(minutes=4)) is None


def test_online_loan_mail_is_useful_until_the_end_of_the_pickup_deadline() -> None:
    at = expires_at("online_loan", [online_loan("P1", "L1")], batch=BATCH, nominal_time=NOW)
    assert at == datetime(2026, 12, 14, 0, 0, tzinfo=JST)


def test_online_loan_mail_needs_its_batch() -> None:
    with pytest.raises(ValueError):
        expires_at("online_loan", [online_loan("P1", "L1")], batch=None, nominal_time=NOW)


def test_hold_ready_mail_is_useful_until_its_latest_pickup_deadline() -> None:
    secured = datetime(2026, 12, 4, 10, 0, tzinfo=JST)
    events = [
        hold_ready("P1", "H1", secured, date(2026, 12, 10)),
        hold_ready("P1", "H2", secured, date(2026, 12, 12)),
    ]
    at = expires_at("hold_ready", events, batch=None, nominal_time=NOW)
    assert at == end_of_day(date(2026, 12, 12))


def test_overdue_reminder_is_useful_until_the_next_run() -> None:
    at = expires_at("overdue", [overdue("P1", "L1")], batch=None, nominal_time=NOW)
    assert at == NOW + timedelta(days=1)


def test_an_overdue_run_made_late_is_useful_a_day_from_when_it_is_made() -> None:
    # A missed run fired two days later by staff: a day from now, not from its nominal time.
    later = NOW + timedelta(days=2)
    events = [overdue("P1", "L1")]
    at = expires_at("overdue", events, batch=None, nominal_time=NOW, now=later)
    assert at == later + timedelta(days=1)
    on_time = expires_at("overdue", events, batch=None, nominal_time=NOW, now=NOW)
    assert on_time == NOW + timedelta(days=1)
