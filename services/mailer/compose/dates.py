"""Dates as the mails print them (pure helpers).

Japanese style is ``12月6日(日)``: month, day and the weekday kanji in half-width
parentheses. The year is printed only when it differs from the mail's own year
(``2027年1月3日(日)`` in a mail dated December 2026), as a person writing the mail would.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")

_WEEKDAY_KANJI = ("月", "火", "水", "木", "金", "土", "日")
_WEEKDAY_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def weekday_kanji(day: date) -> str:
    """The weekday as one kanji: 月 火 水 木 金 土 日."""
    return _WEEKDAY_KANJI[day.weekday()]


def ja_date(day: date, ref_year: int | None = None) -> str:
    """``12月6日(日)``; with ``2027年`` in front when the year differs from ``ref_year``."""
    return _ja_date(day, ref_year)


@lru_cache(maxsize=1024)
def _ja_date(day: date, ref_year: int | None) -> str:
    """``ja_date``, cached: the mails of a run print the same few dates."""
    text = f"{day.month}月{day.day}日({weekday_kanji(day)})"
    if ref_year is not None and day.year != ref_year:
        return f"{day.year}年{text}"
    return text


def en_date(day: date, ref_year: int | None = None) -> str:
    """``Sun, Dec 6``; with ``, 2027`` appended when the year differs from ``ref_year``."""
    text = f"{_WEEKDAY_EN[day.weekday()]}, {_MONTH_EN[day.month - 1]} {day.day}"
    if ref_year is not None and day.year != ref_year:
        return f"{text}, {day.year}"
    return text


def jst_date(moment: datetime) -> date:
    """The calendar date of an aware datetime in Asia/Tokyo."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(JST).date()
