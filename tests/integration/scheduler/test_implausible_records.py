"""Records that validate but cannot be true (found by a review of the unreadable-records
work): a stored time at the ends of ``datetime``, a fire of an occurrence still to come, a
fire whose run date is not its nominal time's day, and a rebuild that must not mail a week
staff skipped. Real nats-server; garbage written with raw publishes and KV puts."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from nats.js import JetStreamContext

from services.scheduler.calendar import fired_event, occurrence_at
from services.scheduler.calendar.holidays_jp import JapaneseHolidays
from services.scheduler.calendar_file import load_calendar_file
from services.scheduler.errors import UnreadableRecord
from services.scheduler.records import PauseRecord
from services.scheduler.settings import SchedulerSettings
from services.scheduler.store import StateStore
from services.scheduler.triggers import build_calendar
from shared.bus.publish import publish
from shared.clock import JST, ManualClock
from shared.contracts.schedule import TriggerFired
from tests.support.nats import wait_for
from tools.localservers import NatsServer

from .replicas import (
    CALENDAR,
    Replica,
    all_initialised,
    fired_ids,
    run_cli,
    start_replica,
    state_of,
)

MAIL = "weekly-loan-mail"
MAIL_SAT = "weekly-loan-mail:2026-12-05T09:00:00+09:00"


def jst(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST)


def _fire(day: date, now: datetime) -> TriggerFired:
    settings = SchedulerSettings.model_validate({"scheduler_calendar_file": CALENDAR})
    cal = build_calendar(settings, load_calendar_file(CALENDAR), JapaneseHolidays())
    return fired_event(occurrence_at(cal.trigger(MAIL), day, cal), now)


def _state(handled_through: str) -> bytes:
    record = {
        "handled_through": handled_through,
        "last_occurrence": None,
        "last_outcome": "fired",
        "by": "other",
        "lease_revision": 0,
        "updated_at": "2026-12-01T00:00:00+09:00",
    }
    return json.dumps(record).encode()


async def _handled(js: JetStreamContext, trigger: str, through: datetime, r: Replica) -> bool:
    assert not r.task.done(), f"the engine loop ended: {r.task.exception()!r}"
    try:
        state = await state_of(js, trigger)
    except UnreadableRecord:
        return False  # not rebuilt yet
    # Written by the replica (the records planted here are by "other").
    return state is not None and state.by != "other" and state.handled_through >= through


@pytest.mark.parametrize(
    "through",
    [
        "9999-12-31T23:00:00+00:00",  # overflowed the calendar's arithmetic
        "0001-01-01T00:00:00+09:00",  # a catch-up over two thousand years
        "2001-01-01T00:00:00+09:00",  # in range, but not believable
        "2027-06-01T00:00:00+09:00",  # nothing would fire until then
    ],
)
async def test_a_state_that_cannot_be_true_is_rebuilt_and_the_week_goes_on(
    fresh_nats: NatsServer, js: JetStreamContext, through: str
) -> None:
    await (await js.key_value("schedule_state")).put(f"trigger.{MAIL}", _state(through))
    clock = ManualClock(jst(5, 8, 59))
    replica = await start_replica(fresh_nats.url, "a", clock)
    await wait_for(lambda: _handled(js, MAIL, jst(5, 8, 59), replica))
    clock.set(jst(5, 9, 1))
    await wait_for(lambda: _handled(js, MAIL, jst(5, 9), replica))
    assert await fired_ids(js) == [MAIL_SAT]
    await replica.shutdown()


@pytest.mark.parametrize("through", ["9999-12-31T23:00:00+00:00", "0001-01-01T00:00:00+09:00"])
async def test_status_reports_a_stored_time_at_the_ends_of_datetime(
    fresh_nats: NatsServer,
    js: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    through: str,
) -> None:
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(CALENDAR))
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)
    monkeypatch.setenv("OTAYORI_CLOCK_START", "2026-12-07T12:00:00+09:00")
    await (await js.key_value("schedule_state")).put(f"trigger.{MAIL}", _state(through))
    assert await run_cli(["schedule", "status", "--json"]) == 0
    assert '"state": "unreadable"' in capsys.readouterr().out
    assert await run_cli(["schedule", "status"]) == 0


async def test_a_fire_of_an_occurrence_still_to_come_is_not_believed(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    """A rebuild does not take a fire of next year's occurrence (``schedule fire`` with a
    demo clock ahead, another client) as the one handled last."""
    await publish(js, _fire(date(2026, 11, 28), jst(28, 9, month=11)))
    await publish(js, _fire(date(2027, 12, 4), jst(28, 10, month=11)))
    await (await js.key_value("schedule_state")).put(f"trigger.{MAIL}", b"garbage")
    clock = ManualClock(jst(5, 8, 59))
    replica = await start_replica(fresh_nats.url, "a", clock)
    await wait_for(lambda: _handled(js, MAIL, jst(5, 8, 59), replica))
    clock.set(jst(5, 9, 1))
    await wait_for(lambda: _handled(js, MAIL, jst(5, 9), replica))
    assert MAIL_SAT in await fired_ids(js)
    await replica.shutdown()


async def test_a_fire_whose_run_date_is_not_its_days_does_not_stand_for_that_day(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    """Last week's occurrence with this Saturday's run date: not a fire record, so this
    Saturday's mail is not taken as already sent."""
    odd = _fire(date(2026, 11, 28), jst(28, 9, month=11)).model_copy(
        update={"run_date": date(2026, 12, 5)}
    )
    await js.publish(f"schedule.fired.{MAIL}", odd.model_dump_json().encode())
    clock = ManualClock(jst(5, 8, 59))
    replica = await start_replica(fresh_nats.url, "a", clock)
    await wait_for(lambda: all_initialised(js, (MAIL,)))
    clock.set(jst(5, 9, 1))
    await wait_for(lambda: _handled(js, MAIL, jst(5, 9), replica))
    assert (await fired_ids(js)).count(MAIL_SAT) == 1
    await replica.shutdown()


async def test_a_rebuild_does_not_mail_a_week_staff_skipped(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    """Paused over Saturday 09:00 (the week skipped), resumed, then the state unreadable
    when a replica starts at 10:00: a skip leaves no trace in the stream, so the rebuild
    starts from now, as a first start does, and the week stays unmailed."""
    await publish(js, _fire(date(2026, 11, 28), jst(28, 9, month=11)))
    clock = ManualClock(jst(5, 8, 59))
    first = await start_replica(fresh_nats.url, "a", clock)
    await wait_for(lambda: all_initialised(js, (MAIL, "daily-overdue")))
    store = await StateStore.open(js)
    await store.pause(MAIL, PauseRecord(paused_at=jst(5, 8, 59), by="staff@host", note="手動"))
    clock.set(jst(5, 9))
    await wait_for(lambda: _handled(js, MAIL, jst(5, 9), first))
    state = await state_of(js, MAIL)
    assert state is not None and state.last_outcome == "skipped"
    await first.shutdown()

    await store.resume(MAIL)  # "fires again from its next occurrence"
    await (await js.key_value("schedule_state")).put(f"trigger.{MAIL}", b"garbage")
    second = await start_replica(fresh_nats.url, "b", ManualClock(jst(5, 10)))
    await wait_for(lambda: _handled(js, MAIL, jst(5, 10), second))
    assert MAIL_SAT not in await fired_ids(js)
    await second.shutdown()
