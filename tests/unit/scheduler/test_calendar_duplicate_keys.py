"""A key given twice in one mapping of the calendar file is an error naming the key and its
line: YAML keeps the last one, so a forgotten ``- `` would drop a closure without a word."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from otayori.cli import build_parser
from services.scheduler.calendar_file import parse_calendar
from services.scheduler.errors import CalendarFileError

#: Two closures, the ``- `` of the second forgotten.
MISSING_DASH = """\
closures:
  - date: 2026-12-10
    reason: 臨時休館（システム更新）
    date: 2026-12-17
    reason: 臨時休館（館内工事）
"""


def test_a_forgotten_dash_is_an_error_naming_the_key_and_both_lines() -> None:
    with pytest.raises(CalendarFileError) as error:
        parse_calendar(MISSING_DASH, "config/calendar.yaml")
    assert str(error.value).startswith(
        "config/calendar.yaml: line 4: duplicate key 'date' (first on line 2)"
    )
    assert "put '- ' before it" in str(error.value)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("closures: []\nclosures:\n  - date: 2026-12-10\n    reason: x\n", 2, id="top"),
        pytest.param(
            "closures:\n  - from: 2026-12-10\n    to: 2026-12-11\n    to: 2026-12-12\n"
            "    reason: x\n",
            4,
            id="to-twice",
        ),
        pytest.param("closures: [{date: 2026-12-10, reason: x, reason: y}]\n", 1, id="flow"),
    ],
)
def test_any_key_twice_in_one_mapping_is_an_error(text: str, line: int) -> None:
    with pytest.raises(CalendarFileError, match=f"line {line}: duplicate key"):
        parse_calendar(text)


def test_the_same_key_in_different_entries_is_fine() -> None:
    text = MISSING_DASH.replace("    date: 2026-12-17", "  - date: 2026-12-17")
    assert [c.start.isoformat() for c in parse_calendar(text)] == ["2026-12-10", "2026-12-17"]


def test_the_plan_stops_on_a_duplicate_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(MISSING_DASH, encoding="utf-8")
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(path))
    args = build_parser().parse_args(
        ["schedule", "plan", "--from", "2026-12-10", "--days", "10", "--offline"]
    )
    assert asyncio.run(args.func(args)) == 1
    assert f"{path}: line 4: duplicate key 'date'" in capsys.readouterr().err
