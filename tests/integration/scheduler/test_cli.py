"""``otayori schedule`` against a real NATS: runtime closures, pauses, fire and --force."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from shared.contracts.schedule import TriggerFired
from tools.localservers import NatsServer

from .replicas import run_cli, schedule_events

CALENDAR = Path(__file__).resolve().parents[3] / "config" / "calendar.yaml"
MAIL_SAT = "weekly-loan-mail:2026-12-05T09:00:00+09:00"

#: Later than every occurrence these tests fire by hand.
AFTER_THE_WEEKS = "2027-01-10T12:00:00+09:00"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, fresh_nats: NatsServer) -> None:
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(CALENDAR))
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)
    # The CLI's clock (as the services'): the occurrences fired here are due by then.
    monkeypatch.setenv("OTAYORI_CLOCK_START", AFTER_THE_WEEKS)


async def plan_rows(capsys: pytest.CaptureFixture[str], first: str, days: int) -> list[Any]:
    capsys.readouterr()
    assert await run_cli(["schedule", "plan", "--from", first, "--days", str(days), "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


async def test_runtime_closures_and_pauses_show_in_the_plan(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "schedule",
        "close",
        "--from",
        "2026-12-10",
        "--to",
        "2026-12-10",
        "--reason",
        "臨時休館",
    ]
    assert await run_cli(argv) == 0
    assert await run_cli(["schedule", "pause", "daily-overdue", "--note", "督促文面の見直し"]) == 0
    rows = await plan_rows(capsys, "2026-12-07", 7)
    cutoff = next(r for r in rows if r["trigger"] == "weekly-cutoff")
    assert (cutoff["suspended"], cutoff["reason"], cutoff["runtime_state"]) == (
        True,
        "臨時休館",
        True,
    )
    assert all(r["paused"] for r in rows if r["trigger"] == "daily-overdue")

    assert await run_cli(["schedule", "resume", "daily-overdue"]) == 0
    assert await run_cli(["schedule", "reopen", "--from", "2026-12-10", "--to", "2026-12-10"]) == 0
    rows = await plan_rows(capsys, "2026-12-07", 7)
    assert all(r["fires"] for r in rows)


async def test_reopening_a_file_closure_is_refused(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli(["schedule", "reopen", "--from", "2026-12-29", "--to", "2027-01-03"]) == 1
    assert "calendar.yaml" in capsys.readouterr().err


async def test_fire_is_idempotent_and_force_is_a_recorded_rerun(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    fire = ["schedule", "fire", "weekly-loan-mail", "--at", "2026-12-05"]
    assert await run_cli(fire) == 0
    assert (
        await run_cli(["schedule", "fire", "weekly-loan-mail", "--at", "2026-12-05T09:00+09:00"])
        == 0
    )
    assert await run_cli([*fire, "--force"]) == 0
    out = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert out == ["fired", "duplicate", "forced"]
    events: list[TriggerFired] = await schedule_events(js, "schedule.fired.>")
    assert [(e.occurrence_id, e.forced) for e in events] == [(MAIL_SAT, False), (MAIL_SAT, True)]
    assert events[0].batch is not None and events[0].batch.pickup_start.isoformat() == "2026-12-06"


async def test_fire_refuses_a_suspended_occurrence_without_force(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli(["schedule", "fire", "weekly-cutoff", "--at", "2026-12-31"]) == 1
    assert "年末年始" in capsys.readouterr().err
    assert await run_cli(["schedule", "fire", "weekly-cutoff", "--at", "2026-12-30"]) == 1
    assert "Thursdays" in capsys.readouterr().err
    assert await schedule_events(js) == []


async def test_fire_refuses_an_occurrence_not_yet_due(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Friday evening: Saturday's mail run (a mistyped date, say) is not fired ahead of time,
    # with or without --force: the mailer would take Friday's events as Saturday's.
    monkeypatch.setenv("OTAYORI_CLOCK_START", "2026-12-04T18:00:00+09:00")
    fire = ["schedule", "fire", "weekly-loan-mail", "--at", "2026-12-05"]
    assert await run_cli(fire) == 1
    assert "not due yet (now 2026-12-04 18:00)" in capsys.readouterr().err
    assert await run_cli([*fire, "--force"]) == 1
    assert await schedule_events(js) == []


async def test_an_unprovisioned_server_gets_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_cli(["schedule", "pause", "daily-overdue"]) == 1
    assert "otayori provision" in capsys.readouterr().err
