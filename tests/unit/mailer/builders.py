"""Events, envelopes and parse-back helpers for the compose tests."""

from __future__ import annotations

import email
import email.policy
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from services.mailer.compose import ComposedMail, Envelope
from services.mailer.compose.dates import JST
from shared.contracts.bounce import BounceDigest, DigestEntry
from shared.contracts.ils import (
    HoldCancelled,
    HoldReady,
    LoanItem,
    LoanOnlineIssued,
    LoanOverdue,
    PatronLoanSuspended,
)
from shared.contracts.schedule import BatchWindow

FIXTURES = Path(__file__).parent / "fixtures"
THURSDAY = date(2026, 12, 3)
BATCH = BatchWindow(
    thursday=THURSDAY, pickup_start=date(2026, 12, 6), pickup_deadline=date(2026, 12, 13)
)
SATURDAY_MORNING = datetime(2026, 12, 5, 9, 0, tzinfo=JST)
RUN_DATE = date(2026, 12, 5)
DOMAIN = "plib.pref.aomori.lg.jp"
PATRON = "A0012345"


def envelope(to: str = "taro@example.jp", **changes: Any) -> Envelope:
    values: dict[str, Any] = {
        "to": to,
        "from_addr": f"online@{DOMAIN}",
        "from_name": "オンライン貸出サービス担当",
        "message_id": f"<otayori.0123456789abcdef0123456789abcdef@{DOMAIN}>",
        "date": SATURDAY_MORNING,
    }
    values.update(changes)
    return Envelope(**values)


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 12, day, hour, 0, tzinfo=JST)


def loan_item(n: int, title: str | None = None, due: date = date(2026, 12, 17)) -> LoanItem:
    return LoanItem(
        loan_id=f"L-{n}", item_id=f"100000{n}", title=title or f"資料タイトル{n}", due_date=due
    )


def online_loan(items: list[LoanItem], **changes: Any) -> LoanOnlineIssued:
    values: dict[str, Any] = {
        "occurred_at": at(3, 10),
        "patron_id": PATRON,
        "email": "taro@example.jp",
        "batch_thursday": THURSDAY,
        "pickup_library_no": 19,
        "items": items,
    }
    values.update(changes)
    return LoanOnlineIssued(**values)


def hold_ready(n: int, deadline: date, **changes: Any) -> HoldReady:
    values: dict[str, Any] = {
        "occurred_at": at(5),
        "patron_id": PATRON,
        "email": "taro@example.jp",
        "hold_id": f"H-{n}",
        "item_id": f"200000{n}",
        "title": f"予約資料{n}",
        "secured_at": at(4, 10),
        "pickup_deadline": deadline,
    }
    values.update(changes)
    return HoldReady(**values)


def hold_cancelled(n: int, **changes: Any) -> HoldCancelled:
    values: dict[str, Any] = {
        "occurred_at": at(5),
        "patron_id": PATRON,
        "email": "taro@example.jp",
        "hold_id": f"H-{n}",
        "title": f"解除資料{n}",
        "pickup_deadline": date(2026, 12, 4),
    }
    values.update(changes)
    return HoldCancelled(**values)


def overdue(n: int, level: int, **changes: Any) -> LoanOverdue:
    values: dict[str, Any] = {
        "occurred_at": at(5),
        "patron_id": PATRON,
        "email": "taro@example.jp",
        "loan_id": f"L-{n}",
        "item_id": f"100000{n}",
        "title": f"延滞資料{n}",
        "due_date": date(2026, 11, 26),
        "reminder_level": level,
    }
    values.update(changes)
    return LoanOverdue(**values)


def suspended(**changes: Any) -> PatronLoanSuspended:
    values: dict[str, Any] = {
        "occurred_at": at(5),
        "patron_id": PATRON,
        "email": "taro@example.jp",
        "reason": "card_expired",
        "card_expired_on": date(2026, 11, 30),
    }
    values.update(changes)
    return PatronLoanSuspended(**values)


def digest_entry(patron_id: str, category: str, first_day: int) -> DigestEntry:
    return DigestEntry.model_validate(
        {
            "patron_id": patron_id,
            "category": category,
            "status": "open",
            "first_seen": at(first_day),
            "last_seen": at(first_day),
            "bounce_count": 2,
        }
    )


def bounce_digest() -> BounceDigest:
    return BounceDigest(
        occurred_at=at(7, 8),
        occurrence_id="weekly-bounce-digest:2026-12-07T08:00:00+09:00",
        week_start=datetime(2026, 11, 30, tzinfo=JST),
        open_by_category={"bad_address": 2, "domain_rejection": 1, "forwarding_failure": 1},
        new_this_week=[digest_entry("A0020001", "domain_rejection", 2)],
        oldest_open=[digest_entry("A0010007", "bad_address", 1)],
        contacted_waiting=3,
    )


def parse(mail: ComposedMail) -> EmailMessage:
    parsed = email.message_from_bytes(mail.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def body_of(mail: ComposedMail) -> str:
    content = parse(mail).get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")
