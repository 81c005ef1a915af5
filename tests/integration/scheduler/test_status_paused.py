"""``otayori schedule status`` of a paused trigger: no next fire (a paused occurrence is
skipped, not fired later), shown as paused in the table and as ``null`` in the JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from nats.js import JetStreamContext

from tools.localservers import NatsServer

from .replicas import CALENDAR, run_cli

#: The CLI's clock: Monday 2026-12-07 12:00 JST; daily-overdue would next run on the 8th.
NOW = "2026-12-07T12:00:00+09:00"
OVERDUE_NEXT = "2026-12-08T10:00:00+09:00"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, fresh_nats: NatsServer) -> None:
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(CALENDAR))
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)
    monkeypatch.setenv("OTAYORI_CLOCK_START", NOW)


async def overdue_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert await run_cli(["schedule", "status", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    found: dict[str, Any]
    (found,) = [o for o in lines if o.get("trigger") == "daily-overdue"]
    return found


async def overdue_cells(capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert await run_cli(["schedule", "status"]) == 0
    (row,) = [r for r in capsys.readouterr().out.splitlines() if r.startswith("daily-overdue ")]
    return re.split(r" {2,}", row)


async def test_a_paused_trigger_has_no_next_fire_until_resumed(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli(["schedule", "pause", "daily-overdue", "--note", "督促文面の見直し"]) == 0
    found = await overdue_json(capsys)
    assert (found["paused"], found["next_fire"]) == (True, None)
    cells = await overdue_cells(capsys)
    assert cells[1] == "なし（一時停止中）"
    assert cells[-1].startswith("一時停止中 ") and cells[-1].endswith("「督促文面の見直し」")

    assert await run_cli(["schedule", "resume", "daily-overdue"]) == 0
    found = await overdue_json(capsys)
    assert (found["paused"], found["next_fire"]) == (False, OVERDUE_NEXT)
    assert (await overdue_cells(capsys))[1] == "2026-12-08(火) 10:00"


async def test_an_unreadable_pause_counts_as_paused_and_has_no_next_fire(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    kv = await js.key_value("schedule_state")
    await kv.put("pause.daily-overdue", b"{}")
    found = await overdue_json(capsys)
    assert (found["paused"], found["next_fire"]) == (True, None)
    assert found["pause_unreadable"]["key"] == "pause.daily-overdue"
    assert (await overdue_cells(capsys))[1] == "なし（一時停止中）"


async def test_a_multi_line_note_is_refused_and_nothing_is_paused(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["schedule", "pause", "daily-overdue", "--note", "督促\n見直し"]
    assert await run_cli(argv) == 2
    assert "argument --note: must not contain control characters" in capsys.readouterr().err
    assert not (await overdue_json(capsys))["paused"]
