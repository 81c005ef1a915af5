"""Catch-up after downtime as pure decisions with a given ``now``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.scheduler.calendar import (
    Action,
    Fire,
    Miss,
    Skip,
    Suspend,
    decide,
    due,
    fired_event,
    missed_event,
    suspended_event,
)

from .support import NEW_YEAR_2026, calendar, jst

SAT_0900 = jst(2026, 12, 5, 9)


def _decide(
    trigger: str, after: datetime, now: datetime, *, paused: bool = False, **kw: Any
) -> list[Action]:
    cal = calendar(NEW_YEAR_2026, **kw)
    spec = cal.trigger(trigger)
    return decide(due(spec, after, now, cal), now, spec, paused=paused)


def _kinds(actions: Sequence[object]) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_down_over_saturday_0900_back_at_1000_fires_the_mail_once() -> None:
    actions = _decide("weekly-loan-mail", jst(2026, 12, 4, 18), jst(2026, 12, 5, 10))
    assert actions == [Fire(actions[0].occurrence, coalesced=0, late=timedelta(hours=1))]
    assert actions[0].occurrence.nominal == SAT_0900


def test_saturday_mail_found_on_monday_is_missed_not_sent() -> None:
    actions = _decide("weekly-loan-mail", jst(2026, 12, 4, 18), jst(2026, 12, 7, 8))
    assert _kinds(actions) == ["Miss"]
    assert isinstance(actions[0], Miss) and "47h00m" in actions[0].reason


@pytest.mark.parametrize(
    ("now", "kind"),
    [
        pytest.param(SAT_0900, "Fire", id="on-time"),
        pytest.param(SAT_0900 + timedelta(hours=6), "Fire", id="grace-edge"),
        pytest.param(SAT_0900 + timedelta(hours=6, seconds=1), "Miss", id="past-grace"),
    ],
)
def test_grace_window_edge(now: datetime, kind: str) -> None:
    assert _kinds(_decide("weekly-loan-mail", SAT_0900 - timedelta(hours=1), now)) == [kind]


def test_grace_is_per_trigger_and_configurable() -> None:
    now = SAT_0900 + timedelta(hours=7)
    assert _kinds(
        _decide("weekly-loan-mail", SAT_0900 - timedelta(1), now, scheduler_loan_mail_grace="PT8H")
    ) == ["Fire"]


def test_daily_runs_missed_for_days_are_each_reported_and_the_fresh_one_fires() -> None:
    actions = _decide("daily-overdue", jst(2026, 12, 1, 12), jst(2026, 12, 4, 11))
    assert _kinds(actions) == ["Miss", "Miss", "Fire"]
    assert actions[-1].occurrence.id == "daily-overdue:2026-12-04T10:00:00+09:00"


def test_occurrences_inside_a_long_grace_coalesce_into_one_fire() -> None:
    actions = _decide(
        "daily-hold-ready",
        jst(2026, 12, 1, 9),
        jst(2026, 12, 4, 9),
        scheduler_hold_ready_grace="P3D",
    )
    assert _kinds(actions) == ["Skip", "Skip", "Fire"]
    fire = actions[-1]
    assert isinstance(fire, Fire) and fire.coalesced == 2
    assert all(isinstance(a, Skip) and a.reason == "coalesced" for a in actions[:-1])
    assert fired_event(fire.occurrence, jst(2026, 12, 4, 9), coalesced=2).coalesced == 2


def test_a_suspended_week_reports_suspension_instead_of_cutoff_and_mail() -> None:
    cutoff = _decide("weekly-cutoff", jst(2026, 12, 30), jst(2026, 12, 31, 8, 30))
    mail = _decide("weekly-loan-mail", jst(2027, 1, 1), jst(2027, 1, 2, 9))
    assert _kinds(cutoff) == _kinds(mail) == ["Suspend"]
    assert isinstance(cutoff[0], Suspend) and cutoff[0].reason == "年末年始"


def test_one_service_suspended_event_per_week_whichever_trigger_reports_it() -> None:
    cutoff = _decide("weekly-cutoff", jst(2026, 12, 30), jst(2026, 12, 31, 8, 30))[0]
    mail = _decide("weekly-loan-mail", jst(2027, 1, 1), jst(2027, 1, 2, 9))[0]
    now = jst(2027, 1, 2, 9)
    a = suspended_event(cutoff.occurrence, now, "年末年始")
    b = suspended_event(mail.occurrence, now, "年末年始")
    assert a.event_id == b.event_id == "suspended:batch-2026-12-31"
    assert a.trigger == "weekly-cutoff" and b.trigger == "weekly-loan-mail"


def test_closed_daily_runs_are_skipped_not_missed() -> None:
    actions = _decide("daily-overdue", jst(2026, 12, 28, 11), jst(2027, 1, 4, 11))
    assert _kinds(actions) == ["Skip"] * 6 + ["Fire"]


def test_a_paused_trigger_skips_its_occurrences() -> None:
    actions = _decide("weekly-loan-mail", jst(2026, 12, 4), jst(2026, 12, 5, 9), paused=True)
    assert actions == [Skip(actions[0].occurrence, "paused")]


def test_a_suspended_week_is_reported_even_while_paused() -> None:
    actions = _decide("weekly-cutoff", jst(2026, 12, 30), jst(2026, 12, 31, 9), paused=True)
    assert _kinds(actions) == ["Suspend"]


def test_nothing_due_means_nothing_to_do() -> None:
    assert _decide("weekly-loan-mail", SAT_0900, SAT_0900 + timedelta(days=1)) == []


def test_event_ids_never_collide_across_kinds() -> None:
    occ = _decide("weekly-loan-mail", SAT_0900 - timedelta(1), SAT_0900)[0].occurrence
    now = SAT_0900
    forced = fired_event(occ, now, forced=True)
    assert fired_event(occ, now).event_id == occ.id
    assert missed_event(occ, now, "x").event_id == f"missed:{occ.id}"
    assert forced.event_id.startswith(f"{occ.id}:forced:") and forced.forced
    assert forced.occurrence_id == occ.id
