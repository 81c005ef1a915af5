"""Golden tests: compose each kind, parse the bytes back, read what the patron reads."""

from __future__ import annotations

import re
from datetime import date

import pytest

from services.mailer.compose import ComposedMail, compose
from services.mailer.errors import ComposeError
from shared.contracts.base import Event
from shared.contracts.mail import MailKind
from tests.unit.mailer.builders import (
    BATCH,
    DOMAIN,
    PATRON,
    RUN_DATE,
    at,
    body_of,
    bounce_digest,
    envelope,
    hold_cancelled,
    hold_ready,
    loan_item,
    online_loan,
    overdue,
    parse,
    suspended,
)

CONTACT = "一般閲覧室カウンター直通 017-729-4300（休館日を除く 9:00～19:00 受付）"
LEFTOVERS = re.compile(r"\{\{|\{%|\}\}|%\}|\bNone\b|Undefined")


def _compose(kind: MailKind, events: list[Event], to: str = "taro@example.jp") -> ComposedMail:
    batch = BATCH if kind == "online_loan" else None
    return compose(kind, events, batch=batch, run_date=RUN_DATE, envelope=envelope(to))


ALL_KINDS: list[tuple[MailKind, list[Event]]] = [
    ("online_loan", [online_loan([loan_item(1), loan_item(2)])]),
    ("hold_ready", [hold_ready(1, date(2026, 12, 12))]),
    ("hold_cancelled", [hold_cancelled(1)]),
    ("overdue", [overdue(1, 1)]),
    ("loan_suspended", [suspended()]),
    ("bounce_digest", [bounce_digest()]),
]


@pytest.mark.parametrize(("kind", "events"), ALL_KINDS, ids=[k for k, _ in ALL_KINDS])
def test_every_kind_parses_back_with_the_library_headers(
    kind: MailKind, events: list[Event]
) -> None:
    mail = _compose(kind, events)
    msg = parse(mail)
    sender = msg["From"].addresses[0]
    assert sender.display_name == "オンライン貸出サービス担当"
    assert sender.domain == DOMAIN
    assert str(msg["Subject"]) == mail.subject
    assert msg["Date"].endswith("+0900")
    assert str(msg["Date"]) == "Sat, 05 Dec 2026 09:00:00 +0900"
    assert msg["Message-ID"] == f"<otayori.0123456789abcdef0123456789abcdef@{DOMAIN}>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "text/plain"
    assert mail.charset == "utf-8" == msg.get_content_charset()
    assert msg["Content-Transfer-Encoding"] == "base64"
    assert not msg.defects


@pytest.mark.parametrize(("kind", "events"), ALL_KINDS, ids=[k for k, _ in ALL_KINDS])
def test_every_kind_is_7bit_with_crlf_lines_and_fully_rendered(
    kind: MailKind, events: list[Event]
) -> None:
    mail = _compose(kind, events)
    assert mail.data.isascii()
    assert b"\n" not in mail.data.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in mail.data.split(b"\r\n"))
    assert re.search(rb"^From: =\?utf-8\?b\?", mail.data, re.MULTILINE)
    assert not LEFTOVERS.search(body_of(mail))
    assert not LEFTOVERS.search(mail.subject)


@pytest.mark.parametrize(("kind", "events"), ALL_KINDS[:5], ids=[k for k, _ in ALL_KINDS[:5]])
def test_patron_mails_carry_the_contact_line_and_never_the_address(
    kind: MailKind, events: list[Event]
) -> None:
    body = body_of(_compose(kind, events, to="secret.taro@example.jp"))
    assert CONTACT in body
    assert "secret.taro" not in body


def test_online_loan_states_dates_library_items_and_rules() -> None:
    items = [
        loan_item(1, "津軽のむかし話", date(2026, 12, 17)),
        loan_item(2, "青森県の歴史散歩", date(2027, 1, 3)),
    ]
    mail = _compose("online_loan", [online_loan(items)])
    body = body_of(mail)
    assert mail.subject == "【青森県立図書館】オンライン貸出メール（12月6日(日)から受取開始）"
    assert "弘前市立弘前図書館" in body  # library no. 19
    assert "12月6日(日)から12月13日(日)まで" in body
    assert "1. 津軽のむかし話" in body
    assert "返却期限日：12月17日(木)" in body
    assert "返却期限日：2027年1月3日(日)" in body  # another year: the year is printed
    assert "利用者カードを必ずお持ちください" in body  # Q19
    assert "携帯電話の画面に表示するか、印刷して" in body  # Q19
    assert "月曜日以降" in body  # Q20
    assert "県立図書館へ返送" in body  # Q21
    assert "協力館のブックポストには返却できません" in body  # Q24
    assert "正面玄関脇、新町の県庁舎北棟西側" in body  # Q24
    assert "3日前から" in body and "最大2回" in body  # Q13/Q22
    assert f"利用者番号：{PATRON}" in body


def test_online_loan_lists_every_item_of_all_events_once_in_a_stable_order() -> None:
    first = online_loan([loan_item(1), loan_item(2)], event_id="event-aaaa-1")
    later = online_loan(
        [loan_item(2), loan_item(3)],
        event_id="event-bbbb-2",
        occurred_at=first.occurred_at.replace(hour=11),
    )
    body = body_of(_compose("online_loan", [later, first]))
    assert "（3点）" in body
    titles = re.findall(r"\d+\. (資料タイトル\d)", body)
    assert titles == ["資料タイトル1", "資料タイトル2", "資料タイトル3"]
    assert body == body_of(_compose("online_loan", [first, later]))


@pytest.mark.parametrize(
    ("field", "value"),
    [("patron_id", "B0000001"), ("batch_thursday", date(2026, 12, 10))],
)
def test_online_loan_events_that_disagree_raise(field: str, value: object) -> None:
    events: list[Event] = [
        online_loan([loan_item(1)]),
        online_loan([loan_item(2)], **{field: value}),
    ]
    with pytest.raises(ComposeError) as caught:
        _compose("online_loan", events)
    assert caught.value.field == field


def test_online_loan_without_a_batch_window_raises() -> None:
    with pytest.raises(ComposeError):
        compose(
            "online_loan",
            [online_loan([loan_item(1)])],
            batch=None,
            run_date=RUN_DATE,
            envelope=envelope(),
        )


def test_events_of_the_wrong_type_raise() -> None:
    with pytest.raises(ComposeError, match="expected HoldReady"):
        _compose("hold_ready", [overdue(1, 1)])
    with pytest.raises(ComposeError, match="no events"):
        _compose("hold_ready", [])


def test_hold_ready_lists_each_title_with_its_deadline() -> None:
    events: list[Event] = [
        hold_ready(1, date(2026, 12, 12)),
        hold_ready(2, date(2026, 12, 10)),
        hold_ready(1, date(2026, 12, 12)),
    ]
    mail = _compose("hold_ready", events)
    body = body_of(mail)
    assert "（受取期限 12月10日(木)）" in mail.subject
    assert "予約資料1\n     受取期限日：12月12日(土)" in body
    assert "予約資料2\n     受取期限日：12月10日(木)" in body
    assert body.count("予約資料1") == 1
    assert "予約は解除され、資料は次にご予約の方へ" in body  # Q12


def test_hold_cancelled_explains_each_reason() -> None:
    events: list[Event] = [
        hold_cancelled(1),
        hold_cancelled(2, reason="patron_request", pickup_deadline=None),
        hold_cancelled(3, reason="staff", pickup_deadline=None),
    ]
    body = body_of(_compose("hold_cancelled", events))
    assert "受取期限日（12月4日(金)）を過ぎたため" in body
    assert "ご依頼により" in body
    assert "図書館の都合により" in body


@pytest.mark.parametrize(
    ("levels", "subject_part", "body_part"),
    [
        ([1], "返却期限を過ぎた資料があります", "お早めにご返却ください"),
        ([1, 2], "再通知", "早急にご返却ください"),
        ([2, 3, 1], "【重要】", "現物で弁償"),
    ],
    ids=["level-1", "level-2", "level-3"],
)
def test_overdue_subject_follows_the_highest_reminder_level(
    levels: list[int], subject_part: str, body_part: str
) -> None:
    events: list[Event] = [overdue(n, level) for n, level in enumerate(levels, 1)]
    mail = _compose("overdue", events)
    body = body_of(mail)
    assert subject_part in mail.subject
    assert body_part in body
    for n in range(1, len(levels) + 1):
        assert f"延滞資料{n}\n     返却期限日：11月26日(木)" in body
    assert "12月5日(土)現在" in body


def test_overdue_levels_have_distinct_subjects_and_bodies() -> None:
    mails = [_compose("overdue", [overdue(1, level)]) for level in (1, 2, 3)]
    assert len({m.subject for m in mails}) == 3
    assert len({body_of(m) for m in mails}) == 3
    assert "まずは県立図書館へご相談ください" not in body_of(mails[0])  # Q25 only at level 3


def test_loan_suspended_explains_the_card_renewal() -> None:
    body = body_of(_compose("loan_suspended", [suspended()]))
    assert "有効期限（11月30日(月)）が過ぎている" in body
    assert "青森県電子申請・届出システム" in body  # Q32
    other = body_of(
        _compose("loan_suspended", [suspended(reason="other", detail="住所の確認が必要です")])
    )
    assert "次の理由により" in other
    assert "  住所の確認が必要です" in other


def test_bounce_digest_counts_by_cause_with_patron_ids_only() -> None:
    mail = _compose("bounce_digest", [bounce_digest()], to=f"staff@{DOMAIN}")
    body = body_of(mail)
    assert "未対応 4件" in mail.subject
    assert "宛先不明：2件" in body
    assert "ドメイン拒否(受信拒否)：1件" in body
    assert "転送エラー：1件" in body
    assert "合計：4件" in body
    assert "連絡済み・回答待ち：3件" in body
    assert "利用者番号 A0020001" in body
    assert "利用者番号 A0010007" in body
    assert "（4日経過）" in body  # first seen Dec 1, run date Dec 5


@pytest.mark.parametrize(("kind", "events"), ALL_KINDS[:5], ids=[k for k, _ in ALL_KINDS[:5]])
def test_english_variants_render(kind: MailKind, events: list[Event]) -> None:
    english = [e.model_copy(update={"language": "en"}) for e in events]
    mail = _compose(kind, english)
    body = body_of(mail)
    assert mail.subject.startswith("[Aomori Prefectural Library]")
    assert "017-729-4300" in body
    assert not LEFTOVERS.search(body)


def test_english_online_loan_dates() -> None:
    events: list[Event] = [online_loan([loan_item(1, due=date(2027, 1, 3))], language="en")]
    body = body_of(_compose("online_loan", events))
    assert "Sun, Dec 6 to Sun, Dec 13" in body
    assert "Due: Sun, Jan 3, 2027" in body


def test_the_latest_event_chooses_the_language() -> None:
    later_ja = hold_ready(2, date(2026, 12, 12), occurred_at=at(5, 10))
    earlier_en = hold_ready(1, date(2026, 12, 12), occurred_at=at(5, 9), language="en")
    assert _compose("hold_ready", [later_ja, earlier_en]).subject.startswith("【青森県立図書館】")
    assert _compose("hold_ready", [earlier_en]).subject.startswith("[Aomori")
