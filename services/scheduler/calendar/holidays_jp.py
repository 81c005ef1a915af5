"""Japanese public holidays from the maintained ``holidays`` package (computed, no I/O)."""

from __future__ import annotations

from datetime import date
from typing import Any

import holidays


class JapaneseHolidays:
    """A ``HolidayLookup``: the Japanese name of a public holiday (振替休日 included)."""

    def __init__(self) -> None:
        self._days: Any = holidays.country_holidays("JP", language="ja")

    def __call__(self, day: date) -> str | None:
        name = self._days.get(day)
        return str(name) if name else None
