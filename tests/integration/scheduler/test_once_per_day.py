"""A trigger fires once per JST run date (once per batch for the weekly ones), whoever fires
it and however long after, unless forced: the engine and ``otayori schedule fire`` both ask
the SCHEDULE stream, not only its 8-day duplicate window."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime, time

import pytest
from nats.js import JetStreamContext

from services.scheduler.calendar import fired_event, occurrence_at
from services.scheduler.calendar.model import no_holidays
from services.scheduler.engine import Scheduler
from services.scheduler.settings import SchedulerSettings
from services.scheduler.triggers import build_calendar
from shared.bus.publish import MSG_ID, encode, publish
from shared.clock import JST, ManualClock
from shared.contracts.schedule import TRIGGER_NAMES, TriggerFired
from tests.support.nats import wait_for
from tools.localservers import NatsServer

from .replicas import (
    CALENDAR,
    all_initialised,
    fired_ids,
    run_cli,
    schedule_events,
    start_replica,
    state_of,
)

SATURDAY = date(2026, 12, 5)
MAIL_SAT = "weekly-loan-mail:2026-12-05T09:00:00+09:00"
MAIL_SAT_10 = "weekly-loan-mail:2026-12-05T10:00:00+09:00"
OVERDUE_SAT = "daily-overdue:2026-12-05T10:00:00+09:00"
TAKEOVER = 40.0

#: Later than every occurrence these tests fire by hand.
AFTER_THE_WEEKS = "2027-01-10T12:00:00+09:00"


def jst(d: int, h: int, mi: int = 0) -> datetime:
    return datetime(2026, 12, d, h, mi, tzinfo=JST)


def fired(trigger: str, day: date) -> TriggerFired:
    cal = build_calendar(SchedulerSettings.model_validate({}), (), no_holidays)
    return fired_event(occurrence_at(cal.trigger(trigger), day, cal), jst(1, 12))


async def publish_beyond_the_window(js: JetStreamContext, event: TriggerFired) -> None:
    """Store ``event`` as if it had been published more than 8 days ago: the stream holds it,
    but its duplicate window no longer remembers the Nats-Msg-Id."""
    headers = {MSG_ID: f"{event.event_id}:window-expired"}
    await js.publish(event.subject(), encode(event), headers=headers)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, fresh_nats: NatsServer) -> None:
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(CALENDAR))
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)
    # The CLI's clock (as the services'): the occurrences fired here are due by then.
    monkeypatch.setenv("OTAYORI_CLOCK_START", AFTER_THE_WEEKS)


@pytest.mark.usefixtures("cli_env")
async def test_a_second_fire_after_the_duplicate_window_prints_duplicate(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    await publish_beyond_the_window(js, fired("weekly-loan-mail", SATURDAY))
    fire = ["schedule", "fire", "weekly-loan-mail", "--at", "2026-12-05"]
    assert await run_cli(fire) == 0
    assert capsys.readouterr().out.split("\t")[:2] == ["duplicate", MAIL_SAT]
    assert await fired_ids(js) == [MAIL_SAT]

    assert await run_cli([*fire, "--force"]) == 0  # --force keeps its meaning: a re-run
    assert capsys.readouterr().out.startswith("forced\t")
    events: list[TriggerFired] = await schedule_events(js, "schedule.fired.>")
    assert [e.forced for e in events] == [False, True]


@pytest.mark.usefixtures("cli_env")
async def test_fire_after_the_time_setting_changed_prints_duplicate_for_that_day(
    js: JetStreamContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fire = ["schedule", "fire", "weekly-loan-mail", "--at", "2026-12-05"]
    assert await run_cli(fire) == 0
    monkeypatch.setenv("OTAYORI_SCHEDULER_LOAN_MAIL_TIME", "10:00")
    assert await run_cli(fire) == 0
    out = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert out == [["fired", MAIL_SAT, MAIL_SAT], ["duplicate", MAIL_SAT_10, MAIL_SAT]]
    assert await fired_ids(js) == [MAIL_SAT]


async def _handled(js: JetStreamContext, trigger: str, through: datetime) -> bool:
    state = await state_of(js, trigger)
    return state is not None and state.handled_through >= through


async def test_the_engine_does_not_fire_what_was_fired_by_hand_beyond_the_window(
    fresh_nats: NatsServer, js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.scheduler.engine")
    clock = ManualClock(jst(5, 9, 30))
    replica = await start_replica(fresh_nats.url, "a", clock)
    await wait_for(lambda: all_initialised(js, TRIGGER_NAMES), timeout=TAKEOVER)
    # `schedule fire daily-overdue --at 2026-12-05`, run more than 8 days before that day
    await publish_beyond_the_window(js, fired("daily-overdue", SATURDAY))

    clock.set(jst(5, 10))
    await wait_for(lambda: _handled(js, "daily-overdue", jst(5, 10)), timeout=TAKEOVER)
    assert Counter(await fired_ids(js)) == Counter({OVERDUE_SAT: 1})
    assert replica.fired("daily-overdue") == 0
    assert any(r.message == "scheduler.already_fired" for r in caplog.records)
    state = await state_of(js, "daily-overdue")
    assert state is not None and state.last_outcome == "fired"
    await replica.shutdown()


async def test_a_changed_time_setting_does_not_fire_the_same_batch_again(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    clock = ManualClock(jst(5, 8, 59))
    first = await start_replica(fresh_nats.url, "first", clock)
    await wait_for(lambda: all_initialised(js, TRIGGER_NAMES), timeout=TAKEOVER)
    clock.set(jst(5, 9))
    await wait_for(lambda: _handled(js, "weekly-loan-mail", jst(5, 9)), timeout=TAKEOVER)
    await first.shutdown()

    # OTAYORI_SCHEDULER_LOAN_MAIL_TIME 09:00 -> 10:00, restarted at 10:00 the same Saturday
    second = await start_replica(
        fresh_nats.url, "second", ManualClock(jst(5, 10)), scheduler_loan_mail_time=time(10, 0)
    )
    await wait_for(lambda: _handled(js, "weekly-loan-mail", jst(5, 10)), timeout=TAKEOVER)
    await wait_for(lambda: _handled(js, "daily-overdue", jst(5, 10)), timeout=TAKEOVER)
    assert Counter(await fired_ids(js)) == Counter({MAIL_SAT: 1, OVERDUE_SAT: 1})
    assert second.fired("weekly-loan-mail") == 0
    await second.shutdown()


def _no_stream_check(scheduler: Scheduler) -> None:
    async def nothing_fired(trigger: str, run_date: date) -> TriggerFired | None:
        return None

    scheduler._bus.fired_on = nothing_fired  # type: ignore[method-assign]


async def test_the_fired_metric_does_not_count_a_publish_the_stream_dropped(
    fresh_nats: NatsServer, js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.scheduler.engine")
    clock = ManualClock(jst(5, 9, 30))
    replica = await start_replica(fresh_nats.url, "a", clock, patch=_no_stream_check)
    await wait_for(lambda: all_initialised(js, TRIGGER_NAMES), timeout=TAKEOVER)
    await publish(js, fired("daily-overdue", SATURDAY))  # same Nats-Msg-Id as the engine's

    clock.set(jst(5, 10))
    await wait_for(lambda: _handled(js, "daily-overdue", jst(5, 10)), timeout=TAKEOVER)
    assert await fired_ids(js) == [OVERDUE_SAT]
    assert replica.fired("daily-overdue") == 0
    assert any(r.message == "scheduler.fired_duplicate" for r in caplog.records)
    await replica.shutdown()
