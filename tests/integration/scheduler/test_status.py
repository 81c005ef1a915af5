"""``otayori schedule status`` against a real NATS: trigger states, pauses, the leader,
runtime closures, unreadable records (reported, exit 0) and NATS unreachable (exit 1)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
from nats.js import JetStreamContext

from services.scheduler.commands import operator_name
from services.scheduler.status import STATE_HINT
from shared.clock import JST, ManualClock
from shared.contracts.schedule import TRIGGER_NAMES
from tests.support.nats import wait_for
from tools.localservers import NatsServer, free_port

from .replicas import CALENDAR, all_initialised, run_cli, start_replica, state_of

#: The CLI's clock: Monday 2026-12-07 12:00 JST.
NOW = "2026-12-07T12:00:00+09:00"
#: The next fires after NOW with the calendar file only.
NEXT = {
    "weekly-cutoff": "2026-12-10T08:30:00+09:00",
    "weekly-loan-mail": "2026-12-12T09:00:00+09:00",
    "daily-hold-ready": "2026-12-08T08:00:00+09:00",
    "daily-overdue": "2026-12-08T10:00:00+09:00",
    "weekly-bounce-digest": "2026-12-14T08:45:00+09:00",
}
MAIL = "weekly-loan-mail"
MAIL_SAT = "weekly-loan-mail:2026-12-05T09:00:00+09:00"
#: Something the output must never show (a stored value is never printed).
MARKER = "patron-7@example.jp"
GARBAGE = f'{{"note": "{MARKER}"}}'.encode()
NOT_INITIALISED = {
    "state": "not_initialised",
    "handled_through": None,
    "last_occurrence": None,
    "last_outcome": None,
    "by": None,
    "lease_revision": None,
    "updated_at": None,
    "unreadable": None,
    "paused": False,
    "paused_at": None,
    "paused_by": None,
    "pause_note": None,
    "pause_unreadable": None,
    "closures_complete": True,
}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, fresh_nats: NatsServer) -> None:
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(CALENDAR))
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)
    monkeypatch.setenv("OTAYORI_CLOCK_START", NOW)


def jst(d: int, h: int, mi: int = 0) -> datetime:
    return datetime(2026, 12, d, h, mi, tzinfo=JST)


async def status_json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert await run_cli(["schedule", "status", "--json"]) == 0
    out = capsys.readouterr().out
    assert MARKER not in out
    return [json.loads(line) for line in out.splitlines()]


async def status_text(capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert await run_cli(["schedule", "status"]) == 0
    out = capsys.readouterr().out
    assert MARKER not in out
    return out.splitlines()


def triggers(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["trigger"]: o for o in lines if "trigger" in o}


def leader(lines: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [o for o in lines if "leader" in o]
    return found


def cells(text: list[str], trigger: str) -> list[str]:
    """The cells of ``trigger``'s row of the table (columns are two or more spaces apart)."""
    (row,) = [line for line in text if line.startswith(f"{trigger} ")]
    return re.split(r" {2,}", row)


async def test_a_fresh_cluster_has_no_state_no_leader_and_no_closures(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = await status_json(capsys)
    assert [o.get("trigger") for o in lines[:5]] == list(TRIGGER_NAMES)
    for name, found in triggers(lines).items():
        assert found == {"trigger": name, **NOT_INITIALISED, "next_fire": NEXT[name]}
    assert leader(lines) == {"leader": None, "since": None, "revision": None, "unreadable": None}
    assert len(lines) == 6

    text = await status_text(capsys)
    assert text[0].startswith("# 2026-12-07(月) 12:00 現在（Asia/Tokyo, nats://127.0.0.1:")
    assert text[0].endswith("リーダー: なし（スケジューラが動いていないか、引き継ぎ中）")
    assert re.split(r" {2,}", text[1]) == [
        "トリガー",
        "次回",
        "処理済み",
        "結果",
        "最終処理",
        "記録者",
        "更新",
        "一時停止",
    ]
    assert [line.split(" ")[0] for line in text[2:7]] == list(TRIGGER_NAMES)
    assert cells(text, "weekly-cutoff") == [
        "weekly-cutoff",
        "2026-12-10(木) 08:30",
        "未初期化",
        "-",
        "-",
        "-",
        "-",
        "-",
    ]
    assert text[7:] == ["# 実行時の休館（otayori schedule close）: なし"]


async def test_after_a_fire_the_state_and_the_leader_are_shown(
    fresh_nats: NatsServer, js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = ManualClock(jst(5, 8, 59))
    replica = await start_replica(fresh_nats.url, "sched-a", clock)
    await wait_for(lambda: all_initialised(js, TRIGGER_NAMES), timeout=40)
    before = triggers(await status_json(capsys))[MAIL]
    assert (before["state"], before["last_outcome"]) == ("ok", "init")
    assert before["handled_through"] == "2026-12-05T08:59:00+09:00"

    clock.set(jst(5, 9, 0))

    async def handled() -> bool:
        state = await state_of(js, MAIL)
        return state is not None and state.handled_through >= jst(5, 9)

    await wait_for(handled, timeout=40)
    lines = await status_json(capsys)
    mail = triggers(lines)[MAIL]
    assert mail["lease_revision"] >= 1
    assert mail == {
        "trigger": MAIL,
        **NOT_INITIALISED,
        "state": "ok",
        "handled_through": "2026-12-05T09:00:00+09:00",
        "last_occurrence": MAIL_SAT,
        "last_outcome": "fired",
        "by": "sched-a",
        "lease_revision": mail["lease_revision"],
        "updated_at": "2026-12-05T09:00:00+09:00",
        "next_fire": NEXT[MAIL],
    }
    lease = leader(lines)
    assert (lease["leader"], lease["since"], lease["unreadable"]) == (
        "sched-a",
        "2026-12-05T08:59:00+09:00",
        None,
    )
    assert lease["revision"] >= mail["lease_revision"]

    text = await status_text(capsys)
    assert "リーダー: sched-a（2026-12-05(土) 08:59 から）" in text[0]
    assert cells(text, MAIL) == [
        MAIL,
        "2026-12-12(土) 09:00",
        "2026-12-05(土) 09:00",
        "実行",
        MAIL_SAT,
        "sched-a",
        "2026-12-05(土) 09:00",
        "-",
    ]
    assert cells(text, "daily-overdue")[2:4] == ["2026-12-05(土) 08:59", "開始"]

    await replica.shutdown()  # releases the lease
    assert leader(await status_json(capsys))["leader"] is None


async def test_a_paused_trigger_shows_who_paused_it_when_and_why(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli(["schedule", "pause", "daily-overdue", "--note", "督促文面の見直し"]) == 0
    found = triggers(await status_json(capsys))
    overdue = found["daily-overdue"]
    assert (overdue["paused"], overdue["paused_by"], overdue["pause_note"]) == (
        True,
        operator_name(),
        "督促文面の見直し",
    )
    assert datetime.fromisoformat(overdue["paused_at"]).utcoffset() is not None
    assert overdue["pause_unreadable"] is None
    assert not found["daily-hold-ready"]["paused"]

    pause = cells(await status_text(capsys), "daily-overdue")[-1]
    assert pause.startswith(f"一時停止中 {operator_name()} ")
    assert pause.endswith("「督促文面の見直し」")

    assert await run_cli(["schedule", "resume", "daily-overdue"]) == 0
    assert not triggers(await status_json(capsys))["daily-overdue"]["paused"]


async def test_a_runtime_closure_is_listed_and_moves_the_next_fires(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    close = ["schedule", "close", "--from", "2026-12-10", "--to", "2026-12-10"]
    assert await run_cli([*close, "--reason", "臨時休館"]) == 0
    lines = await status_json(capsys)
    (closure,) = [o for o in lines if "closure" in o]
    assert closure == {
        "closure": "closure.2026-12-10.2026-12-10",
        "from": "2026-12-10",
        "to": "2026-12-10",
        "reason": "臨時休館",
        "by": operator_name(),
        "added_at": closure["added_at"],
    }
    assert datetime.fromisoformat(closure["added_at"]).utcoffset() is not None
    next_fires = {name: t["next_fire"] for name, t in triggers(lines).items()}
    # The batch of Thursday 12-10 is suspended: its cutoff and its Saturday mail.
    assert next_fires == {
        **NEXT,
        "weekly-cutoff": "2026-12-17T08:30:00+09:00",
        "weekly-loan-mail": "2026-12-19T09:00:00+09:00",
    }

    text = await status_text(capsys)
    assert cells(text, "weekly-cutoff")[1] == "2026-12-17(木) 08:30"
    at = text.index("# 実行時の休館（otayori schedule close）: 1件")
    assert re.split(r" {2,}", text[at + 1])[:2] == ["2026-12-10(木)〜2026-12-10(木)", "臨時休館"]
    assert text[at + 1].split("  ")[-1].startswith(f"追加 {operator_name()} ")


async def test_unreadable_state_and_pause_are_reported_with_what_to_do(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    kv = await js.key_value("schedule_state")
    revision = await kv.put(f"trigger.{MAIL}", GARBAGE)
    pause_revision = await kv.put("pause.daily-overdue", b"\xff{not json")
    found = triggers(await status_json(capsys))
    mail = found[MAIL]
    assert (mail["state"], mail["handled_through"], mail["last_outcome"]) == (
        "unreadable",
        None,
        None,
    )
    problem = mail["unreadable"]
    assert (problem["key"], problem["revision"], problem["hint"]) == (
        f"trigger.{MAIL}",
        revision,
        STATE_HINT,
    )
    assert "handled_through: Field required" in problem["detail"]
    overdue = found["daily-overdue"]
    assert (overdue["paused"], overdue["paused_by"]) == (True, None)
    assert overdue["pause_unreadable"]["key"] == "pause.daily-overdue"
    assert overdue["pause_unreadable"]["revision"] == pause_revision
    assert "otayori schedule resume daily-overdue" in overdue["pause_unreadable"]["hint"]
    assert found["weekly-cutoff"]["state"] == "not_initialised"

    text = await status_text(capsys)
    assert cells(text, MAIL)[2:] == ["読めません", "-", "-", "-", "-", "-"]
    assert cells(text, "daily-overdue")[-1] == "一時停止扱い（記録が読めません）"
    notes = [line for line in text if line.startswith("※ ")]
    assert len(notes) == 2
    assert notes[0].startswith(
        f"※ schedule_state[trigger.{MAIL}]（リビジョン {revision}）が読めません（"
    )
    assert notes[0].endswith(
        "リーダーが次の処理で作り直します（その時点まで処理済み扱い。予定を確認してください）"
    )
    assert f"（リビジョン {pause_revision}）" in notes[1]
    assert notes[1].endswith("`otayori schedule resume daily-overdue` で削除できます")


async def test_unreadable_closures_are_reported_with_how_to_remove_them(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    close = ["schedule", "close", "--from", "2026-12-10", "--to", "2026-12-10"]
    assert await run_cli([*close, "--reason", "臨時休館"]) == 0
    closures = await js.key_value("schedule_closures")
    revision = await closures.put("closure.2027-02-18.2027-02-19", GARBAGE)
    await closures.put("closure.by-hand", b"")
    lines = await status_json(capsys)
    assert [o["closure"] for o in lines if "closure" in o] == ["closure.2026-12-10.2026-12-10"]
    bad = [o for o in lines if "unreadable_closure" in o]
    assert [(o["unreadable_closure"], o["hint"]) for o in bad] == [
        (
            "closure.2027-02-18.2027-02-19",
            "otayori schedule reopen --from 2027-02-18 --to 2027-02-19",
        ),
        ("closure.by-hand", "nats kv del schedule_closures closure.by-hand"),
    ]
    assert bad[0]["revision"] == revision and "start: Field required" in bad[0]["detail"]
    found = triggers(lines)
    assert not any(t["closures_complete"] for t in found.values())
    # The readable closure still applies to the next fires.
    assert found["weekly-cutoff"]["next_fire"] == "2026-12-17T08:30:00+09:00"

    text = await status_text(capsys)
    at = text.index("# 実行時の休館（otayori schedule close）: 3件")
    assert text[at + 1].startswith("2026-12-10(木)〜2026-12-10(木)")
    assert text[at + 2].startswith(
        f"schedule_closures[closure.2027-02-18.2027-02-19]（リビジョン {revision}）が読めません（"
    )
    assert text[at + 2].endswith(
        ": `otayori schedule reopen --from 2027-02-18 --to 2027-02-19` で削除してください。"
        "削除するまでスケジューラは何も実行しません"
    )
    assert "`nats kv del schedule_closures closure.by-hand`" in text[at + 3]


@pytest.mark.parametrize("argv", [[], ["--json"]], ids=["table", "json"])
async def test_nats_unreachable_is_one_line_and_exit_1(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"nats://ops:s3cret@127.0.0.1:{free_port()}"
    monkeypatch.setenv("OTAYORI_NATS_URL", url)
    assert await run_cli(["schedule", "status", *argv]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("otayori schedule: NATS unavailable at nats://***@127.0.0.1:")
    assert "s3cret" not in err and "Traceback" not in err


async def test_an_unprovisioned_server_gets_the_provision_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await run_cli(["schedule", "status"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "otayori provision" in err and "Traceback" not in err
