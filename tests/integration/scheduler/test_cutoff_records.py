"""``ScheduleBus`` reads what each batch's cutoff did from the SCHEDULE stream, so that the
plan and status can show the decision the engine takes for the Saturday mail."""

from __future__ import annotations

import logging
from datetime import date, datetime

import pytest
from nats.js import JetStreamContext

from services.scheduler.bus import ScheduleBus
from services.scheduler.calendar import (
    Calendar,
    Closure,
    CutoffRecord,
    fired_event,
    occurrence_at,
    occurrences,
    suspended_event,
)
from services.scheduler.calendar.model import no_holidays
from services.scheduler.settings import SchedulerSettings
from services.scheduler.triggers import build_calendar
from shared.bus.publish import publish
from shared.clock import JST

FIRED_THU, SUSPENDED_THU, SILENT_THU = date(2026, 12, 3), date(2026, 12, 10), date(2026, 12, 17)


def jst(d: int, h: int, mi: int = 0) -> datetime:
    return datetime(2026, 12, d, h, mi, tzinfo=JST)


def _calendar(*closures: Closure) -> Calendar:
    return build_calendar(SchedulerSettings.model_validate({}), closures, no_holidays)


async def _record_the_cutoffs(js: JetStreamContext) -> None:
    """The cutoff of 12-03 fired, that of 12-10 was suspended, that of 12-17 left nothing."""
    cal = _calendar()
    spec = cal.trigger("weekly-cutoff")
    await publish(js, fired_event(occurrence_at(spec, FIRED_THU, cal), jst(3, 8, 30)))
    suspended = occurrence_at(spec, SUSPENDED_THU, cal)
    await publish(js, suspended_event(suspended, jst(10, 8, 30), "臨時休館"))


async def test_cutoff_records_say_what_each_recorded_cutoff_did(js: JetStreamContext) -> None:
    await _record_the_cutoffs(js)
    found = await ScheduleBus(js).cutoff_records(
        "weekly-cutoff", (FIRED_THU, SUSPENDED_THU, SILENT_THU)
    )
    assert found == (CutoffRecord(FIRED_THU), CutoffRecord(SUSPENDED_THU, "臨時休館"))


async def test_a_calendar_with_the_records_shows_the_engine_s_decision(
    js: JetStreamContext,
) -> None:
    await _record_the_cutoffs(js)
    # Since then: 12-03 closed (after its cutoff fired), 12-10 reopened, 12-17 closed.
    cal = _calendar(
        Closure(FIRED_THU, FIRED_THU, "臨時休館"), Closure(SILENT_THU, SILENT_THU, "蔵書点検")
    )
    start, end = jst(1, 0), jst(20, 0)
    cal = await ScheduleBus(js).with_cutoff_records(cal, occurrences(start, end, cal))
    mails = occurrences(start, end, cal, (cal.trigger("weekly-loan-mail"),))
    assert [(o.run_date.isoformat(), o.suppressed_by) for o in mails] == [
        ("2026-12-05", None),  # its cutoff fired: the items were processed
        ("2026-12-12", "臨時休館"),  # its cutoff was suspended
        ("2026-12-19", "蔵書点検"),  # no record: the closures decide
    ]


async def test_an_unreadable_suspension_is_no_record_and_is_logged(
    js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="services.scheduler.bus")
    await js.publish("schedule.suspended", b"\xff{not json")
    bus = ScheduleBus(js)
    assert await bus.suspended_for(SUSPENDED_THU) is None
    assert await bus.cutoff_records("weekly-cutoff", (SUSPENDED_THU,)) == ()
    warnings = [r for r in caplog.records if r.message == "scheduler.suspended_unreadable"]
    assert warnings and all("not json" not in str(vars(r)) for r in warnings)  # no payload
