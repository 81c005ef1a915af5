"""Unreadable records (any client can write the stream and the buckets; an older or newer
schema) do not end the scheduler's loop: skipped fire messages, closures that hold every
fire until staff remove them, a trigger state rebuilt from the stream, a pause that counts
as paused. The commands say what is unreadable and how to remove it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime

import pytest
from nats.js import JetStreamContext
from pydantic import ValidationError

from services.scheduler.bus import ScheduleBus
from services.scheduler.calendar import fired_event, occurrence_at
from services.scheduler.calendar.holidays_jp import JapaneseHolidays
from services.scheduler.calendar_file import load_calendar_file
from services.scheduler.engine import Scheduler
from services.scheduler.errors import SchedulerError
from services.scheduler.records import TriggerState
from services.scheduler.settings import SchedulerSettings
from services.scheduler.store import StateStore
from services.scheduler.triggers import build_calendar
from shared.bus.publish import publish
from shared.clock import JST, ManualClock
from shared.contracts.schedule import TRIGGER_NAMES, TriggerFired
from tests.support.nats import stream_messages, wait_for
from tools.localservers import NatsServer

from .replicas import CALENDAR, Replica, run_cli, start_replica, state_of

MAIL = "weekly-loan-mail"
MAIL_SUBJECT = f"schedule.fired.{MAIL}"
MAIL_SAT = "weekly-loan-mail:2026-12-05T09:00:00+09:00"
MAIL_PREV = "weekly-loan-mail:2026-11-28T09:00:00+09:00"
TAKEOVER = 40.0
#: Later than every occurrence the commands fire here.
AFTER_THE_WEEKS = "2027-01-10T12:00:00+09:00"
#: Something no log line may show (a payload is never logged).
MARKER = "patron-7@example.jp"
GARBAGE = f'{{"note": "{MARKER}"}}'.encode()

UNREADABLE_FIRES = [
    pytest.param(GARBAGE, id="not-a-fire"),
    pytest.param(b"", id="empty"),
    pytest.param(b"\xff{not json", id="not-json"),
    pytest.param(b'{"trigger": "weekly-loan-mail", "schema": 99}', id="other-schema"),
]


def jst(d: int, h: int, mi: int = 0, *, month: int = 12) -> datetime:
    return datetime(2026, month, d, h, mi, tzinfo=JST)


def _fire(day: date, now: datetime, trigger: str = MAIL) -> TriggerFired:
    settings = SchedulerSettings.model_validate({"scheduler_calendar_file": CALENDAR})
    cal = build_calendar(settings, load_calendar_file(CALENDAR), JapaneseHolidays())
    return fired_event(occurrence_at(cal.trigger(trigger), day, cal), now)


async def _fires(js: JetStreamContext, trigger: str = MAIL) -> list[str]:
    """The readable fires of ``trigger`` in the stream (garbage left out)."""
    found = []
    for msg in await stream_messages(js, "SCHEDULE", f"schedule.fired.{trigger}"):
        try:
            found.append(TriggerFired.model_validate_json(msg.data).occurrence_id)  # type: ignore[attr-defined]
        except ValidationError:
            continue
    return found


def _logged(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.message == event]


def _no_payload_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return all(MARKER not in str(vars(r)) for r in caplog.records)


async def _until(
    replica: Replica, predicate: Callable[[], Awaitable[bool] | bool], timeout: float = TAKEOVER
) -> None:
    """Wait for ``predicate`` while the replica runs; fail at once if its loop ended."""

    async def check() -> bool:
        if replica.task.done():
            return True
        result = predicate()
        return bool(await result if asyncio.iscoroutine(result) else result)

    await wait_for(check, timeout=timeout)
    if replica.task.done():
        raise AssertionError(f"the scheduler loop ended: {replica.task.exception()!r}")


async def _state(js: JetStreamContext, trigger: str) -> TriggerState | None:
    """The trigger's state; None while there is none or it is unreadable."""
    try:
        return await state_of(js, trigger)
    except SchedulerError:
        return None


async def _handled(js: JetStreamContext, trigger: str, through: datetime) -> bool:
    state = await _state(js, trigger)
    return state is not None and state.handled_through >= through


async def _initialised(js: JetStreamContext) -> bool:
    return all([await _state(js, t) is not None for t in TRIGGER_NAMES])


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="services.scheduler")
    return caplog


# --- schedule.fired.<trigger>: messages that are not fire records ------------------------


@pytest.mark.parametrize("garbage", UNREADABLE_FIRES)
async def test_an_unreadable_last_fire_message_is_skipped_and_the_fire_before_it_counts(
    js: JetStreamContext, logs: pytest.LogCaptureFixture, garbage: bytes
) -> None:
    await publish(js, _fire(date(2026, 12, 5), jst(5, 9)))
    ack = await js.publish(MAIL_SUBJECT, garbage)

    found = await ScheduleBus(js).fired_on(MAIL, date(2026, 12, 5))

    assert found is not None and found.event_id == MAIL_SAT
    [warning] = _logged(logs, "scheduler.fired_unreadable")
    assert warning.levelno == logging.WARNING
    assert (warning.__dict__["sequence"], warning.__dict__["subject"]) == (ack.seq, MAIL_SUBJECT)
    assert _no_payload_logged(logs)


async def test_unreadable_messages_among_the_fires_are_skipped_when_scanning(
    js: JetStreamContext, logs: pytest.LogCaptureFixture
) -> None:
    await js.publish(MAIL_SUBJECT, GARBAGE)
    await publish(js, _fire(date(2026, 11, 28), jst(28, 9, month=11)))
    await js.publish(MAIL_SUBJECT, b"{}")
    bus = ScheduleBus(js)

    assert await bus.fired_on(MAIL, date(2026, 12, 5)) is None
    found = await bus.fired_on(MAIL, date(2026, 11, 28))

    assert found is not None and found.event_id == MAIL_PREV
    assert len(_logged(logs, "scheduler.fired_unreadable")) >= 2
    assert _no_payload_logged(logs)


async def test_a_fire_of_another_trigger_on_this_subject_is_not_this_triggers_fire(
    js: JetStreamContext, logs: pytest.LogCaptureFixture
) -> None:
    other = _fire(date(2026, 12, 5), jst(5, 10), trigger="daily-overdue")
    await js.publish(MAIL_SUBJECT, other.model_dump_json().encode())

    assert await ScheduleBus(js).fired_on(MAIL, date(2026, 12, 5)) is None
    assert _logged(logs, "scheduler.fired_unreadable")


async def test_the_engine_goes_on_past_unreadable_fire_messages_and_fires_once(
    fresh_nats: NatsServer, js: JetStreamContext, logs: pytest.LogCaptureFixture
) -> None:
    await js.publish(MAIL_SUBJECT, GARBAGE)
    clock = ManualClock(jst(5, 8, 59))
    replica = await start_replica(fresh_nats.url, "a", clock)
    await _until(replica, lambda: _initialised(js))

    clock.set(jst(5, 9))
    await _until(replica, lambda: _handled(js, MAIL, jst(5, 9)))
    assert await _fires(js) == [MAIL_SAT]
    assert _logged(logs, "scheduler.fired_unreadable")
    await replica.shutdown()


async def test_fire_by_hand_finds_the_fire_behind_an_unreadable_message(
    js: JetStreamContext, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    fire = ["schedule", "fire", MAIL, "--at", "2026-12-05"]
    assert await run_cli(fire) == 0
    await js.publish(MAIL_SUBJECT, GARBAGE)
    assert await run_cli(fire) == 0
    out = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert out == ["fired", "duplicate"]
    assert await _fires(js) == [MAIL_SAT]


# --- schedule_closures: fail safe, nothing fires ----------------------------------------

UNREADABLE_CLOSURES = [
    pytest.param(GARBAGE, id="not-a-closure"),
    pytest.param(
        b'{"start": "2026-12-10", "end": "2026-12-03", "reason": "x", '
        b'"added_at": "2026-12-01T09:00:00+09:00", "by": "staff@host"}',
        id="ends-before-it-starts",
    ),
]


@pytest.mark.parametrize("garbage", UNREADABLE_CLOSURES)
async def test_an_unreadable_closure_holds_every_fire_until_it_is_removed(
    fresh_nats: NatsServer, js: JetStreamContext, logs: pytest.LogCaptureFixture, garbage: bytes
) -> None:
    key = "closure.2026-12-03.2026-12-10"
    clock = ManualClock(jst(5, 8, 59))
    replica = await start_replica(fresh_nats.url, "a", clock)
    await _until(replica, lambda: _initialised(js))
    closures = await js.key_value("schedule_closures")
    await closures.put(key, garbage)

    clock.set(jst(5, 9))
    await _until(replica, lambda: len(_logged(logs, "scheduler.closures_unreadable")) >= 2)
    errors = _logged(logs, "scheduler.closures_unreadable")
    assert all(r.levelno == logging.ERROR and r.__dict__["keys"] == [key] for r in errors)
    assert await _fires(js) == []
    assert not await _handled(js, MAIL, jst(5, 9))  # retried on the next tick

    await closures.delete(key)
    await _until(replica, lambda: _handled(js, MAIL, jst(5, 9)))
    assert await _fires(js) == [MAIL_SAT]
    assert _no_payload_logged(logs)
    await replica.shutdown()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, fresh_nats: NatsServer) -> None:
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(CALENDAR))
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)
    monkeypatch.setenv("OTAYORI_CLOCK_START", AFTER_THE_WEEKS)


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        pytest.param(
            "closure.2027-02-18.2027-02-19",
            "otayori schedule reopen --from 2027-02-18 --to 2027-02-19",
            id="closure-key",
        ),
        pytest.param(
            "closure.someday", "nats kv del schedule_closures closure.someday", id="other-key"
        ),
    ],
)
@pytest.mark.usefixtures("cli_env")
async def test_the_commands_name_an_unreadable_closure_and_how_to_remove_it(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str], key: str, hint: str
) -> None:
    await (await js.key_value("schedule_closures")).put(key, GARBAGE)

    assert await run_cli(["schedule", "plan", "--from", "2026-12-01", "--days", "7"]) == 0
    out, err = capsys.readouterr()
    assert key in err and hint in err and "nothing" in err
    assert "未反映" in out  # the plan says runtime state is not included
    assert await run_cli(["schedule", "fire", MAIL, "--at", "2026-12-05"]) == 1
    err = capsys.readouterr().err
    assert key in err and hint in err
    assert await _fires(js) == []
    assert MARKER not in out + err

    await (await js.key_value("schedule_closures")).delete(key)
    assert await run_cli(["schedule", "plan", "--from", "2026-12-01", "--days", "7"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("cli_env")
async def test_reopen_removes_an_unreadable_closure(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    await (await js.key_value("schedule_closures")).put("closure.2027-02-18.2027-02-19", GARBAGE)
    assert await run_cli(["schedule", "reopen", "--from", "2027-02-18", "--to", "2027-02-19"]) == 0
    assert await run_cli(["schedule", "fire", MAIL, "--at", "2026-12-05"]) == 0
    assert await _fires(js) == [MAIL_SAT]


# --- schedule_state["trigger.<name>"]: rebuilt from the stream -----------------------------


async def test_get_gives_the_revision_of_an_unreadable_state(js: JetStreamContext) -> None:
    revision = await (await js.key_value("schedule_state")).put(f"trigger.{MAIL}", GARBAGE)
    with pytest.raises(SchedulerError) as raised:
        await (await StateStore.open(js)).get(MAIL)
    assert raised.value.revision == revision  # type: ignore[attr-defined]
    assert MARKER not in str(raised.value)


def _recording_saves(
    trigger: str, saves: list[tuple[TriggerState, int | None]]
) -> Callable[[Scheduler], None]:
    def patch(scheduler: Scheduler) -> None:
        store: StateStore = scheduler._state
        save = store.save

        async def recording(name: str, state: TriggerState, last: int | None) -> int:
            if name == trigger:
                saves.append((state, last))
            return await save(name, state, last)

        store.save = recording  # type: ignore[method-assign]

    return patch


async def test_an_unreadable_trigger_state_is_rebuilt_as_a_first_start_naming_the_last_fire(
    fresh_nats: NatsServer, js: JetStreamContext, logs: pytest.LogCaptureFixture
) -> None:
    """Handled through now (fail safe: what was due meanwhile, maybe a week staff skipped,
    is not mailed on a guess), written over the unreadable entry; the ERROR names the last
    fire so staff can check the plan and fire what is missing."""
    await publish(js, _fire(date(2026, 11, 28), jst(28, 9, month=11)))
    state_kv = await js.key_value("schedule_state")
    revision = await state_kv.put(f"trigger.{MAIL}", GARBAGE)

    saves: list[tuple[TriggerState, int | None]] = []
    replica = await start_replica(
        fresh_nats.url, "a", ManualClock(jst(5, 9, 30)), patch=_recording_saves(MAIL, saves)
    )
    await _until(replica, lambda: _handled(js, MAIL, jst(5, 9, 30)))
    await _until(replica, lambda: _initialised(js))  # the others go on

    assert await _fires(js) == [MAIL_PREV]  # the 09:00 mail is not fired on a guess
    [(rebuilt, over)] = saves
    assert over == revision  # compare-and-set over the unreadable entry
    assert (rebuilt.handled_through, rebuilt.last_occurrence) == (jst(5, 9, 30), MAIL_PREV)
    assert rebuilt.last_outcome == "init"
    [error] = _logged(logs, "scheduler.state_rebuilt")
    assert error.levelno == logging.ERROR
    assert (error.__dict__["trigger"], error.__dict__["revision"]) == (MAIL, revision)
    assert error.__dict__["last_fired"] == MAIL_PREV
    assert _no_payload_logged(logs)
    await replica.shutdown()


async def test_an_unreadable_trigger_state_without_a_fire_restarts_from_now(
    fresh_nats: NatsServer, js: JetStreamContext, logs: pytest.LogCaptureFixture
) -> None:
    await (await js.key_value("schedule_state")).put(f"trigger.{MAIL}", b"")

    replica = await start_replica(fresh_nats.url, "a", ManualClock(jst(5, 9)))
    await _until(replica, lambda: _initialised(js))

    state = await state_of(js, MAIL)
    assert state is not None and state.handled_through == jst(5, 9)
    assert state.last_outcome == "init"
    assert await _fires(js) == []  # like a first start: nothing from the past
    assert _logged(logs, "scheduler.state_rebuilt")
    await replica.shutdown()


async def test_a_rebuilt_state_does_not_fire_a_run_date_again(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    await publish(js, _fire(date(2026, 12, 5), jst(5, 9)))
    await (await js.key_value("schedule_state")).put(f"trigger.{MAIL}", GARBAGE)

    replica = await start_replica(fresh_nats.url, "a", ManualClock(jst(5, 9, 30)))
    await _until(replica, lambda: _initialised(js))

    state = await state_of(js, MAIL)
    assert state is not None and state.last_occurrence == MAIL_SAT
    assert await _fires(js) == [MAIL_SAT]
    await replica.shutdown()


# --- schedule_state["pause.<name>"]: counts as paused ------------------------------------


async def test_an_unreadable_pause_counts_as_paused(
    fresh_nats: NatsServer, js: JetStreamContext, logs: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(jst(5, 8, 59))
    replica = await start_replica(fresh_nats.url, "a", clock)
    await _until(replica, lambda: _initialised(js))
    await (await js.key_value("schedule_state")).put(f"pause.{MAIL}", GARBAGE)

    clock.set(jst(5, 10))
    await _until(replica, lambda: _handled(js, "daily-overdue", jst(5, 10)))  # others fire
    await _until(replica, lambda: _handled(js, MAIL, jst(5, 9)))

    state = await state_of(js, MAIL)
    assert state is not None and state.handled_through == jst(5, 9)
    assert state.last_outcome == "skipped"
    assert await _fires(js) == []
    assert await _fires(js, "daily-overdue") == ["daily-overdue:2026-12-05T10:00:00+09:00"]
    [error] = _logged(logs, "scheduler.pause_unreadable")
    assert error.levelno == logging.ERROR and error.__dict__["trigger"] == MAIL
    assert _no_payload_logged(logs)
    await replica.shutdown()


@pytest.mark.usefixtures("cli_env")
async def test_plan_shows_an_unreadable_pause_as_paused_and_resume_removes_it(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    await (await js.key_value("schedule_state")).put(f"pause.{MAIL}", GARBAGE)
    plan = ["schedule", "plan", "--from", "2026-12-05", "--days", "1", "--json"]

    assert await run_cli(plan) == 0
    out, err = capsys.readouterr()
    assert f"pause.{MAIL}" in err and f"otayori schedule resume {MAIL}" in err
    rows = [r for r in out.splitlines() if f'"{MAIL}"' in r]
    assert rows and all('"paused": true' in r for r in rows)

    assert await run_cli(["schedule", "resume", MAIL]) == 0
    assert capsys.readouterr().out == f"resumed\t{MAIL}\n"
    assert await run_cli(plan) == 0
    assert '"paused": true' not in capsys.readouterr().out
