"""Japanese (and English) date style in mails."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.mailer.compose import en_date, ja_date, weekday_kanji
from services.mailer.compose.dates import jst_date
from services.mailer.compose.preview import batch_window_for


@pytest.mark.parametrize(
    ("day", "ref_year", "expected"),
    [
        (date(2026, 12, 6), 2026, "12月6日(日)"),
        (date(2026, 12, 13), 2026, "12月13日(日)"),
        (date(2026, 12, 3), None, "12月3日(木)"),
        (date(2027, 1, 3), 2026, "2027年1月3日(日)"),
        (date(2026, 12, 28), 2027, "2026年12月28日(月)"),
    ],
)
def test_japanese_dates(day: date, ref_year: int | None, expected: str) -> None:
    assert ja_date(day, ref_year) == expected


def test_weekday_kanji_for_a_whole_week() -> None:
    monday = date(2026, 11, 30)
    week = [weekday_kanji(monday + timedelta(days=n)) for n in range(7)]
    assert week == ["月", "火", "水", "木", "金", "土", "日"]


def test_english_dates() -> None:
    assert en_date(date(2026, 12, 6), 2026) == "Sun, Dec 6"
    assert en_date(date(2027, 1, 3), 2026) == "Sun, Jan 3, 2027"


def test_jst_date_of_a_utc_evening_is_the_next_day() -> None:
    assert jst_date(datetime(2026, 12, 5, 16, 0, tzinfo=UTC)) == date(2026, 12, 6)
    with pytest.raises(ValueError):
        jst_date(datetime(2026, 12, 5, 16, 0))


def test_preview_batch_window_of_thursday_2026_12_03() -> None:
    window = batch_window_for(date(2026, 12, 3))
    assert ja_date(window.pickup_start, 2026) == "12月6日(日)"
    assert ja_date(window.pickup_deadline, 2026) == "12月13日(日)"
