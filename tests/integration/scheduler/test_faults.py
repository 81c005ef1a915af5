"""Faults the scheduler survives: a KV scan the server did not complete, an operator without
a login name."""

from __future__ import annotations

import getpass
import logging
from datetime import datetime

import pytest
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from services.scheduler import commands
from services.scheduler.calendar import Closure
from services.scheduler.engine import Scheduler
from services.scheduler.records import ForcedRecord, PauseRecord, RuntimeClosure
from shared.bus.kvscan import ScanError
from shared.clock import JST, ManualClock
from shared.contracts.schedule import TRIGGER_NAMES
from tests.support.nats import wait_for
from tools.localservers import NatsServer

from .replicas import CALENDAR, all_initialised, fired_ids, run_cli, schedule_events, start_replica

MAIL_SAT = "weekly-loan-mail:2026-12-05T09:00:00+09:00"
TAKEOVER = 40.0

#: Later than every occurrence these tests fire by hand.
AFTER_THE_WEEKS = "2027-01-10T12:00:00+09:00"


def jst(d: int, h: int, mi: int = 0) -> datetime:
    return datetime(2026, 12, d, h, mi, tzinfo=JST)


def _scan_fails_once(scheduler: Scheduler) -> None:
    store = scheduler._closures
    real = store.closures
    calls = 0

    async def closures() -> tuple[Closure, ...]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ScanError("KV_schedule_closures: 3 counted messages not delivered")
        return await real()

    store.closures = closures  # type: ignore[method-assign]


async def test_a_kv_scan_error_in_a_tick_is_logged_and_retried_not_fatal(
    fresh_nats: NatsServer, js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.scheduler.engine")
    clock = ManualClock(jst(5, 8, 59))
    replica = await start_replica(fresh_nats.url, "a", clock, patch=_scan_fails_once)
    await wait_for(lambda: all_initialised(js, TRIGGER_NAMES), timeout=TAKEOVER)

    clock.set(jst(5, 9))
    await wait_for(lambda: _has(js, MAIL_SAT), timeout=TAKEOVER)
    assert not replica.task.done()
    failed = [r for r in caplog.records if r.message == "scheduler.tick_failed"]
    assert failed and failed[0].__dict__["error"] == "ScanError"
    assert "not delivered" in failed[0].__dict__["detail"]
    await replica.shutdown()


async def _has(js: JetStreamContext, occurrence_id: str) -> bool:
    return occurrence_id in await fired_ids(js)


def _no_login_name() -> str:
    raise KeyError("getpwuid(): uid not found: 12345")


@pytest.fixture
def no_login(monkeypatch: pytest.MonkeyPatch, fresh_nats: NatsServer) -> None:
    """A container with an arbitrary uid: no passwd entry, no USER or LOGNAME."""
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(CALENDAR))
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)
    # The CLI's clock (as the services'): the occurrences fired here are due by then.
    monkeypatch.setenv("OTAYORI_CLOCK_START", AFTER_THE_WEEKS)
    monkeypatch.setattr(getpass, "getuser", _no_login_name)


@pytest.mark.usefixtures("no_login")
async def test_commands_without_a_login_name_record_the_uid(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    fire = ["schedule", "fire", "weekly-loan-mail", "--at", "2026-12-05", "--force"]
    assert await run_cli(fire) == 0
    assert await run_cli(["schedule", "pause", "daily-overdue"]) == 0
    close = ["schedule", "close", "--from", "2027-02-18", "--to", "2027-02-18"]
    assert await run_cli([*close, "--reason", "臨時休館"]) == 0
    out = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert out == ["forced", "paused", "closed"]

    state = await js.key_value("schedule_state")
    closures = await js.key_value("schedule_closures")
    forced = ForcedRecord.model_validate_json(await _value(state, "forced.weekly-loan-mail"))
    paused = PauseRecord.model_validate_json(await _value(state, "pause.daily-overdue"))
    closure = RuntimeClosure.model_validate_json(
        await _value(closures, "closure.2027-02-18.2027-02-18")
    )
    assert all(r.by.startswith("uid:") for r in (forced, paused, closure))
    assert forced.occurrence_id == MAIL_SAT


async def _value(kv: KeyValue, key: str) -> bytes:
    entry = await kv.get(key)
    assert entry.value is not None
    return entry.value


@pytest.mark.usefixtures("no_login")
async def test_fire_finds_the_operator_before_publishing_anything(
    js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> str:
        raise RuntimeError("operator lookup failed")

    monkeypatch.setattr(commands, "operator_name", broken)
    with pytest.raises(RuntimeError):
        await run_cli(["schedule", "fire", "weekly-loan-mail", "--at", "2026-12-05", "--force"])
    assert await schedule_events(js) == []
