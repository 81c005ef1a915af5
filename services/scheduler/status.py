"""``otayori schedule status``: the scheduler's runtime state as stored in NATS KV.

Per trigger its ``TriggerState``, its pause and its next fire; who holds the leader lease;
the runtime closures. A record that cannot be read is reported (key, revision, what to do),
never its value. ``read_status`` is the adapter; the renderers below it are pure.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from nats.js import JetStreamContext

from shared.runtime.logging import mask_url
from shared.settings import load_settings

from .bus import ScheduleBus
from .calendar import Calendar, TriggerSpec, occurrences
from .commands import (
    BUS_ERRORS,
    cli_connection,
    closure_removal,
    fail,
    file_calendar,
    nats_failure,
    service_clock,
)
from .errors import SchedulerError, UnreadableRecord
from .plan import ja_date
from .records import LeaseRecord, PauseRecord, RuntimeClosure, TriggerState, cell
from .settings import SchedulerSettings
from .store import ClosureStore, StateStore, leader

#: How far ahead the next fire is looked for (past closures and suspended weeks).
HORIZON = timedelta(days=60)
#: What to do about an unreadable ``trigger.<name>`` (the engine rebuilds it).
STATE_HINT = "the leader rebuilds it at its next tick, handled through then (check plan)"

OUTCOMES_JA = {
    "init": "開始",
    "fired": "実行",
    "missed": "未実行（猶予切れ）",
    "suspended": "休止",
    "skipped": "スキップ",
}

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Read(Generic[T]):
    """A stored record: its value, or why it cannot be read, or neither (absent)."""

    value: T | None = None
    unreadable: UnreadableRecord | None = None


@dataclass(frozen=True, slots=True)
class TriggerStatus:
    spec: TriggerSpec
    state: Read[TriggerState]
    pause: Read[PauseRecord]
    #: None while paused (a paused occurrence is skipped, whenever resumed) or when there
    #: is none within ``HORIZON``.
    next_fire: datetime | None

    @property
    def paused(self) -> bool:
        return counts_as_paused(self.pause)


@dataclass(frozen=True, slots=True)
class Status:
    now: datetime
    calendar: Calendar
    triggers: tuple[TriggerStatus, ...]
    leader: Read[tuple[LeaseRecord, int]]
    closures: tuple[RuntimeClosure, ...]
    unreadable_closures: tuple[UnreadableRecord, ...]


def counts_as_paused(pause: Read[PauseRecord]) -> bool:
    """As the engine sees it: an unreadable pause counts as a pause."""
    return pause.value is not None or pause.unreadable is not None


async def _read(found: Awaitable[T | None]) -> Read[T]:
    try:
        return Read(value=await found)
    except UnreadableRecord as exc:
        return Read(unreadable=exc)


def next_fire(spec: TriggerSpec, now: datetime, cal: Calendar) -> datetime | None:
    """The first nominal time after ``now`` on which ``spec`` is not suspended or skipped."""
    tick = timedelta(microseconds=1)
    upcoming = occurrences(now + tick, now + HORIZON, cal, (spec,))
    return next((o.nominal for o in upcoming if not o.suppressed), None)


async def read_status(js: JetStreamContext, cal: Calendar, now: datetime) -> Status:
    """Everything ``status`` shows; the next fires apply the readable runtime closures."""
    closures, unreadable = await (await ClosureStore.open(js)).scan()
    cal = cal.with_closures(tuple(c.closure() for c in closures))
    # A Saturday mail follows what its batch's cutoff did, as the engine decides.
    cal = await ScheduleBus(js).with_cutoff_records(cal, occurrences(now, now + HORIZON, cal))
    store = await StateStore.open(js)
    triggers: list[TriggerStatus] = []
    for spec in cal.triggers:
        state = await _read(_state(store, spec.name))
        pause = await _read(store.paused(spec.name))
        upcoming = None if counts_as_paused(pause) else next_fire(spec, now, cal)
        triggers.append(TriggerStatus(spec, state, pause, upcoming))
    lease = await _read(leader(js))
    return Status(now, cal, tuple(triggers), lease, tuple(closures), tuple(unreadable))


async def _state(store: StateStore, trigger: str) -> TriggerState | None:
    found = await store.get(trigger)
    return found[0] if found else None


async def status(args: argparse.Namespace) -> int:
    settings = load_settings(SchedulerSettings)
    try:
        cal = file_calendar(settings)
        now = service_clock(settings).now()
        async with cli_connection(settings) as nc:
            found = await read_status(nc.jetstream(), cal, now)
    except SchedulerError as exc:
        return fail(str(exc))
    except BUS_ERRORS as exc:
        return nats_failure(settings, exc)
    lines = json_lines(found) if args.json else table(found, mask_url(settings.nats_url))
    print("\n".join(lines))
    return 0


# --- JSON lines ---------------------------------------------------------------------------


def _iso(value: datetime | None, cal: Calendar) -> str | None:
    return value.astimezone(cal.tz).isoformat() if value is not None else None


def _problem(exc: UnreadableRecord | None, hint: str) -> dict[str, Any] | None:
    if exc is None:
        return None
    return {"key": exc.key, "revision": exc.revision, "detail": exc.detail, "hint": hint}


def trigger_json(t: TriggerStatus, status: Status) -> dict[str, Any]:
    cal, state, pause = status.calendar, t.state.value, t.pause.value
    kind = "ok" if state else "unreadable" if t.state.unreadable else "not_initialised"
    return {
        "trigger": t.spec.name,
        "state": kind,
        "handled_through": _iso(state.handled_through, cal) if state else None,
        "last_occurrence": state.last_occurrence if state else None,
        "last_outcome": state.last_outcome if state else None,
        "by": state.by if state else None,
        "lease_revision": state.lease_revision if state else None,
        "updated_at": _iso(state.updated_at, cal) if state else None,
        "unreadable": _problem(t.state.unreadable, STATE_HINT),
        "paused": t.paused,
        "paused_at": _iso(pause.paused_at, cal) if pause else None,
        "paused_by": pause.by if pause else None,
        "pause_note": pause.note if pause else None,
        "pause_unreadable": _problem(t.pause.unreadable, _resume(t)),
        "next_fire": _iso(t.next_fire, cal),
        "closures_complete": not status.unreadable_closures,
    }


def _resume(t: TriggerStatus) -> str:
    return f"counts as paused; otayori schedule resume {t.spec.name} removes it"


def leader_json(status: Status) -> dict[str, Any]:
    holder = status.leader.value
    return {
        "leader": holder[0].holder if holder else None,
        "since": _iso(holder[0].acquired_at, status.calendar) if holder else None,
        "revision": holder[1] if holder else None,
        "unreadable": _problem(status.leader.unreadable, "expires 10 s after its last write"),
    }


def closure_json(c: RuntimeClosure, cal: Calendar) -> dict[str, Any]:
    return {
        "closure": c.key,
        "from": c.start.isoformat(),
        "to": c.end.isoformat(),
        "reason": c.reason,
        "by": c.by,
        "added_at": _iso(c.added_at, cal),
    }


def json_lines(status: Status) -> list[str]:
    """One object per line: each trigger, the leader, each closure, each unreadable one."""
    objects = [
        *(trigger_json(t, status) for t in status.triggers),
        leader_json(status),
        *(closure_json(c, status.calendar) for c in status.closures),
        *(
            {
                "unreadable_closure": r.key,
                "revision": r.revision,
                "detail": r.detail,
                "hint": closure_removal(r.key),
            }
            for r in status.unreadable_closures
        ),
    ]
    return [json.dumps(o, ensure_ascii=False) for o in objects]


# --- the staff table (Japanese) -----------------------------------------------------------

HEADER = ("トリガー", "次回", "処理済み", "結果", "最終処理", "記録者", "更新", "一時停止")


def _jst(value: datetime | None, cal: Calendar) -> str:
    if value is None:
        return "-"
    local = value.astimezone(cal.tz)
    return f"{ja_date(local.date())} {local:%H:%M}"


def _pause_ja(t: TriggerStatus, cal: Calendar) -> str:
    pause = t.pause.value
    if pause is not None:
        note = f"「{cell(pause.note)}」" if pause.note else ""
        return f"一時停止中 {pause.by} {_jst(pause.paused_at, cal)}{note}"
    return "一時停止扱い（記録が読めません）" if t.pause.unreadable else "-"


def _next_ja(t: TriggerStatus, cal: Calendar) -> str:
    if t.paused:
        return "なし（一時停止中）"
    return _jst(t.next_fire, cal) if t.next_fire else "60日以内になし"


def _cells(t: TriggerStatus, cal: Calendar) -> tuple[str, ...]:
    state = t.state.value
    head = (t.spec.name, _next_ja(t, cal))
    if state is None:
        handled = "読めません" if t.state.unreadable else "未初期化"
        return (*head, handled, "-", "-", "-", "-", _pause_ja(t, cal))
    return (
        *head,
        _jst(state.handled_through, cal),
        OUTCOMES_JA[state.last_outcome],
        state.last_occurrence or "-",
        state.by,
        _jst(state.updated_at, cal),
        _pause_ja(t, cal),
    )


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _aligned(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Columns padded to their display width (the last one is not padded)."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*map(_pad, row, widths), row[-1]]) for row in rows]


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def _unreadable_ja(exc: UnreadableRecord) -> str:
    return f"{exc.bucket}[{exc.key}]（リビジョン {exc.revision}）が読めません（{exc.detail}）"


def _trigger_notes(status: Status) -> list[str]:
    notes: list[str] = []
    for t in status.triggers:
        if t.state.unreadable:
            notes.append(
                f"※ {_unreadable_ja(t.state.unreadable)}: "
                "リーダーが次の処理で作り直します（その時点まで処理済み扱い。予定を確認してください）"
            )
        if t.pause.unreadable:
            notes.append(
                f"※ {_unreadable_ja(t.pause.unreadable)}: 一時停止として扱われます。"
                f"`otayori schedule resume {t.spec.name}` で削除できます"
            )
    return notes


def _leader_ja(status: Status) -> str:
    found, cal = status.leader.value, status.calendar
    if found is not None:
        return f"リーダー: {found[0].holder}（{_jst(found[0].acquired_at, cal)} から）"
    if status.leader.unreadable is not None:
        return f"リーダー: 不明（{_unreadable_ja(status.leader.unreadable)}）"
    return "リーダー: なし（スケジューラが動いていないか、引き継ぎ中）"


def _closure_lines(status: Status) -> list[str]:
    count = len(status.closures) + len(status.unreadable_closures)
    lines = [f"# 実行時の休館（otayori schedule close）: {f'{count}件' if count else 'なし'}"]
    rows = [
        (
            f"{ja_date(c.start)}〜{ja_date(c.end)}",
            cell(c.reason),
            f"追加 {c.by} {_jst(c.added_at, status.calendar)}",
        )
        for c in status.closures
    ]
    lines += _aligned(rows) if rows else []
    lines += [
        f"{_unreadable_ja(r)}: `{closure_removal(r.key)}` で削除してください。"
        "削除するまでスケジューラは何も実行しません"
        for r in status.unreadable_closures
    ]
    return lines


def table(status: Status, source: str) -> list[str]:
    """The header line, one line per trigger (notes on unreadable records), the closures."""
    now = status.now.astimezone(status.calendar.tz)
    header = f"# {_jst(now, status.calendar)} 現在（{status.calendar.tz.key}, {source}）"
    rows = [HEADER, *(_cells(t, status.calendar) for t in status.triggers)]
    return [
        f"{header}  {_leader_ja(status)}",
        *_aligned(rows),
        *_trigger_notes(status),
        *_closure_lines(status),
    ]
