"""``otayori schedule``: the offline plan and bad input (no sockets)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from otayori.cli import build_parser
from services.scheduler import commands

CALENDAR = Path(__file__).resolve().parents[3] / "config" / "calendar.yaml"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(CALENDAR))


CLOSE = ["schedule", "close", "--from", "2027-02-18", "--to", "2027-02-18"]


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    result = args.func(args)
    return int(asyncio.run(result) if asyncio.iscoroutine(result) else result)


def test_plan_json_lists_the_new_year_week_suspended_with_batch_dates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["schedule", "plan", "--from", "2026-12-28", "--days", "7", "--json", "--offline"]
    assert run(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    cutoff = next(r for r in rows if r["trigger"] == "weekly-cutoff")
    assert cutoff == {
        "trigger": "weekly-cutoff",
        "occurrence_id": "weekly-cutoff:2026-12-31T08:30:00+09:00",
        "nominal_time": "2026-12-31T08:30:00+09:00",
        "run_date": "2026-12-31",
        "batch_thursday": "2026-12-31",
        "pickup_start": "2027-01-03",
        "pickup_deadline": "2027-01-10",
        "suspended": True,
        "reason": "年末年始",
        "paused": False,
        "fires": False,
        "holiday": None,
        "pickup_deadline_closed": None,
        "runtime_state": False,
    }
    digest = next(r for r in rows if r["trigger"] == "weekly-bounce-digest")
    assert digest["batch_thursday"] is None and digest["fires"] is True
    assert len(rows) == 7 * 2 + 3


def test_plan_table_is_for_staff_and_says_runtime_state_is_not_included(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["schedule", "plan", "--from", "2026-12-24", "--days", "3", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "実行時の休館・一時停止は未反映" in out
    assert "weekly-cutoff" in out and "2027-01-03(日)" in out
    assert "※受取期限が休館日（年末年始）" in out


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["schedule", "fire", "weekly-mail"], id="unknown-trigger"),
        pytest.param(["schedule", "pause", "nope"], id="unknown-trigger-pause"),
        pytest.param(["schedule", "plan", "--from", "2026-02-30"], id="bad-date"),
        pytest.param(["schedule", "plan", "--days", "0"], id="zero-days"),
        pytest.param(["schedule", "fire", "weekly-cutoff", "--at", "2026-12-03T08:30"], id="naive"),
        pytest.param(["schedule", "close", "--from", "2026-12-01", "--to", "x"], id="bad-to"),
        pytest.param([*CLOSE, "--reason", "x" * 201], id="reason-too-long"),
        pytest.param([*CLOSE, "--reason", "  "], id="reason-blank"),
    ],
)
def test_bad_input_is_a_clear_error_with_a_non_zero_exit(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(argv)
    assert exit_info.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_a_broken_calendar_file_fails_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "calendar.yaml"
    bad.write_text("closures: [{from: 2026-12-05, reason: x}]", encoding="utf-8")
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(bad))
    assert run(["schedule", "plan", "--offline"]) == 1
    assert "both 'from' and 'to'" in capsys.readouterr().err


def test_an_overlong_close_reason_is_refused_before_anything_is_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def must_not_run(args: object) -> int:
        raise AssertionError("the command ran")

    monkeypatch.setattr(commands, "close", must_not_run)
    with pytest.raises(SystemExit) as exit_info:
        run([*CLOSE, "--reason", "臨" * 201])
    assert exit_info.value.code == 2
    assert "argument --reason: at most 200 characters (this one has 201)" in capsys.readouterr().err
