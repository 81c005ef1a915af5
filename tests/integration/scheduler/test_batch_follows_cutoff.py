"""The Saturday mail of a batch follows what the batch's Thursday cutoff did, as the SCHEDULE
stream records it, not the closures as they are on Saturday; only without a record of the
cutoff do the closures decide. One ServiceSuspended per suspended week, whoever reports it.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from nats.js import JetStreamContext

from services.scheduler.calendar import occurrence_at, suspended_event
from services.scheduler.calendar.model import no_holidays
from services.scheduler.settings import SchedulerSettings
from services.scheduler.triggers import build_calendar
from shared.bus.publish import MSG_ID, encode
from shared.clock import JST, ManualClock
from shared.contracts.schedule import TRIGGER_NAMES, ServiceSuspended, TriggerFired
from tests.support.nats import wait_for
from tools.localservers import NatsServer

from .replicas import (
    CALENDAR,
    Replica,
    all_initialised,
    run_cli,
    schedule_events,
    start_replica,
    state_of,
)

CUTOFF, MAIL = "weekly-cutoff", "weekly-loan-mail"
CUTOFF_THU = "weekly-cutoff:2026-12-10T08:30:00+09:00"
MAIL_SAT = "weekly-loan-mail:2026-12-12T09:00:00+09:00"
BATCH = "batch-2026-12-10"
CLOSE_THU = [
    "schedule",
    "close",
    "--from",
    "2026-12-10",
    "--to",
    "2026-12-10",
    "--reason",
    "臨時休館",
]
REOPEN_THU = ["schedule", "reopen", "--from", "2026-12-10", "--to", "2026-12-10"]
TAKEOVER = 40.0


def jst(d: int, h: int, mi: int = 0) -> datetime:
    return datetime(2026, 12, d, h, mi, tzinfo=JST)


@pytest.fixture(autouse=True)
def _cli_env(monkeypatch: pytest.MonkeyPatch, fresh_nats: NatsServer) -> None:
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(CALENDAR))
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)


async def _handled(js: JetStreamContext, trigger: str, through: datetime) -> bool:
    state = await state_of(js, trigger)
    return state is not None and state.handled_through >= through


async def _start(url: str, js: JetStreamContext, now: datetime) -> tuple[ManualClock, Replica]:
    clock = ManualClock(now)
    replica = await start_replica(url, "a", clock)
    await wait_for(lambda: all_initialised(js, TRIGGER_NAMES), timeout=TAKEOVER)
    return clock, replica


async def _run_to(js: JetStreamContext, clock: ManualClock, trigger: str, at: datetime) -> None:
    clock.set(at)
    await wait_for(lambda: _handled(js, trigger, at), timeout=TAKEOVER)


async def _batch_events(js: JetStreamContext) -> list[tuple[str, str, str]]:
    """(kind, occurrence, batch) of the weekly batch triggers' fires and suspensions."""
    found: list[TriggerFired | ServiceSuspended] = [
        *await schedule_events(js, f"schedule.fired.{CUTOFF}"),
        *await schedule_events(js, f"schedule.fired.{MAIL}"),
        *await schedule_events(js, "schedule.suspended"),
    ]
    return [
        (type(e).__name__, e.occurrence_id, e.batch.batch_id if e.batch else "-") for e in found
    ]


async def _outcome(js: JetStreamContext, trigger: str) -> str | None:
    state = await state_of(js, trigger)
    return state.last_outcome if state else None


async def test_a_thursday_reopened_on_friday_gets_no_saturday_mail(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    clock, replica = await _start(fresh_nats.url, js, jst(9, 12))
    assert await run_cli(CLOSE_THU) == 0
    await _run_to(js, clock, CUTOFF, jst(10, 8, 30))
    assert await run_cli(REOPEN_THU) == 0  # Friday: too late, the items were not processed
    await _run_to(js, clock, MAIL, jst(12, 9))

    assert await _batch_events(js) == [("ServiceSuspended", CUTOFF_THU, BATCH)]
    assert await _outcome(js, MAIL) == "suspended"
    await replica.shutdown()


async def test_a_thursday_closed_after_its_cutoff_fired_still_gets_the_saturday_mail(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    clock, replica = await _start(fresh_nats.url, js, jst(9, 12))
    await _run_to(js, clock, CUTOFF, jst(10, 8, 30))
    assert await run_cli(CLOSE_THU) == 0  # Friday: the items were processed on Thursday
    await _run_to(js, clock, MAIL, jst(12, 9))

    assert await _batch_events(js) == [
        ("TriggerFired", CUTOFF_THU, BATCH),
        ("TriggerFired", MAIL_SAT, BATCH),
    ]
    assert await _outcome(js, MAIL) == "fired"
    await replica.shutdown()


@pytest.mark.parametrize(
    ("closed", "expected", "outcome"),
    [
        pytest.param(True, [("ServiceSuspended", MAIL_SAT, BATCH)], "suspended", id="closed"),
        pytest.param(False, [("TriggerFired", MAIL_SAT, BATCH)], "fired", id="open"),
    ],
)
async def test_without_a_record_of_the_cutoff_the_closures_decide(
    fresh_nats: NatsServer,
    js: JetStreamContext,
    closed: bool,
    expected: list[tuple[str, str, str]],
    outcome: str,
) -> None:
    # First start on Friday: the stream holds nothing of Thursday's cutoff.
    clock, replica = await _start(fresh_nats.url, js, jst(11, 12))
    if closed:
        assert await run_cli(CLOSE_THU) == 0
    await _run_to(js, clock, MAIL, jst(12, 9))

    assert await _batch_events(js) == expected
    assert await _outcome(js, MAIL) == outcome
    await replica.shutdown()


async def test_a_week_reported_suspended_is_not_reported_again_beyond_the_duplicate_window(
    fresh_nats: NatsServer, js: JetStreamContext
) -> None:
    clock, replica = await _start(fresh_nats.url, js, jst(11, 12))
    assert await run_cli(CLOSE_THU) == 0
    # The cutoff's report, stored under an id the duplicate window no longer remembers.
    cal = build_calendar(SchedulerSettings.model_validate({}), (), no_holidays)
    cutoff = occurrence_at(cal.trigger(CUTOFF), jst(10, 8, 30), cal)
    event = suspended_event(cutoff, jst(10, 8, 30), "臨時休館")
    await js.publish(event.subject(), encode(event), headers={MSG_ID: "window-expired"})
    await _run_to(js, clock, MAIL, jst(12, 9))

    assert await _batch_events(js) == [("ServiceSuspended", CUTOFF_THU, BATCH)]
    assert await _outcome(js, MAIL) == "suspended"
    await replica.shutdown()
