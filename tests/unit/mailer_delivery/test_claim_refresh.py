"""When a claim is renewed before SMTP, and how long its ``sent`` write may be retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.mailer.plan.claims import needs_refresh, new_record, sent_write_deadline
from services.mailer.plan.work import prompt_work
from shared.contracts.ils import HoldCancelled

NOW = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)


def record():  # type: ignore[no-untyped-def]
    event = HoldCancelled(
        occurred_at=NOW, patron_id="P1", email="p1@example.jp", hold_id="H-1", title="本"
    )
    work = prompt_work(event, recipient="p1@example.jp", now=NOW)
    return new_record(work, "plib.pref.aomori.lg.jp", NOW)


def test_a_fresh_claim_is_not_renewed() -> None:
    assert not needs_refresh(record(), NOW + timedelta(seconds=30), 120.0)


def test_a_claim_older_than_a_quarter_of_the_lease_is_renewed() -> None:
    assert needs_refresh(record(), NOW + timedelta(seconds=30.5), 120.0)


def test_the_sent_write_is_retried_until_the_claim_lease_ends() -> None:
    assert sent_write_deadline(record(), 120.0) == NOW + timedelta(seconds=120)
