"""A calendar file that is not UTF-8 is a CalendarFileError naming the file, not a crash."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from otayori.cli import build_parser
from services.scheduler.calendar_file import load_calendar_file
from services.scheduler.errors import CalendarFileError

CALENDAR = """closures:
  - from: 2026-12-29
    to: 2027-01-03
    reason: 年末年始
"""


def test_a_shift_jis_calendar_is_refused_naming_the_file_and_utf8(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_bytes(CALENDAR.encode("shift_jis"))
    with pytest.raises(CalendarFileError) as caught:
        load_calendar_file(path)
    assert caught.value.path == str(path)
    assert "must be saved as UTF-8" in str(caught.value)


def test_a_utf8_calendar_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_bytes(CALENDAR.encode("utf-8-sig"))
    (closure,) = load_calendar_file(path)
    assert closure.reason == "年末年始"


def test_plan_with_a_shift_jis_calendar_exits_1_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_bytes(CALENDAR.encode("shift_jis"))
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(path))
    args = build_parser().parse_args(["schedule", "plan", "--offline"])
    assert asyncio.run(args.func(args)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"otayori schedule: {path}: not UTF-8 text")
