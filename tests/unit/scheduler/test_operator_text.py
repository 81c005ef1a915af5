"""Text typed by operators (``pause --note``, ``close --reason``) and ``close``'s days: bad
input exits 2 naming the option, and nothing is written (no connection is even opened).
A note or reason is shown in one cell of the staff table: one line, at most 200 characters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import pytest

from otayori.cli import build_parser
from services.scheduler import commands
from services.scheduler.records import PauseRecord, RuntimeClosure
from shared.clock import JST

PAUSE = ["schedule", "pause", "daily-overdue"]
CLOSE = ["schedule", "close", "--from", "2027-02-18", "--to", "2027-02-18"]
WHEN = datetime(2026, 12, 7, 10, 12, tzinfo=JST)


@pytest.fixture(autouse=True)
def _no_nats(monkeypatch: pytest.MonkeyPatch) -> None:
    @asynccontextmanager
    async def must_not_connect(settings: object) -> AsyncIterator[None]:
        raise AssertionError("bad input reached NATS")
        yield

    monkeypatch.setattr(commands, "cli_connection", must_not_connect)


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return int(asyncio.run(args.func(args)))


@pytest.mark.parametrize(
    ("note", "problem"),
    [
        pytest.param("督促\n文面", "control characters (U+000A at character 3)", id="newline"),
        pytest.param("a\tb", "control characters (U+0009 at character 2)", id="tab"),
        pytest.param("x\x1b[2J", "control characters (U+001B", id="escape"),
        pytest.param("a\u2028b", "control characters (U+2028", id="line-separator"),
        pytest.param("  ", "must not be blank", id="blank"),
        pytest.param("督" * 201, "at most 200 characters (this one has 201)", id="too-long"),
    ],
)
def test_a_bad_pause_note_exits_2_naming_the_option(
    note: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*PAUSE, "--note", note]) == 2
    err = capsys.readouterr().err
    assert err.startswith("otayori schedule pause: error: argument --note: ")
    assert problem in err and err.count("\n") == 1


def test_a_reason_with_a_control_character_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*CLOSE, "--reason", "臨時\n休館"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("otayori schedule close: error: argument --reason: must not contain")


def test_close_to_before_from_is_bad_input_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["schedule", "close", "--from", "2027-02-18", "--to", "2027-02-17", "--reason", "臨"]
    assert run(argv) == 2
    assert capsys.readouterr().err == (
        "otayori schedule close: error: argument --to: 2027-02-17 is before --from 2027-02-18\n"
    )


def test_a_stored_note_or_reason_an_older_version_wrote_stays_readable() -> None:
    """The rule applies where staff type (the commands, the calendar file): a record
    already stored with a line break is read back as written, since an unreadable runtime
    closure stops every trigger and an unreadable pause pauses one."""
    assert PauseRecord(paused_at=WHEN, by="ops@host", note="a\nb").note == "a\nb"
    closure = RuntimeClosure.model_validate(
        {
            "start": "2027-02-18",
            "end": "2027-02-18",
            "reason": "a\rb",
            "added_at": WHEN,
            "by": "ops@host",
        }
    )
    assert closure.reason == "a\rb"


def test_a_pause_without_a_note_keeps_an_empty_one() -> None:
    assert PauseRecord(paused_at=WHEN, by="ops@host").note == ""
