"""Every mail's template text keeps its lines within 78 columns (RFC 5322's advice).

Phones that do not re-wrap plain text break longer lines unevenly. Columns are counted
as a Japanese terminal or phone does: East Asian wide, fullwidth and ambiguous
characters (■, ◆, ※) take two. The events use short titles and notes, so every line
measured here is the templates' own layout; data such as a long book title may still
exceed the limit in a real mail.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Literal

import pytest

from services.mailer.compose import compose
from services.mailer.compose.context import EVENT_TYPES
from services.mailer.compose.preview import batch_window_for
from shared.contracts.base import Event
from shared.contracts.ils import LoanOnlineIssued
from shared.contracts.mail import MailKind
from tests.unit.mailer.builders import (
    FIXTURES,
    RUN_DATE,
    body_of,
    bounce_digest,
    envelope,
    hold_cancelled,
    hold_ready,
    loan_item,
    online_loan,
    overdue,
    suspended,
)

LIMIT = 78
Language = Literal["ja", "en"]

FIXTURE_FILES: dict[MailKind, str] = {
    "online_loan": "ils.loan.online_issued.json",
    "hold_ready": "ils.hold.ready.json",
    "hold_cancelled": "ils.hold.cancelled.json",
    "overdue": "ils.loan.overdue.json",
    "loan_suspended": "ils.patron.loan_suspended.json",
    "bounce_digest": "bounce.digest.json",
}


def columns(line: str) -> int:
    """Display width: wide (W), fullwidth (F) and ambiguous (A) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WFA" else 1 for c in line)


def _fixture(kind: MailKind) -> list[Event]:
    text = (FIXTURES / FIXTURE_FILES[kind]).read_text("utf-8")
    return [EVENT_TYPES[kind].model_validate_json(text)]


def _variants() -> dict[str, tuple[MailKind, list[Event]]]:
    """Each branch of each template, with short data."""
    two_libraries: list[Event] = [
        online_loan([loan_item(1, "本1"), loan_item(2, "本2")]),
        online_loan([loan_item(3, "本3")], pickup_library_no=30),
    ]
    return {
        **{f"fixture-{kind}": (kind, _fixture(kind)) for kind in FIXTURE_FILES},
        "online_loan-two-libraries": ("online_loan", two_libraries),
        "hold_ready-two": (
            "hold_ready",
            [hold_ready(1, date(2026, 12, 12)), hold_ready(2, date(2026, 12, 10))],
        ),
        "hold_cancelled-every-reason": (
            "hold_cancelled",
            [
                hold_cancelled(1),
                hold_cancelled(2, pickup_deadline=None),
                hold_cancelled(3, reason="patron_request", pickup_deadline=None),
                hold_cancelled(4, reason="staff", pickup_deadline=None),
            ],
        ),
        **{f"overdue-level-{n}": ("overdue", [overdue(1, n)]) for n in (1, 2, 3)},
        "overdue-levels-1-3": ("overdue", [overdue(1, 1), overdue(2, 3)]),
        "overdue-levels-1-2-3": ("overdue", [overdue(1, 1), overdue(2, 2), overdue(3, 3)]),
        "loan_suspended-card-expired": ("loan_suspended", [suspended()]),
        "loan_suspended-card-expired-no-date": (
            "loan_suspended",
            [suspended(card_expired_on=None)],
        ),
        "loan_suspended-card-expired-note": ("loan_suspended", [suspended(detail="連絡事項")]),
        "loan_suspended-other-note": (
            "loan_suspended",
            [suspended(reason="other", card_expired_on=None, detail="連絡事項")],
        ),
        "loan_suspended-other": (
            "loan_suspended",
            [suspended(reason="other", card_expired_on=None)],
        ),
        "bounce_digest": ("bounce_digest", [bounce_digest()]),
    }


def _cases() -> list[tuple[str, MailKind, list[Event], Language]]:
    cases: list[tuple[str, MailKind, list[Event], Language]] = []
    for name, (kind, events) in _variants().items():
        cases.append((f"{name}-ja", kind, events, "ja"))
        if kind != "bounce_digest":  # the staff digest is Japanese only
            english = [e.model_copy(update={"language": "en"}) for e in events]
            cases.append((f"{name}-en", kind, english, "en"))
    return cases


CASES = _cases()


def _body(kind: MailKind, events: list[Event]) -> str:
    batch = None
    if kind == "online_loan":
        first = events[0]
        assert isinstance(first, LoanOnlineIssued)
        batch = batch_window_for(first.batch_thursday)
    mail = compose(kind, events, batch=batch, run_date=RUN_DATE, envelope=envelope())
    return body_of(mail)


@pytest.mark.parametrize(
    ("kind", "events", "language"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_body_line_fits_in_78_columns(
    kind: MailKind, events: list[Event], language: Language
) -> None:
    body = _body(kind, events)
    if language == "en":
        assert "This is the Online Lending Service" in body
    too_wide = [(columns(line), line) for line in body.splitlines() if columns(line) > LIMIT]
    assert too_wide == []


def test_columns_count_wide_characters_twice() -> None:
    assert columns("abc") == 3
    assert columns("図書館") == 6
    assert columns("（９：００）") == 12
    assert columns("■※") == 4
