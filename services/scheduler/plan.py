"""Rendering ``otayori schedule plan``: a staff table (Japanese) or JSON lines. Pure."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from .calendar.closures import closed_reason
from .calendar.model import Calendar, Occurrence
from .records import cell

WEEKDAYS_JA = "月火水木金土日"


@dataclass(frozen=True, slots=True)
class PlanRow:
    occurrence: Occurrence
    paused: bool = False
    #: Why the batch's pickup deadline falls on a closed day (staff may extend it), if it does.
    deadline_closed: str | None = None

    @property
    def fires(self) -> bool:
        return not self.occurrence.suppressed and not self.paused


def plan_row(occ: Occurrence, calendar: Calendar, *, paused: bool) -> PlanRow:
    deadline = occ.batch.pickup_deadline if occ.batch else None
    closed = closed_reason(deadline, calendar) if deadline else None
    return PlanRow(occ, paused=paused, deadline_closed=closed)


def ja_date(day: date) -> str:
    return f"{day.isoformat()}({WEEKDAYS_JA[day.weekday()]})"


def row_json(row: PlanRow, *, runtime_state: bool) -> dict[str, Any]:
    occ, batch = row.occurrence, row.occurrence.batch
    return {
        "trigger": occ.trigger,
        "occurrence_id": occ.id,
        "nominal_time": occ.nominal.isoformat(),
        "run_date": occ.run_date.isoformat(),
        "batch_thursday": batch.thursday.isoformat() if batch else None,
        "pickup_start": batch.pickup_start.isoformat() if batch else None,
        "pickup_deadline": batch.pickup_deadline.isoformat() if batch else None,
        "suspended": occ.suppressed,
        "reason": occ.suppressed_by,
        "paused": row.paused,
        "fires": row.fires,
        "holiday": occ.holiday,
        "pickup_deadline_closed": row.deadline_closed,
        "runtime_state": runtime_state,
    }


def json_lines(rows: Iterable[PlanRow], *, runtime_state: bool) -> list[str]:
    return [json.dumps(row_json(r, runtime_state=runtime_state), ensure_ascii=False) for r in rows]


def status_ja(row: PlanRow) -> str:
    occ = row.occurrence
    if occ.suppressed_by is not None:
        text = f"休止（{cell(occ.suppressed_by)}）"
    elif row.paused:
        text = "一時停止中"
    else:
        text = "実行"
    if occ.holiday:
        text += f" ※祝日: {occ.holiday}"
    if row.deadline_closed and occ.suppressed_by is None:
        text += f" ※受取期限が休館日（{row.deadline_closed}）"
    return text


HEADER = ("日付", "時刻", "トリガー", "処理日(木)", "受取開始", "受取期限", "状態")


def _cells(row: PlanRow) -> tuple[str, ...]:
    occ, batch = row.occurrence, row.occurrence.batch
    dates = (
        (ja_date(batch.thursday), ja_date(batch.pickup_start), ja_date(batch.pickup_deadline))
        if batch
        else ("-", "-", "-")
    )
    return (
        ja_date(occ.run_date),
        occ.nominal.strftime("%H:%M"),
        occ.trigger,
        *dates,
        status_ja(row),
    )


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def table(rows: Sequence[PlanRow], notes: Sequence[str]) -> list[str]:
    """The human table, preceded by ``# `` note lines (period, sources, policies)."""
    body = [HEADER, *(_cells(r) for r in rows)]
    widths = [max(_width(line[i]) for line in body) for i in range(len(HEADER) - 1)]
    lines = [f"# {note}" for note in notes]
    for cells in body:
        padded = [_pad(c, w) for c, w in zip(cells, widths, strict=False)]
        lines.append("  ".join([*padded, cells[-1]]).rstrip())
    if not rows:
        lines.append("（この期間の予定はありません）")
    return lines
