"""``plan``, ``status`` and ``fire`` show and do what the engine decides for a Saturday
mail: it follows what its batch's Thursday cutoff did (the SCHEDULE stream), not the
closures as they are now. Here the cutoff fired on Thursday and a closure of that Thursday
was added on Friday: the mail still goes out."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from nats.js import JetStreamContext

from services.scheduler.calendar import fired_event, occurrence_at, suspended_event
from services.scheduler.calendar.model import no_holidays
from services.scheduler.settings import SchedulerSettings
from services.scheduler.triggers import build_calendar
from shared.bus.provision import provision
from shared.bus.publish import MSG_ID, encode
from shared.clock import JST
from tools.localservers import NatsServer

from .replicas import CALENDAR, run_cli

SATURDAY = "weekly-loan-mail:2026-12-12T09:00:00+09:00"


@pytest.fixture(autouse=True)
def _cli_env(monkeypatch: pytest.MonkeyPatch, fresh_nats: NatsServer) -> None:
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(CALENDAR))
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)
    monkeypatch.setenv("OTAYORI_CLOCK_START", "2026-12-12T10:00:00+09:00")


async def _cutoff_fired_then_thursday_closed(js: JetStreamContext) -> None:
    await provision(js)
    cal = build_calendar(SchedulerSettings(), (), no_holidays)
    thursday = datetime(2026, 12, 10, 8, 30, tzinfo=JST)
    event = fired_event(occurrence_at(cal.trigger("weekly-cutoff"), thursday, cal), thursday)
    await js.publish(event.subject(), encode(event), headers={MSG_ID: event.event_id})
    close = ["close", "--from", "2026-12-10", "--to", "2026-12-10", "--reason", "臨時休館"]
    assert await run_cli(["schedule", *close]) == 0


async def test_plan_shows_the_mail_of_a_batch_whose_cutoff_fired(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    await _cutoff_fired_then_thursday_closed(js)
    capsys.readouterr()
    argv = ["schedule", "plan", "--from", "2026-12-12", "--days", "1", "--json"]
    assert await run_cli(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (mail,) = [r for r in rows if r["occurrence_id"] == SATURDAY]
    assert (mail["suspended"], mail["fires"]) == (False, True)


async def test_fire_accepts_the_mail_of_a_batch_whose_cutoff_fired(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    await _cutoff_fired_then_thursday_closed(js)
    capsys.readouterr()
    argv = ["schedule", "fire", "weekly-loan-mail", "--at", "2026-12-12"]
    assert await run_cli(argv) == 0
    assert capsys.readouterr().out.split("\t")[1] == SATURDAY


async def test_status_names_the_mail_of_a_batch_whose_cutoff_fired_as_next(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _cutoff_fired_then_thursday_closed(js)
    monkeypatch.setenv("OTAYORI_CLOCK_START", "2026-12-11T12:00:00+09:00")  # Friday
    capsys.readouterr()
    assert await run_cli(["schedule", "status", "--json"]) == 0
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (mail,) = [o for o in objects if o.get("trigger") == "weekly-loan-mail"]
    assert datetime.fromisoformat(mail["next_fire"]) == datetime(2026, 12, 12, 9, 0, tzinfo=JST)


async def test_fire_of_a_mail_whose_cutoff_was_suspended_says_what_lifts_it(
    js: JetStreamContext, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a review: it said "reopen the days", which changes nothing once the
    week's suspension is recorded (the Thursday may be open again already)."""
    await provision(js)
    cal = build_calendar(SchedulerSettings(), (), no_holidays)
    thursday = datetime(2026, 12, 10, 8, 30, tzinfo=JST)
    cutoff = occurrence_at(cal.trigger("weekly-cutoff"), thursday, cal)
    event = suspended_event(cutoff, thursday, "臨時休館")
    await js.publish(event.subject(), encode(event), headers={MSG_ID: event.event_id})
    capsys.readouterr()
    argv = ["schedule", "fire", "weekly-loan-mail", "--at", "2026-12-12"]
    assert await run_cli(argv) == 1
    err = capsys.readouterr().err
    assert "reopen the days" not in err
    assert "otayori schedule fire weekly-cutoff --at 2026-12-10 --force" in err
