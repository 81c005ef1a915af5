"""An overdue mail listing loans at different reminder levels (督促 1-3), and the English
online loan mail naming the 「オンライン貸出メール」 (Q19).

Found by a review: the overdue mail applied the highest level's wording to every item,
so a loan overdue for the first time was listed under 「これまでにもお知らせしております
が…至急…弁償」. The patron still gets one mail per run; its subject follows the highest
level, and each level's loans are listed under their own wording, highest first.
"""

from __future__ import annotations

import re

from services.mailer.compose import ComposedMail, compose
from shared.contracts.base import Event
from shared.contracts.ils import LoanOverdue
from shared.contracts.mail import MailKind
from tests.unit.mailer.builders import (
    BATCH,
    RUN_DATE,
    body_of,
    envelope,
    loan_item,
    online_loan,
)
from tests.unit.mailer.builders import overdue as _overdue

ITEM = re.compile(r"^  (\d+)\. (\S+)$", re.MULTILINE)


def _compose(kind: MailKind, events: list[Event]) -> ComposedMail:
    batch = BATCH if kind == "online_loan" else None
    return compose(kind, events, batch=batch, run_date=RUN_DATE, envelope=envelope())


def _sections(body: str, mark: str) -> dict[str, str]:
    """Each section of the body by its heading line (``■…`` or ``* …``)."""
    parts = re.split(rf"^({re.escape(mark)}.*)$", body, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def overdue(n: int, level: int, **changes: object) -> LoanOverdue:
    """A reminder whose event id orders it by ``n`` (events of one instant sort by id)."""
    return _overdue(n, level, **{"event_id": f"event-{n:04d}", **changes})


def _english(events: list[LoanOverdue]) -> list[Event]:
    return [e.model_copy(update={"language": "en"}) for e in events]


def test_a_first_reminder_is_not_listed_under_the_final_wording() -> None:
    mail = _compose("overdue", [overdue(1, 3), overdue(2, 1)])
    body = body_of(mail)
    assert "【重要】" in mail.subject  # the most urgent thing to act on
    opening = body.split("■", 1)[0]
    assert "お知らせしております" not in opening and "以前にも" not in opening
    assert "12月5日(土)現在" in opening
    sections = _sections(body, "■")
    urgent = sections["■【至急】これまでに何度かお知らせしている資料（1点）"]
    first = sections["■返却期限を過ぎた資料（1点）"]
    assert ITEM.findall(urgent) == [("1", "延滞資料1")]
    assert "至急ご返却いただくか、県立図書館までご連絡ください" in urgent
    assert "まずは県立図書館へご相談ください" in urgent and "現物で弁償" in urgent  # Q25
    assert ITEM.findall(first) == [("2", "延滞資料2")]
    assert "お早めにご返却ください" in first
    assert "至急" not in first and "弁償" not in first
    assert list(sections).index("■返却場所") == 2  # the return places still follow


def test_three_levels_are_grouped_highest_first_and_numbered_continuously() -> None:
    events: list[Event] = [overdue(1, 1), overdue(2, 2), overdue(3, 3), overdue(4, 1)]
    body = body_of(_compose("overdue", events))
    headings = [h for h in _sections(body, "■") if h != "■返却場所"]
    assert headings == [
        "■【至急】これまでに何度かお知らせしている資料（1点）",
        "■以前にもお知らせした資料（1点）",
        "■返却期限を過ぎた資料（2点）",
    ]
    assert ITEM.findall(body) == [
        ("1", "延滞資料3"),
        ("2", "延滞資料2"),
        ("3", "延滞資料1"),
        ("4", "延滞資料4"),
    ]
    assert "下記の資料（4点）" in body
    assert "早急にご返却ください" in _sections(body, "■")[headings[1]]


def test_a_loan_reminded_at_two_levels_in_one_run_is_listed_once_at_the_higher() -> None:
    again = overdue(1, 2, event_id="later-reminder", occurred_at=overdue(1, 1).occurred_at)
    body = body_of(_compose("overdue", [overdue(1, 1), again, overdue(2, 1)]))
    sections = _sections(body, "■")
    assert ITEM.findall(sections["■以前にもお知らせした資料（1点）"]) == [("1", "延滞資料1")]
    assert ITEM.findall(sections["■返却期限を過ぎた資料（1点）"]) == [("2", "延滞資料2")]


def test_a_single_level_mail_keeps_its_plain_layout() -> None:
    body = body_of(_compose("overdue", [overdue(1, 2), overdue(2, 2)]))
    assert body.startswith(
        "青森県立図書館 オンライン貸出サービスです。\n"
        "以前にもお知らせしましたが、下記の資料の返却が\n"
        "12月5日(土)現在、まだ確認できていません。\n"
    )
    assert "■返却期限を過ぎている資料（2点）\n  1. 延滞資料1\n" in body
    assert "資料によってご案内が異なります" not in body


def test_english_mixed_levels_have_their_own_wording() -> None:
    mail = _compose("overdue", _english([overdue(1, 1), overdue(2, 3), overdue(3, 3)]))
    body = body_of(mail)
    assert "IMPORTANT" in mail.subject
    opening = body.split("\n* ", 1)[0]
    assert "written before" not in opening and "wrote before" not in opening
    sections = _sections(body, "* ")
    urgent = sections["* URGENT: items we have reminded you of several times (2)"]
    first = sections["* Items past their due date (1)"]
    assert ITEM.findall(urgent) == [("1", "延滞資料2"), ("2", "延滞資料3")]
    assert "return them at once or contact the library" in urgent
    assert "replaced with an identical copy" in urgent.replace("\n  ", " ")  # Q25
    assert ITEM.findall(first) == [("3", "延滞資料1")]
    assert "Please return it soon." in first
    assert "at once" not in first and "replaced" not in first


def test_english_online_loan_names_the_japanese_mail_for_the_counter() -> None:
    """Q19: a cooperating library accepts the 「オンライン貸出メール」 shown on a phone."""
    event = online_loan([loan_item(1)], language="en")
    mail = _compose("online_loan", [event])
    assert "オンライン貸出メール" in mail.subject
    pickup = _sections(body_of(mail), "* ")["* When you pick up"]
    assert "「オンライン貸出メール」" in pickup
    assert "phone" in pickup and "printed" in pickup
