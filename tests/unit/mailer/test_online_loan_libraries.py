"""One weekly online loan mail for items at several pickup libraries (受取館, Q8/Q9/Q31),
and the loan-suspended wording with and without a staff note.

Every mail is composed to wire bytes and parsed back, as the golden tests do.
"""

from __future__ import annotations

import re
from datetime import datetime

from services.mailer.compose import ComposedMail, compose
from services.mailer.delivery.composer import LibraryComposer
from services.mailer.plan.eligibility import always, never
from services.mailer.plan.grouping import add_event, assign
from services.mailer.plan.model import MailWork, PendingEntry
from services.mailer.plan.work import make_work
from shared.clock import JST
from shared.contracts.base import Event
from shared.contracts.ils import LoanOnlineIssued
from shared.contracts.mail import MailKind
from shared.libraries import library
from tests.unit.mailer.builders import (
    BATCH,
    DOMAIN,
    PATRON,
    RUN_DATE,
    at,
    body_of,
    envelope,
    loan_item,
    online_loan,
    parse,
    suspended,
)

CONTACT = "一般閲覧室カウンター直通 017-729-4300（休館日を除く 9:00～19:00 受付）"
LEFTOVERS = re.compile(r"\{\{|\{%|\}\}|%\}|\bNone\b|Undefined")
HIROSAKI = library(19).name  # 弘前市立弘前図書館
TOWADA = library(30).name
SATURDAY = datetime(2026, 12, 5, 9, tzinfo=JST)


def _compose(
    kind: MailKind, events: list[Event], iso2022jp: frozenset[str] = frozenset()
) -> ComposedMail:
    batch = BATCH if kind == "online_loan" else None
    return compose(
        kind,
        events,
        batch=batch,
        run_date=RUN_DATE,
        envelope=envelope(),
        iso2022jp_domains=iso2022jp,
    )


def _two_libraries(language: str = "ja") -> list[Event]:
    """Hirosaki: items 1 and 3; Towada: item 2 (and item 1 again, which stays at Hirosaki)."""
    first = online_loan(
        [loan_item(1, "津軽のむかし話"), loan_item(3, "青森県の歴史散歩")],
        event_id="event-aaaa-1",
        pickup_library_no=19,
        language=language,
    )
    second = online_loan(
        [loan_item(2, "十和田湖の四季"), loan_item(1, "津軽のむかし話")],
        event_id="event-bbbb-2",
        occurred_at=at(3, 11),
        pickup_library_no=30,
        language=language,
    )
    return [second, first]  # out of order on purpose


def _sections(body: str) -> dict[str, list[str]]:
    """The body's ``■`` sections: heading line -> its lines (blank lines dropped)."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in body.split("\n"):
        if line.startswith("■"):
            current = sections.setdefault(line, [])
        elif line.strip() and not line.startswith("-----"):
            current.append(line)
    return sections


def _items_by_library(lines: list[str], heading: re.Pattern[str]) -> list[tuple[str, list[str]]]:
    """``[(library, ["1. title", ...]), ...]`` from the lines of the items section."""
    groups: list[tuple[str, list[str]]] = []
    for line in lines:
        found = heading.fullmatch(line.strip())
        if found:
            groups.append((found["name"], []))
        elif re.fullmatch(r"\s*\d+\. .+", line):
            assert groups, f"an item before any library heading: {line!r}"
            groups[-1][1].append(line.strip())
    return groups


def test_two_pickup_libraries_get_one_mail_listing_every_item_under_its_library() -> None:
    mail = _compose("online_loan", _two_libraries())
    body = body_of(mail)
    assert mail.subject == "【青森県立図書館】オンライン貸出メール（12月6日(日)から受取開始）"
    assert "今回は受取館が2館に分かれています。" in body
    sections = _sections(body)
    assert sections["■受取館（協力館）：2館"][:2] == [
        f"  ・{HIROSAKI}（2点）",
        f"  ・{TOWADA}（1点）",
    ]
    assert sections["■受取期間"][0] == "  12月6日(日)から12月13日(日)まで"
    heading = re.compile(r"◆受取館：(?P<name>.+)（(?P<count>\d+)点）")
    groups = _items_by_library(sections["■貸出資料（3点）"], heading)
    assert groups == [
        (HIROSAKI, ["1. 津軽のむかし話", "2. 青森県の歴史散歩"]),
        (TOWADA, ["3. 十和田湖の四季"]),
    ]
    assert body.count("津軽のむかし話") == 1  # the repeated loan is listed once
    assert f"{TOWADA}（1点）" in body and f"{HIROSAKI}（2点）" in body
    assert body.count("返却期限日：12月17日(木)") == 3
    assert f"利用者番号：{PATRON}" in body
    assert CONTACT in body
    assert not LEFTOVERS.search(body)
    assert not parse(mail).defects


def test_the_order_of_the_events_given_does_not_change_the_mail() -> None:
    events = _two_libraries()
    assert body_of(_compose("online_loan", events)) == body_of(
        _compose("online_loan", list(reversed(events)))
    )


def test_a_loan_seen_again_at_another_library_keeps_its_first_library() -> None:
    first = online_loan([loan_item(1)], event_id="event-aaaa-1", pickup_library_no=19)
    again = online_loan(
        [loan_item(1)], event_id="event-bbbb-2", occurred_at=at(3, 11), pickup_library_no=30
    )
    body = body_of(_compose("online_loan", [again, first]))
    assert TOWADA not in body  # a library with no item of its own is not listed
    assert "■受取館（協力館）\n  " + HIROSAKI + "\n" in body
    assert "（1点）" in body


def test_one_library_keeps_the_single_library_layout() -> None:
    events: list[Event] = [
        online_loan([loan_item(1)], event_id="event-aaaa-1"),
        online_loan([loan_item(2)], event_id="event-bbbb-2", occurred_at=at(3, 11)),
    ]
    body = body_of(_compose("online_loan", events))
    assert "下記の協力館で、受取期間内にお受け取りください。" in body
    assert f"■受取館（協力館）\n  {HIROSAKI}\n\n■受取期間" in body
    assert "■貸出資料（2点）\n  1. 資料タイトル1\n" in body
    assert "◆" not in body and "館に分かれています" not in body


def test_three_libraries_number_items_continuously() -> None:
    libraries = [1, 59, 1, 17]
    events: list[Event] = [
        online_loan(
            [loan_item(n)],
            event_id=f"event-{n:04d}-x",
            occurred_at=at(3, 9 + n),
            pickup_library_no=library_no,
        )
        for n, library_no in enumerate(libraries, 1)
    ]
    body = body_of(_compose("online_loan", events))
    sections = _sections(body)
    heading = re.compile(r"◆受取館：(?P<name>.+)（(?P<count>\d+)点）")
    groups = _items_by_library(sections["■貸出資料（4点）"], heading)
    assert groups == [
        (library(1).name, ["1. 資料タイトル1", "2. 資料タイトル3"]),
        (library(59).name, ["3. 資料タイトル2"]),
        (library(17).name, ["4. 資料タイトル4"]),
    ]
    assert "■受取館（協力館）：3館" in sections


def test_english_variant_lists_each_library_with_its_items() -> None:
    mail = _compose("online_loan", _two_libraries("en"))
    body = body_of(mail)
    assert mail.subject.startswith("[Aomori Prefectural Library] Online loan")
    assert "This time your items are at 2 different pickup libraries." in body
    assert f"  - {HIROSAKI} (2 items)\n  - {TOWADA} (1 item)\n" in body
    heading = re.compile(r">> Pick up at (?P<name>.+) \((?P<count>\d+)\):")
    items = body.split("* Items loaned (3)\n", 1)[1].split("* When you pick up", 1)[0]
    assert _items_by_library(items.split("\n"), heading) == [
        (HIROSAKI, ["1. 津軽のむかし話", "2. 青森県の歴史散歩"]),
        (TOWADA, ["3. 十和田湖の四季"]),
    ]
    assert "Sun, Dec 6 to Sun, Dec 13" in body
    assert "017-729-4300" in body
    assert not LEFTOVERS.search(body)


def test_two_libraries_still_fit_iso_2022_jp() -> None:
    mail = _compose("online_loan", _two_libraries(), iso2022jp=frozenset({"example.jp"}))
    assert mail.charset == "iso-2022-jp"
    body = body_of(mail)
    assert f"◆受取館：{TOWADA}（1点）" in body
    assert "3. 十和田湖の四季" in body


def test_grouped_events_of_two_libraries_make_one_sendable_mail() -> None:
    """Grouping -> work item (through JSON, as on the bus) -> the sender's composer."""
    first = online_loan([loan_item(1)], event_id="event-aaaa-1", pickup_library_no=19)
    second = online_loan(
        [loan_item(2)], event_id="event-bbbb-2", occurred_at=at(3, 11), pickup_library_no=30
    )
    entry = PendingEntry(kind="online_loan", patron_id=PATRON)
    for event in (first, second):
        entry = add_event(entry, event) or entry
    taken = assign(entry, BATCH.batch_id, always, never).taken
    assert len(taken) == 2
    work = make_work(
        "online_loan",
        taken,
        patron_id=PATRON,
        recipient="taro@example.jp",
        run_id=BATCH.batch_id,
        run_date=RUN_DATE,
        batch=BATCH,
        nominal_time=SATURDAY,
        now=SATURDAY,
    )
    work = MailWork.model_validate_json(work.model_dump_json())
    assert all(isinstance(e, LoanOnlineIssued) for e in work.events)
    composer = LibraryComposer(f"online@{DOMAIN}", "オンライン貸出サービス担当", None, frozenset())
    data = composer.build(work, "taro@example.jp", f"<x@{DOMAIN}>", SATURDAY)
    body = body_of(ComposedMail(data=data, subject="", charset="utf-8"))
    assert f"◆受取館：{HIROSAKI}（1点）\n  1. 資料タイトル1" in body
    assert f"◆受取館：{TOWADA}（1点）\n  2. 資料タイトル2" in body


# --- loan_suspended: the wording promises a reason only when one is given -------------


def test_suspended_for_another_reason_without_detail_promises_no_reason() -> None:
    body = body_of(_compose("loan_suspended", [suspended(reason="other", card_expired_on=None)]))
    assert "次の理由により" not in body
    assert "■保留の理由" not in body and "■図書館からの連絡事項" not in body
    assert body.startswith("青森県立図書館 オンライン貸出サービスです。\n貸出を保留しています。\n")
    assert "保留の理由と必要なお手続きは、下記までお問い合わせください。" in body
    assert CONTACT in body
    assert not LEFTOVERS.search(body)


def test_a_blank_detail_counts_as_no_detail() -> None:
    body = body_of(
        _compose("loan_suspended", [suspended(reason="other", card_expired_on=None, detail=" \n ")])
    )
    assert "次の理由により" not in body
    assert "■保留の理由" not in body


def test_suspended_for_another_reason_gives_the_detail_right_below() -> None:
    detail = "ご登録の住所の確認が必要です。\n窓口でお手続きください。"
    body = body_of(_compose("loan_suspended", [suspended(reason="other", detail=detail)]))
    sections = _sections(body)
    assert "次の理由により、貸出を保留しています。" in body
    assert sections["■保留の理由（図書館からの連絡事項）"] == [
        "  ご登録の住所の確認が必要です。",
        "  窓口でお手続きください。",
    ]
    order = [body.index(part) for part in ("次の理由により", "■保留の理由", "■お手続きについて")]
    assert order == sorted(order)
    assert body.count("ご登録の住所の確認が必要です。") == 1
    assert "■図書館からの連絡事項" not in body
    assert not LEFTOVERS.search(body)


def test_card_expired_detail_stays_under_the_library_note() -> None:
    body = body_of(_compose("loan_suspended", [suspended(detail="窓口でも更新できます。")]))
    assert "有効期限（11月30日(月)）が過ぎているため" in body
    assert _sections(body)["■図書館からの連絡事項"] == ["  窓口でも更新できます。"]
    assert "■保留の理由" not in body and "次の理由により" not in body


def test_english_suspended_wording_with_and_without_detail() -> None:
    bare = body_of(
        _compose("loan_suspended", [suspended(reason="other", card_expired_on=None, language="en")])
    )
    assert "reason below" not in bare
    assert "Your loans are on hold.\n" in bare
    assert "Please contact us to learn the reason and what to do." in bare
    assert "* Reason" not in bare and "* Note from the library" not in bare
    noted = body_of(
        _compose(
            "loan_suspended",
            [suspended(reason="other", detail="Please confirm your address.", language="en")],
        )
    )
    assert "Your loans are on hold for the reason below." in noted
    assert "* Reason (note from the library)\n  Please confirm your address.\n" in noted
    for body in (bare, noted):
        assert "017-729-4300" in body
        assert not LEFTOVERS.search(body)
