"""Bad input to any ``otayori`` command is a clear message and an exit code, never a
traceback: bad settings, bad arguments, a closed pipe, credentials in the NATS URL."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from otayori import cli
from otayori.cli import EXIT_BROKEN_PIPE, main, setting_errors
from services.scheduler import commands
from services.scheduler.settings import SchedulerSettings

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "shared" / "contracts" / "examples" / "ils.loan.online_issued.json"
#: A URL nats-py refuses before opening any socket: a command that tried to connect fails.
NO_CONNECT = "nats://staff:s3cret@127.0.0.1:abc"


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


# --- settings (L4) ---------------------------------------------------------------------


def test_bad_settings_are_one_line_each_naming_the_variable_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTAYORI_HTTP_PORT", "hunter2")
    monkeypatch.setenv("OTAYORI_MAIL_DOMAIN", "not a domain")
    assert _run(["queue", "list"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "otayori",
        "otayori",
    ]
    assert lines[0].startswith("otayori: bad setting OTAYORI_HTTP_PORT: Input should be")
    assert lines[1].startswith("otayori: bad setting OTAYORI_MAIL_DOMAIN: ")
    assert "hunter2" not in "\n".join(lines)  # a value may be a secret: never echoed


def test_a_service_setting_is_named_with_its_own_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTAYORI_SCHEDULER_HOLIDAYS", "sometimes")
    assert _run(["schedule", "plan", "--offline"]) == 2
    assert capsys.readouterr().err.startswith("otayori: bad setting OTAYORI_SCHEDULER_HOLIDAYS: ")


def test_settings_refused_by_load_settings_name_the_variable_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTAYORI_SECRETS_DIR", str(tmp_path))  # a deployment, no real key
    monkeypatch.delenv("OTAYORI_VERP_SECRET", raising=False)
    monkeypatch.delenv("OTAYORI_CLOCK_START", raising=False)
    assert _run(["queue", "list"]) == 2
    assert capsys.readouterr().err.startswith("otayori: bad setting OTAYORI_VERP_SECRET: ")


def test_a_value_pydantic_settings_cannot_parse_is_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class ListSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="OTAYORI_TEST_")
        hosts: list[str] = []

    def command(_: argparse.Namespace) -> int:
        ListSettings()
        return 0

    monkeypatch.setenv("OTAYORI_TEST_HOSTS", "not json")
    assert cli._run(argparse.Namespace(func=command)) == 2
    assert capsys.readouterr().err.startswith(
        'otayori: bad setting: error parsing value for field "hosts"'
    )


def test_a_validation_error_that_is_not_about_settings_is_not_reported_as_one() -> None:
    class Body(BaseModel):
        port: int

    with pytest.raises(ValidationError) as caught:
        Body.model_validate({"port": "x"})
    assert setting_errors(caught.value) is None


# --- broken pipe (L7) ------------------------------------------------------------------


def test_a_reader_that_went_away_ends_the_command_quietly_with_141(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` after it has read what it wanted
    try:
        done = subprocess.run(
            [sys.executable, "-m", "otayori", "bounce", "classify", str(tmp_path)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (EXIT_BROKEN_PIPE, b"")


class _ClosedPipe:
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_pipe_in_process_is_exit_141(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert _run(["bounce", "classify", str(tmp_path)]) == EXIT_BROKEN_PIPE


# --- staff queue (L1, L11) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["contacted", "P1", "--note", ""], "--note は空にはできません"),
        (["resolve", "P1", "--note", "   "], "--note は空にはできません"),
        (["contacted", "P1", "--note", "n", "--by", ""], "--by は空にはできません"),
        (["show", ""], "利用者番号 は空にはできません"),
        (["show", "P" * 65], "利用者番号 は64文字以内にしてください"),
        (["show", "P 1"], "利用者番号 は英数字で始まり"),
        (["contacted", "P1", "--note", "x" * 2001], "--note は2000文字以内にしてください"),
    ],
    ids=["empty-note", "blank-note", "empty-by", "empty-patron", "long-patron",
         "patron-with-space", "long-note"],
)  # fmt: skip
def test_bad_queue_input_is_refused_in_japanese_before_connecting(
    argv: list[str],
    says: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OTAYORI_NATS_URL", NO_CONNECT)  # a connect attempt would exit 1
    assert _run(["queue", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("エラー: 入力が正しくありません: ") and says in err


def test_a_malformed_nats_url_is_unreachable_exit_1_without_its_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTAYORI_NATS_URL", NO_CONNECT)
    assert _run(["queue", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("エラー: NATS に接続できません (nats://***@127.0.0.1:abc)")
    assert "s3cret" not in err


# --- URLs in other commands (L11) ------------------------------------------------------


def test_publish_does_not_print_the_urls_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTAYORI_NATS_URL", NO_CONNECT)
    assert _run(["publish", "ils.loan.online_issued", str(EXAMPLE)]) == 3
    err = capsys.readouterr().err
    assert "nats://***@127.0.0.1:abc" in err and "s3cret" not in err


def test_schedule_commands_do_not_print_the_urls_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTAYORI_NATS_URL", NO_CONNECT)
    assert _run(["schedule", "pause", "daily-overdue"]) == 1
    err = capsys.readouterr().err
    assert "nats://***@127.0.0.1:abc" in err and "s3cret" not in err


def test_the_plan_header_names_nats_without_credentials() -> None:
    settings = SchedulerSettings(nats_url="nats://a:s3cret@n1:4222,nats://b:s3cret@n2:4222")
    notes = commands._notes(settings, date(2026, 12, 1), 14, None)
    assert "(nats://***@n1:4222,nats://***@n2:4222)" in notes[1]
    assert "s3cret" not in "\n".join(notes)


# --- schedule dates (L3) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["plan", "--from", "9999-12-30", "--days", "5"], "out of range: '9999-12-30'"),
        (["plan", "--from", "0001-01-01"], "out of range: '0001-01-01'"),
        (["plan", "--days", "401"], "--days must be between 1 and 400"),
        (["plan", "--days", "0"], "--days must be between 1 and 400"),
        (["fire", "daily-overdue", "--at", "9999-12-31"], "out of range"),
        (["fire", "daily-overdue", "--at", "9999-12-31T10:00+09:00"], "out of range"),
        (["close", "--from", "9999-12-31", "--to", "9999-12-31", "--reason", "x"], "out of range"),
    ],
    ids=["plan-near-date-max", "plan-year-1", "days-too-many", "days-zero", "fire-day",
         "fire-time", "close"],
)  # fmt: skip
def test_a_day_out_of_range_is_an_argument_error(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["schedule", *argv]) == 2
    assert says in capsys.readouterr().err
