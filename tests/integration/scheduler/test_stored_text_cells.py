"""A closure reason an older version stored with a line break (read back as written) stays
in one cell of the staff tables of ``plan`` and ``status`` (found by a review)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from nats.js import JetStreamContext

from services.scheduler.records import RuntimeClosure
from services.scheduler.store import ClosureStore
from shared.bus.provision import provision
from tools.localservers import NatsServer

from .replicas import CALENDAR, run_cli


async def test_a_stored_reason_with_a_line_break_stays_on_its_row(
    fresh_nats: NatsServer,
    js: JetStreamContext,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTAYORI_SCHEDULER_CALENDAR_FILE", str(CALENDAR))
    monkeypatch.setenv("OTAYORI_NATS_URL", fresh_nats.url)
    monkeypatch.setenv("OTAYORI_CLOCK_START", "2026-12-09T12:00:00+09:00")
    await provision(js)
    day = date(2026, 12, 10)
    stored = RuntimeClosure(
        start=day, end=day, reason="臨時休館\n（空調工事）", added_at=datetime.now(UTC), by="old"
    )
    await (await ClosureStore.open(js)).add(stored)
    for argv in (["plan", "--from", "2026-12-10", "--days", "1"], ["status"]):
        capsys.readouterr()
        assert await run_cli(["schedule", *argv]) == 0
        lines = [line for line in capsys.readouterr().out.splitlines() if "空調工事" in line]
        assert lines and all("臨時休館 （空調工事）" in line for line in lines), lines
